"""Client values no service can store, refused once for every route before any handler runs.

PostgreSQL text cannot hold the NUL character, so a NUL anywhere in a request's path, query or
JSON body is a 422 (the field is named, as for any other validation error). What only the
database can tell (a time or an integer out of its range) is refused where the value is bound:
`tansiq_common.db`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Scope

from tansiq_common.problems import UnprocessableEntity

NUL = "\x00"
_NUL_MESSAGE = "must not contain the NUL character"


def _error(location: str, field: str) -> dict[str, str]:
    # the shape of FastAPI's validation errors (problems._field_errors)
    return {"field": field, "location": location, "message": _NUL_MESSAGE, "type": "string_nul"}


def nul_in_url(scope: Scope) -> list[dict[str, str]]:
    """The path and query parameters (names or values) that carry a NUL, decoded as the
    application will see them."""
    errors = []
    if NUL in scope.get("path", ""):
        errors.append(_error("path", ""))
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if NUL in name or NUL in value:
                errors.append(_error("query", name.replace(NUL, "\\x00")))
    return errors


def _strings_with_nul(value: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    if isinstance(value, str):
        if NUL in value:
            yield ".".join(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield ".".join((*path, key.replace(NUL, "\\x00")))
            yield from _strings_with_nul(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings_with_nul(item, (*path, str(index)))


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def nul_in_body(content_type: str | None, body: bytes) -> list[dict[str, str]]:
    """The fields of a JSON body (or the whole of a text body) that carry a NUL.

    A JSON body that does not parse is left to the application (400 malformed JSON); the
    escape `\\u0000` is the only way a NUL gets into valid JSON, so most bodies are not parsed
    here at all.
    """
    if not body or content_type is None:
        return []
    if _is_json(content_type):
        if b"\\u0000" not in body:
            return []
        try:
            document = json.loads(body)
        except ValueError:
            return []
        return [_error("body", field) for field in _strings_with_nul(document)]
    if content_type.lower().startswith("text/") and b"\x00" in body:
        return [_error("body", "")]
    return []


def nul_refused(errors: list[dict[str, str]]) -> UnprocessableEntity:
    return UnprocessableEntity(
        "The request has invalid fields.", slug="validation-error", errors=errors
    )
