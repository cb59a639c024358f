"""An engagement's row straight to its JSON-ready state, what `Engagement.snapshot()` of the
aggregate loaded from that row gives, key for key and in the same order.

`RowMapper.state_from_row` (tansiq_common.codec) converts scalar columns directly but takes
every nested value (title, participants, themes, the report, action items...) through the typed
dataclass and the generic `to_json` and back: for an engagement, whose state is mostly such
values, slower than loading the aggregate (about 170 against 130 µs for a full one). The
columns hold JSON written from the same fields, so here each type gets a function from JSON to
its JSON form, built once from the type hints: a dataclass's fields in declaration order, a
missing one given its default, enums checked, times re-read and written in ISO form, sets
sorted without repeats; a type it does not know goes through the typed value as before.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

from tansiq_common.codec import converter, state_fields, to_json

from tansiq_engagements.engagements.model import Engagement

Normaliser = Callable[[Any], Any]
_BUILT: dict[Any, Normaliser] = {}


def json_form(tp: Any) -> Normaliser:
    """The function giving `to_json(from_json(tp, value))` for a column's (or JSON) value,
    built once per type; None stays None, as the codec's converters leave it."""
    found = _BUILT.get(tp)
    if found is None:
        inner = _build(tp)
        found = _BUILT[tp] = lambda value: None if value is None else inner(value)
    return found


def _build(tp: Any) -> Normaliser:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return json_form(options[0])
    elif origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if len(args) == 1:
            item = json_form(args[0])
            return lambda value: [item(v) for v in value]
    elif origin in (frozenset, set):
        (member,) = typing.get_args(tp)
        if member in (str, int):
            # The set the converter builds, then sorted as to_json sorts it.
            convert = converter(member)
            return lambda value: sorted({convert(v) for v in value})
    elif origin is None and isinstance(tp, type):
        if issubclass(tp, Enum):
            values = {member.value: member.value for member in tp}

            def enum_value(value: Any) -> Any:
                try:
                    return values[value]
                except (KeyError, TypeError):  # a member itself, or no member's value
                    return tp(value).value

            return enum_value
        if tp is str:
            return lambda value: value if type(value) is str else str(value)
        if tp in (int, bool, float):
            return lambda value: value if type(value) is tp else tp(value)
        if tp is datetime:
            return lambda value: (
                value if isinstance(value, datetime) else datetime.fromisoformat(value)
            ).isoformat()
        if tp is date:
            return lambda value: (
                value if isinstance(value, date) else date.fromisoformat(value)
            ).isoformat()
        if dataclasses.is_dataclass(tp):
            return _dataclass(tp)
    typed = converter(tp)
    return lambda value: to_json(typed(value))


_MISSING = object()


def _dataclass(tp: type) -> Normaliser:
    """A dataclass's JSON object: its fields in order; one the JSON lacks takes its default (a
    required one the JSON lacks fails, as building the dataclass does)."""
    declared = {f.name: f for f in dataclasses.fields(tp)}
    parts: list[tuple[str, Normaliser, Callable[[], Any] | None]] = []
    for name, hint in state_fields(tp):
        spec = declared[name]
        default: Callable[[], Any] | None = None
        if spec.default is not dataclasses.MISSING:
            encoded = to_json(spec.default)
            default = lambda encoded=encoded: encoded  # noqa: E731 - bound per field
        elif spec.default_factory is not dataclasses.MISSING:
            factory = spec.default_factory
            default = lambda factory=factory: to_json(factory())  # noqa: E731
        parts.append((name, json_form(hint), default))

    def form(value: Any) -> Any:
        out: dict[str, Any] = {}
        for name, normalise, default in parts:
            found = value.get(name, _MISSING)
            if found is not _MISSING:
                out[name] = normalise(found)
            elif default is not None:
                out[name] = default()
            else:
                raise TypeError(f"{tp.__name__} lacks {name}")
        return out

    return form


# The engagement's columns, in the order of its state.
COLUMNS: tuple[str, ...] = tuple(name for name, _ in state_fields(Engagement))
_FIELDS: tuple[tuple[str, Normaliser], ...] = tuple(
    (name, json_form(hint)) for name, hint in state_fields(Engagement)
)


def state_of_row(row: Any) -> dict[str, Any]:
    """The JSON-ready state of the engagement `row` (a record with the columns of COLUMNS)."""
    return {name: form(row[name]) for name, form in _FIELDS}
