"""Bulk import of an existing directory from CSV (also how the demo data is loaded).

Columns (header row required; only `kind` and one of `source_key`/`iati_identifier` are needed,
absent columns leave those fields untouched on organizations that already exist):

    source_key       the organization's key in the directory being imported (unique)
    kind             ministry, directorate, agency, centre, ... (docs/architecture.md)
    name_ar, name_en at least one
    acronym, country (ISO 3166-1 alpha-2), iati_identifier (PREFIX-ID), iati_org_type, website
    parent           the parent's source_key, IATI identifier or registry id
    reporting_lines  `ref:line;ref:line`, ref as for parent, line technical, administrative
                     or supervision
    designations     `coordinating_body` (registry administrators only)

A row matches an existing organization by IATI identifier, else by source key; a matched row
updates it, an unmatched one creates it, so importing the same file twice changes nothing.
Rows may name parents further down the file. Each row succeeds or fails alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tansiq_common.domain import DomainError, InvalidField
from tansiq_common.problems import UnprocessableEntity
from tansiq_common.uow import UnitOfWork

from tansiq_registry.organizations.repository import parse_id
from tansiq_registry.organizations.service import OrganizationService

COLUMNS = (
    "source_key",
    "kind",
    "name_ar",
    "name_en",
    "acronym",
    "country",
    "iati_identifier",
    "iati_org_type",
    "website",
    "parent",
    "reporting_lines",
    "designations",
)


@dataclass
class RowResult:
    line: int
    key: str | None
    outcome: str = "pending"  # then created | updated | unchanged | kept | failed
    org_id: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ImportOutcome:
    results: list[RowResult]

    def report(self) -> dict[str, Any]:
        count = dict.fromkeys(("created", "updated", "unchanged", "kept", "failed"), 0)
        for r in self.results:
            count[r.outcome] += 1
        return {
            "rows": len(self.results),
            **count,
            "errors": [
                {"row": r.line, "key": r.key, "errors": r.errors}
                for r in self.results
                if r.outcome == "failed"
            ],
            "ids": {r.key: r.org_id for r in self.results if r.key and r.org_id},
        }


def parse_csv(text: str, *, max_rows: int) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; a file-level problem (no header, unknown column) is a 422."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise UnprocessableEntity("The file has no header row.", slug="import-no-header")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown or "kind" not in header or not {"source_key", "iati_identifier"} & set(header):
        raise UnprocessableEntity(
            "The header must name known columns, including kind and source_key or iati_identifier.",
            slug="import-bad-header",
            extra={"unknown_columns": unknown, "columns": list(COLUMNS)},
        )
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if None in row:  # more cells than columns
            cells = {"_extra": "more cells than the header names"}
        else:
            cells = {k: (v or "").strip() for k, v in row.items()}
        if not any(cells.values()):
            continue  # blank lines (spreadsheets write them) count for nothing
        if len(rows) >= max_rows:
            raise UnprocessableEntity(
                f"The file has more than {max_rows} rows; split it.", slug="import-too-large"
            )
        rows.append((reader.line_num, cells))
    return rows


def _key(row: Mapping[str, str]) -> str | None:
    return row.get("iati_identifier") or row.get("source_key") or None


def _refs(row: Mapping[str, str]) -> list[str]:
    refs = [row["parent"]] if row.get("parent") else []
    for item in _split(row.get("reporting_lines")):
        refs.append(item.rsplit(":", 1)[0])
    return refs


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _row_error(message: str, field_name: str = "") -> DomainError:
    return InvalidField(field_name, message)


def import_order(rows: Sequence[tuple[int, Mapping[str, str]]]) -> tuple[list[int], list[int]]:
    """Lines in an order where every row comes after the rows of the file it refers to (its
    parent, its reporting lines), and the lines caught in a cycle. Linear in the rows."""
    in_file: dict[str, int] = {}
    for line, row in rows:
        for key in (row.get("source_key"), row.get("iati_identifier")):
            if key:
                in_file.setdefault(key, line)
    waiting_on: dict[int, int] = {}
    dependents: dict[int, list[int]] = {}
    for line, row in rows:
        needed = {in_file[ref] for ref in _refs(row) if ref in in_file} - {line}
        waiting_on[line] = len(needed)
        for other in needed:
            dependents.setdefault(other, []).append(line)
    order = [line for line, _ in rows if waiting_on[line] == 0]
    for line in order:  # grows while it is walked: Kahn's algorithm
        for dependent in dependents.get(line, ()):
            waiting_on[dependent] -= 1
            if waiting_on[dependent] == 0:
                order.append(dependent)
    done = set(order)
    return order, [line for line, _ in rows if line not in done]


class Importer:
    """Imports rows through the organization service, each row in its own savepoint.

    `keep_existing` (seeding): a row that matches an organization already there leaves it as it
    is (users may have changed or archived it since) and reports it as `kept`.
    """

    def __init__(
        self, uow: UnitOfWork, home_countries: Sequence[str], *, keep_existing: bool = False
    ) -> None:
        self.uow = uow
        self.organizations = OrganizationService(uow, home_countries)
        self.keep_existing = keep_existing
        self._resolved: dict[str, str] = {}  # in-file keys → organization ids

    async def run(self, rows: Sequence[tuple[int, dict[str, str]]]) -> ImportOutcome:
        """Import every row in one transaction, parents before the rows that name them."""
        results = {line: RowResult(line, _key(row)) for line, row in rows}
        by_line = dict(rows)
        order, cyclic = import_order(rows)
        async with self.uow:
            for line in order:
                await self._one(by_line[line], results[line])
            for line in cyclic:
                results[line].outcome = "failed"
                results[line].errors.append(
                    {"field": "parent", "message": "rows refer to each other in a cycle"}
                )
        return ImportOutcome([results[line] for line, _ in rows])

    async def _one(self, row: Mapping[str, str], result: RowResult) -> None:
        try:
            if "_extra" in row:
                raise _row_error(row["_extra"])
            if not _key(row):
                raise _row_error("a row needs a source_key or an iati_identifier", "source_key")
            async with self.uow.savepoint():
                repo = self.organizations.repo
                existing = None
                if row.get("iati_identifier"):
                    existing = await repo.find_by("iati_identifier", row["iati_identifier"])
                if existing is None and row.get("source_key"):
                    existing = await repo.find_by("source_key", row["source_key"])
                if existing is not None and self.keep_existing:
                    org, result.outcome = existing, "kept"
                elif existing is None:
                    org = await self.organizations.register(
                        await self._fields(row), source_key=row.get("source_key") or None
                    )
                    result.outcome = "created"
                else:
                    org = (await repo.get(existing.id, for_update=True)) or existing
                    changed = await self.organizations.revise(org, await self._fields(row))
                    result.outcome = "updated" if changed else "unchanged"
            result.org_id = org.id
            for key in (row.get("source_key"), row.get("iati_identifier")):
                if key:
                    self._resolved[key] = org.id
        except DomainError as error:
            result.outcome = "failed"
            result.errors = [
                {"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
                for e in (error.errors or [{"field": "", "message": error.message}])
            ]

    async def _fields(self, row: Mapping[str, str]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if "kind" in row:
            fields["kind"] = row["kind"] or None
        if "name_ar" in row or "name_en" in row:
            fields["names"] = {
                k: row[f"name_{k}"] or None for k in ("ar", "en") if f"name_{k}" in row
            }
        for column in ("acronym", "country", "iati_identifier", "website"):
            if column in row:
                fields[column] = row[column] or None
        if fields.get("website") and not fields["website"].startswith(("http://", "https://")):
            raise _row_error("website must start with http:// or https://", "website")
        if "iati_org_type" in row:
            value = row["iati_org_type"]
            # isdecimal, not isdigit: "²" is a digit that int() refuses.
            if value and not (value.isascii() and value.isdecimal()):
                raise _row_error("iati_org_type must be a number", "iati_org_type")
            fields["iati_org_type"] = int(value) if value else None
        if "parent" in row:
            fields["parent_id"] = (
                await self._resolve(row["parent"], "parent") if row["parent"] else None
            )
        if "reporting_lines" in row:
            lines = []
            for item in _split(row["reporting_lines"]):
                ref, _, line = item.rpartition(":")
                if not ref:
                    raise _row_error("write reporting lines as ref:line", "reporting_lines")
                lines.append({"org_id": await self._resolve(ref, "reporting_lines"), "line": line})
            fields["reporting_lines"] = lines
        if "designations" in row:
            fields["designations"] = _split(row["designations"])
        return fields

    async def _resolve(self, ref: str, field_name: str) -> str:
        if ref in self._resolved:
            return self._resolved[ref]
        repo = self.organizations.repo
        canonical = parse_id(ref)
        if canonical and await repo.existing_ids([canonical]):
            return canonical
        for column in ("iati_identifier", "source_key"):
            found = await repo.find_by(column, ref)
            if found is not None:
                return found.id
        raise _row_error(f"no organization {ref!r}", field_name)
