"""CSV exports (`Accept: text/csv` or `?format=csv`) and the language of explanations.

Cells that a spreadsheet would run as a formula (starting with =, +, -, @, or a tab or carriage
return) are escaped with a leading apostrophe (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Header, Query, Request
from fastapi.responses import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv"

Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="csv: the same page as CSV (like Accept: text/csv)"),
]
Lang = Annotated[
    Literal["ar", "en"] | None,
    Query(description="Language of explanations (default: Accept-Language, else en)"),
]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language", include_in_schema=False)]

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}
}


def wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == CSV_MEDIA_TYPE for part in accept.split(","))


def language(lang: str | None, accept_language: str | None) -> str:
    if lang is not None:
        return lang
    first = (accept_language or "").split(",")[0].strip().lower()
    return "ar" if first.startswith("ar") else "en"


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
    elif isinstance(value, list | tuple):
        text = " ".join(str(v) for v in value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(
    request: Request,
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    next_cursor: str | None = None,
) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if next_cursor:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        query["cursor"] = next_cursor
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    # A byte-order mark, so spreadsheet programs read the Arabic as UTF-8.
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers=headers,
    )
