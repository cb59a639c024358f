"""An engagement's row straight to its JSON-ready state, what `Engagement.snapshot()` of the
aggregate loaded from that row gives, key for key and in the same order.

`RowMapper.state_from_row` (tansiq_common.codec) converts scalar columns directly but takes
every nested value (title, participants, themes, the report, action items...) through the typed
dataclass and the generic `to_json` and back: for an engagement, whose state is mostly such
values, slower than loading the aggregate and taking its snapshot (CPU time per row: about 90
against 52 µs for a full engagement, 52 against 36 for a plain one). The
columns hold JSON written from the same fields, so here each type gets a function from JSON to
its JSON form, built once from the type hints: a dataclass's fields in declaration order, a
missing one given its default, enums checked, times re-read and written in ISO form, sets
sorted without repeats; a type it does not know goes through the typed value as before. About
22 and 12 µs for those two rows (tests/test_driver_reads.py holds it to the aggregate's state).
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


class _Never:
    """No value is of this type: a field whose every value needs its function."""


# Per field: its name, the type whose values are already their JSON form (a text column's str,
# an integer's int: no call for them), and the function for any other value but None.
Part = tuple[str, type, Normaliser]
_BUILT: dict[Any, tuple[type, Normaliser]] = {}


def json_form(tp: Any) -> Normaliser:
    """The function giving `to_json(from_json(tp, value))` for a column's (or JSON) value;
    None stays None, as the codec's converters leave it."""
    ready, form = _form(tp)
    return lambda value: value if value is None or type(value) is ready else form(value)


def _form(tp: Any) -> tuple[type, Normaliser]:
    """(the type already in JSON form, the function for other values but None), built once per
    type."""
    found = _BUILT.get(tp)
    if found is None:
        found = _BUILT[tp] = _build(tp)
    return found


def _build(tp: Any) -> tuple[type, Normaliser]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return _form(options[0])
    elif origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if len(args) == 1:
            ready, item = _form(args[0])
            return _Never, lambda value: [
                v if v is None or type(v) is ready else item(v) for v in value
            ]
    elif origin in (frozenset, set):
        (member,) = typing.get_args(tp)
        if member in (str, int):
            # The set the converter builds, then sorted as to_json sorts it.
            ready, item = _form(member)
            return _Never, lambda value: sorted(
                {v if v is None or type(v) is ready else item(v) for v in value}
            )
    elif origin is None and isinstance(tp, type):
        if issubclass(tp, Enum):
            values = {member.value: member.value for member in tp}

            def enum_value(value: Any) -> Any:
                try:
                    return values[value]
                except (KeyError, TypeError):  # a member itself, or no member's value
                    return tp(value).value

            return _Never, enum_value
        if tp in (str, int, bool, float):
            return tp, tp
        if tp is datetime:
            return _Never, lambda value: (
                value if isinstance(value, datetime) else datetime.fromisoformat(value)
            ).isoformat()
        if tp is date:
            return _Never, lambda value: (
                value if isinstance(value, date) else date.fromisoformat(value)
            ).isoformat()
        if dataclasses.is_dataclass(tp):
            return _Never, _dataclass(tp)
    typed = converter(tp)
    return _Never, lambda value: to_json(typed(value))


def _parts(tp: type) -> tuple[Part, ...]:
    return tuple((name, *_form(hint)) for name, hint in state_fields(tp))


def _dataclass(tp: type) -> Normaliser:
    """A dataclass's JSON object: its fields in order; one the JSON lacks takes its default (a
    required one the JSON lacks fails, as building the dataclass does)."""
    parts = _parts(tp)
    declared = {spec.name: spec for spec in dataclasses.fields(tp)}

    def complete(value: Any) -> Any:
        filled = dict(value)
        for name, _, _ in parts:
            if name in filled:
                continue
            spec = declared[name]
            if spec.default is not dataclasses.MISSING:
                filled[name] = to_json(spec.default)
            elif spec.default_factory is not dataclasses.MISSING:
                filled[name] = to_json(spec.default_factory())
            else:
                raise TypeError(f"{tp.__name__} lacks {name}")
        return filled

    def fields_of(value: Any) -> Any:
        return {
            name: v if (v := value[name]) is None or type(v) is ready else normalise(v)
            for name, ready, normalise in parts
        }

    def form(value: Any) -> Any:
        try:
            return fields_of(value)
        except KeyError:
            # Written before a field existed: it takes its default.
            return fields_of(complete(value))

    return form


# The engagement's columns, in the order of its state.
COLUMNS: tuple[str, ...] = tuple(name for name, _ in state_fields(Engagement))
_FIELDS = _parts(Engagement)


def state_of_row(row: Any) -> dict[str, Any]:
    """The JSON-ready state of the engagement `row` (a record with the columns of COLUMNS)."""
    return {
        name: v if (v := row[name]) is None or type(v) is ready else form(v)
        for name, ready, form in _FIELDS
    }
