"""One field list: an aggregate's dataclass fields are its state.

This module turns a dataclass into JSON (events, responses) and into a table row, and back, by
reading the dataclass's own fields and type hints; so adding a field to an aggregate touches the
model, the table (and its migration) and the API schema, nothing else. Pure Python apart from
reading column names off the table it is given.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic_core import to_json as _encode_json

T = TypeVar("T")

# Fields that are bookkeeping of the aggregate object, never state.
NOT_STATE = frozenset({"events"})

_NATIVE = (str, int, bool, float, Decimal, datetime, date)


def json_text(value: Any) -> str:
    """JSON text of JSON-ready values, as a JSON parameter is bound (pydantic-core's encoder:
    several times json.dumps's speed)."""
    return _encode_json(value).decode()


_FIELDS: dict[type, tuple[tuple[str, Any], ...]] = {}


def state_fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, type) of every state field of dataclass `cls`, in declaration order."""
    found = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _FIELDS[cls] = tuple(
            (f.name, hints[f.name])
            for f in dataclasses.fields(cls)
            if f.name not in NOT_STATE and not f.metadata.get("transient")
        )
    return found


def to_json(value: Any) -> Any:
    """A JSON-ready copy: dataclasses become objects, enums their values, sets sorted lists,
    dates ISO strings, decimals strings (money is never a float)."""
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, str | int | bool | float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_json(getattr(value, name)) for name, _ in state_fields(type(value))}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__}")


def from_json(tp: Any, value: Any) -> Any:
    """The value of type `tp` that `to_json` (or a database row) gave `value` for."""
    return converter(tp)(value)


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {}


def converter(tp: Any) -> Callable[[Any], Any]:
    """A function turning JSON (or a column's value) into `tp`, built once per type: reading
    rows is on every request's path."""
    found = _CONVERTERS.get(tp)
    if found is None:
        found = _CONVERTERS[tp] = _none_passes(_build(tp))
    return found


def _none_passes(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def _identity(value: Any) -> Any:
    return value


def _build(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return converter(options[0]) if len(options) == 1 else _identity
    if origin in (tuple, list, frozenset, set):
        args = typing.get_args(tp)
        item = converter(args[0]) if args else _identity
        collection = origin
        return lambda value: collection(item(v) for v in value)
    if origin in (dict, Mapping) or tp in (dict, Any) or origin is typing.Annotated:
        return _identity
    if not isinstance(tp, type):
        return _identity
    if issubclass(tp, Enum):
        return lambda value: value if isinstance(value, tp) else tp(value)
    if dataclasses.is_dataclass(tp):
        fields = [(name, converter(t)) for name, t in state_fields(tp)]
        return lambda value: tp(
            **{name: convert(value.get(name)) for name, convert in fields if name in value}
        )
    if tp is datetime:
        return lambda value: value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if tp is date:
        return lambda value: value if isinstance(value, date) else date.fromisoformat(value)
    if tp is Decimal:
        return lambda value: value if isinstance(value, Decimal) else Decimal(str(value))
    if tp is str:
        # UUID columns come back as uuid.UUID with some drivers; a str field gets a str.
        return lambda value: value if type(value) is str else str(value)
    if tp in (int, bool, float):
        return lambda value: value if type(value) is tp else tp(value)
    return _identity


# --- rows straight to JSON (the read path) --------------------------------------------------
# A read answers each row as the aggregate's JSON state. Through the typed value (`converter`,
# then `to_json`) a nested value (title, participants, a report...) is built as dataclasses,
# lists and sets and encoded back: for a row made mostly of such values, slower than loading the
# aggregate and taking its snapshot. The columns hold JSON written from the same fields, so each
# type gets a function from that JSON (or a column's scalar) straight to its JSON form, built
# once from the type hints: a dataclass's fields in declaration order, a missing one given its
# default, enums checked, times re-read and written in ISO form, sets sorted without repeats; a
# type it does not know goes through the typed value.

JsonForm = Callable[[Any], Any]


class _Never:
    """No value is of this type: every value of such a field needs its function."""


# Per type: the type whose values are already their JSON form (a text column's str, an
# integer's int: no call for them), and the function for any other value but None.
_JSON_FORMS: dict[Any, tuple[type, JsonForm]] = {}
_JSON_CONVERTERS: dict[Any, JsonForm] = {}


def json_converter(tp: Any) -> JsonForm:
    """A function turning a column's value (or JSON) for a field of type `tp` straight into the
    field's JSON form: `to_json(converter(tp)(value))` without the typed value in between (None
    stays None), built once per type. Reads answer rows as JSON this way
    (`RowMapper.state_from_row`)."""
    found = _JSON_CONVERTERS.get(tp)
    if found is None:
        ready, form = _json_form(tp)
        found = _JSON_CONVERTERS[tp] = _ready_or(ready, form)
    return found


def _ready_or(ready: type, form: JsonForm) -> JsonForm:
    return lambda value: value if value is None or type(value) is ready else form(value)


def _json_form(tp: Any) -> tuple[type, JsonForm]:
    found = _JSON_FORMS.get(tp)
    if found is None:
        found = _JSON_FORMS[tp] = _build_json(tp)
    return found


def _build_json(tp: Any) -> tuple[type, JsonForm]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return _json_form(options[0])
    elif origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if len(args) == 1:
            ready, item = _json_form(args[0])
            return _Never, lambda value: [
                v if v is None or type(v) is ready else item(v) for v in value
            ]
    elif origin in (frozenset, set):
        members = typing.get_args(tp)
        if members and _sorted_as_values(members[0]):
            # The set the converter builds, then sorted as to_json sorts it: members and their
            # values sort alike for text, integers and choices.
            ready, item = _json_form(members[0])
            return _Never, lambda value: sorted(
                {v if v is None or type(v) is ready else item(v) for v in value}
            )
    elif origin is None and isinstance(tp, type):
        if issubclass(tp, Enum):
            return _Never, _enum_value(tp)
        if tp in (str, int, bool, float):
            # UUID columns come back as uuid.UUID with some drivers; a str field gets a str.
            return tp, tp
        if tp is datetime:
            return _Never, lambda value: (
                value if isinstance(value, datetime) else datetime.fromisoformat(value)
            ).isoformat()
        if tp is date:
            return _Never, lambda value: (
                value if isinstance(value, date) else date.fromisoformat(value)
            ).isoformat()
        if dataclasses.is_dataclass(tp) and _built_as_given(tp):
            return _Never, _dataclass_json(tp)
    typed = converter(tp)
    return _Never, lambda value: to_json(typed(value))


def _sorted_as_values(member: Any) -> bool:
    return member in (str, int) or (isinstance(member, type) and issubclass(member, Enum))


def _enum_value(tp: type[Enum]) -> JsonForm:
    values = {member.value: member.value for member in tp}

    def enum_value(value: Any) -> Any:
        try:
            return values[value]
        except (KeyError, TypeError):  # a member itself, or no member's value
            return tp(value).value

    return enum_value


def _built_as_given(tp: type) -> bool:
    """Whether building `tp` keeps each field as given: no __post_init__ that could change or
    refuse a value, every field an argument."""
    return not hasattr(tp, "__post_init__") and all(f.init for f in dataclasses.fields(tp))


def _dataclass_json(tp: type) -> JsonForm:
    """A dataclass's JSON object: its fields in order; one the JSON lacks takes its default (a
    required one the JSON lacks fails, as building the dataclass does)."""
    parts = tuple((name, *_json_form(hint)) for name, hint in state_fields(tp))
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
            name: v if (v := value[name]) is None or type(v) is ready else form(v)
            for name, ready, form in parts
        }

    def form(value: Any) -> Any:
        try:
            return fields_of(value)
        except KeyError:
            # Written before a field existed: it takes its default.
            return fields_of(complete(value))

    return form


def _to_column(value: Any) -> Any:
    """What a column stores: scalars and times as they are, the rest as JSON (JSONB, arrays)."""
    if value is None or isinstance(value, _NATIVE):
        return value.value if isinstance(value, Enum) else value
    return to_json(value)


class RowMapper:
    """Maps a dataclass aggregate to the row of its table and back.

    Every state field is stored in the column of the same name, except those `flatten` names: a
    nested dataclass whose fields are stored in `<prefix><field>` columns (e.g. `names` →
    `name_ar`, `name_en`). Columns with no field (derived ones such as a search text) come from
    the repository's `extra_columns`.
    """

    def __init__(self, cls: type[T], flatten: Mapping[str, str] | None = None) -> None:
        self.cls = cls
        self.flatten = dict(flatten or {})
        self.fields = state_fields(cls)
        self._readers = [(name, self._reader(name, tp)) for name, tp in self.fields]

    def to_row(self, obj: Any) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, _ in self.fields:
            value = getattr(obj, name)
            prefix = self.flatten.get(name)
            if prefix is None:
                row[name] = _to_column(value)
            else:
                for sub, _ in state_fields(type(value)):
                    row[f"{prefix}{sub}"] = _to_column(getattr(value, sub))
        return row

    def from_row(self, row: Any, **extra: Any) -> Any:
        data = row._mapping if hasattr(row, "_mapping") else row
        values = {name: read(data) for name, read in self._readers}
        return self.cls(**values, **extra)

    def state_from_row(self, row: Any) -> dict[str, Any]:
        """The JSON-ready state of the aggregate `row` holds, what `to_json(from_row(row))`
        gives, key for key and in the same order, without building the aggregate: a read
        answers rows this way, converting each value once (`json_converter`)."""
        data = row._mapping if hasattr(row, "_mapping") else row
        if not self.flatten:
            # One column per field: the values already in their JSON form are taken as they
            # are, without a call (most of a row's columns).
            return {
                name: v if (v := data[name]) is None or type(v) is ready else form(v)
                for name, ready, form in self._json_forms
            }
        return {name: read(data) for name, read in self._json_readers}

    @functools.cached_property
    def _json_forms(self) -> list[tuple[str, type, JsonForm]]:
        return [(name, *_json_form(tp)) for name, tp in self.fields]

    @functools.cached_property
    def _json_readers(self) -> list[tuple[str, JsonForm]]:
        readers: list[tuple[str, JsonForm]] = []
        for name, tp in self.fields:
            prefix = self.flatten.get(name)
            if prefix is None:
                readers.append((name, _column_json(name, json_converter(tp))))
            else:
                parts = [
                    (sub, f"{prefix}{sub}", json_converter(t))
                    for sub, t in state_fields(_unwrap(tp))
                ]
                readers.append((name, _flattened_json(parts)))
        return readers

    def _reader(self, name: str, tp: Any) -> Callable[[Any], Any]:
        prefix = self.flatten.get(name)
        if prefix is None:
            convert = converter(tp)
            return lambda data: convert(data[name])
        nested = _unwrap(tp)
        parts = [(sub, f"{prefix}{sub}", converter(t)) for sub, t in state_fields(nested)]
        return lambda data: nested(**{sub: conv(data[column]) for sub, column, conv in parts})

    def columns(self) -> list[str]:
        return list(self.to_row_names())

    def to_row_names(self) -> Iterable[str]:
        for name, tp in self.fields:
            prefix = self.flatten.get(name)
            if prefix is None:
                yield name
            else:
                yield from (f"{prefix}{sub}" for sub, _ in state_fields(_unwrap(tp)))


def _column_json(column: str, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda data: convert(data[column])


def _flattened_json(parts: list[tuple[str, str, Callable[[Any], Any]]]) -> Callable[[Any], Any]:
    return lambda data: {sub: convert(data[column]) for sub, column, convert in parts}


def _unwrap(tp: Any) -> Any:
    options = [a for a in typing.get_args(tp) if a is not type(None)]
    return options[0] if options else tp


# --- encoding by declared type ---------------------------------------------------------------
# `snapshot()` runs for every change (the event carries the state) and for every revision (what
# changed); `to_json` asks what each value is. An encoder built once per type knows from the
# type hints; a value not of its declared type goes through `to_json` itself, so the answer is
# always what `to_json` gives.

Encoder = Callable[[Any], Any]
_ENCODERS: dict[Any, Encoder] = {}


def typed_encoder(tp: Any) -> Encoder:
    """The function giving `to_json(value)` for a value of type `tp`, built once per type."""
    found = _ENCODERS.get(tp)
    if found is None:
        found = _ENCODERS[tp] = _build_encoder(tp)
    return found


def _build_encoder(tp: Any) -> Encoder:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            inner = typed_encoder(options[0])
            return lambda value: None if value is None else inner(value)
        return to_json
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if len(args) != 1:
            return to_json
        item = typed_encoder(args[0])
        return lambda value: (
            [item(v) for v in value] if type(value) in (tuple, list) else to_json(value)
        )
    if origin in (frozenset, set):
        members = typing.get_args(tp)
        item = typed_encoder(members[0]) if members else to_json
        return lambda value: (
            sorted(item(v) for v in value) if type(value) in (frozenset, set) else to_json(value)
        )
    if origin is not None or not isinstance(tp, type):
        return to_json
    if issubclass(tp, Enum):
        return lambda value: value.value if isinstance(value, Enum) else to_json(value)
    if tp in (str, int, float, bool):
        return lambda value: value if type(value) is tp else to_json(value)
    if tp in (datetime, date):
        return lambda value: value.isoformat() if type(value) is tp else to_json(value)
    if dataclasses.is_dataclass(tp):
        return _dataclass_encoder(tp)
    return to_json


def _dataclass_encoder(tp: type) -> Encoder:
    fields = [(name, typed_encoder(hint)) for name, hint in state_fields(tp)]

    def encode(value: Any) -> Any:
        if type(value) is not tp:
            return to_json(value)
        return {name: enc(getattr(value, name)) for name, enc in fields}

    return encode
