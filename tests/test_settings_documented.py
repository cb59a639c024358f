"""docs/operations.md has a row for every setting any service reads, with its default.

The settings come from the code, not a list: every pydantic-settings class in libs/common and
services/*/src (deploy/tools/code_catalog.py finds them), so a field added tomorrow fails here
until it is documented.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
OPERATIONS = REPO / "docs" / "operations.md"
sys.path.insert(0, str(REPO / "deploy" / "tools"))

import code_catalog  # noqa: E402


def table_rows() -> dict[str, str]:
    """Each `VARIABLE` written in the first cell of a row of the Settings section's tables."""
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split(" | ", 1)[0]
        for name in re.findall(r"`([^`]+)`", first):
            rows[name] = line
    return rows


def shown(value: Any) -> str | None:
    """How a scalar default is written in the table; None: not checked (lists, None, "")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float) or (isinstance(value, str) and value):
        return str(value)
    return None


SETTINGS = code_catalog.settings()


def test_the_settings_are_found_in_the_code():
    variables = {s.variable for s in SETTINGS}
    # One of each kind: shared, per service, a service's own, event backbone tuning.
    assert {"TANSIQ_ENV", "REGISTRY_DATABASE_URL", "REGISTRY_HOME_COUNTRIES"} <= variables
    assert {"RELAY_BATCH_SIZE", "CONSUMER_MAX_ATTEMPTS"} <= variables
    assert {s.service for s in SETTINGS} >= {None, *code_catalog.SERVICES}


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: f"{s.service or 'shared'}:{s.variable}")
def test_every_setting_has_a_row_with_its_default(setting):
    rows = table_rows()
    from tansiq_common.settings import ServiceSettings

    row = rows.get(setting.variable)
    if row is None and setting.generic is not None:
        row = rows.get(setting.generic)
        base = ServiceSettings.model_fields[setting.field].get_default(call_default_factory=True)
        # A service that changes an inherited default says so in the generic row.
        expected = (
            shown(setting.default)
            if setting.default != base and not setting.default_is_local
            else None
        )
    else:
        expected = shown(setting.default)
    assert row is not None, (
        f"{setting.variable} ({setting.cls}.{setting.field}) has no row in docs/operations.md"
    )
    if expected is not None and not setting.required:
        assert f"`{expected}`" in row, (
            f"the row of {setting.variable} does not give its default {expected}: {row}"
        )


def test_no_row_documents_a_setting_that_does_not_exist():
    known = {s.variable for s in SETTINGS} | {s.generic for s in SETTINGS if s.generic}
    documented = set(table_rows())
    assert documented - known == set()
