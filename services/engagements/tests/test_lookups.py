"""The replica lookup (lookups.ReplicaLookup) reads each id a batch names once."""

from __future__ import annotations

from typing import Any

from tansiq_common.auth import organization_directory
from tansiq_engagements import lookups
from tansiq_engagements.lookups import ReplicaLookup, org_facts


async def test_each_id_a_batch_names_is_parsed_once(monkeypatch):
    parsed: list[str] = []
    parse_id = lookups.parse_id

    def recording(raw: str) -> Any:
        parsed.append(raw)
        return parse_id(raw)

    monkeypatch.setattr(lookups, "parse_id", recording)
    # No id is a UUID: the answer is empty without a query, so no session is needed.
    names = ["mofa", "undp", "mofa", "mofa", "undp", "icd"] * 100
    found = await ReplicaLookup(organization_directory, org_facts).find_many(
        None,  # type: ignore[arg-type]
        names,
        bearer=None,
    )
    assert found == {}
    assert parsed == ["mofa", "undp", "icd"]
