"""An engagement's state as JSON, fast: `to_json` (tansiq_common.codec) with the work of reading
the field types done once per class instead of on every value.

`snapshot()` runs for every change (the event carries the state, and the ingestion row is built
from it) and twice more for every revision (what changed): it is the costliest step of a
1,000-item ingestion batch with the generic encoder, which asks what each value is. The encoder
built here knows from the type hints; a value that is not of its declared type goes through
`to_json` itself, so the answer is always what `to_json` gives.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

from tansiq_common.codec import state_fields, to_json

Encoder = Callable[[Any], Any]

_ENCODERS: dict[Any, Encoder] = {}


def encoder(tp: Any) -> Encoder:
    """The function giving `to_json(value)` for a value of type `tp`, built once per type."""
    found = _ENCODERS.get(tp)
    if found is None:
        found = _ENCODERS[tp] = _build(tp)
    return found


def _build(tp: Any) -> Encoder:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            inner = encoder(options[0])
            return lambda value: None if value is None else inner(value)
        return to_json
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if len(args) != 1:
            return to_json
        item = encoder(args[0])
        return lambda value: (
            [item(v) for v in value] if type(value) in (tuple, list) else to_json(value)
        )
    if origin in (frozenset, set):
        members = typing.get_args(tp)
        item = encoder(members[0]) if members else to_json
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
        return _dataclass(tp)
    return to_json


def _dataclass(tp: type) -> Encoder:
    fields = [(name, encoder(hint)) for name, hint in state_fields(tp)]

    def encode(value: Any) -> Any:
        if type(value) is not tp:
            return to_json(value)
        return {name: enc(getattr(value, name)) for name, enc in fields}

    return encode
