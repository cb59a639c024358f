"""Keeps `agreement_directory` in step with `agreements.agreement.v1`.

Each event carries an agreement's full state and version; a row is replaced only by a newer
version, so redelivery, replay and reordering change nothing (`tansiq replay agreements
--service engagements` rebuilds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from tansiq_common.events.consumer import ConsumerSpec, apply_if_newer
from tansiq_common.events.contracts import AGREEMENT_TOPIC
from tansiq_common.events.envelope import InvalidEvent
from tansiq_common.repository import parse_id

from tansiq_engagements.agreements.tables import agreement_directory


def _party_ids(parties: Any) -> list[str]:
    if not isinstance(parties, list):
        return []
    ids = (p.get("org_id") for p in parties if isinstance(p, Mapping))
    return sorted({str(i) for i in ids if i is not None})


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class HasData(Protocol):
    """What the handler reads of an event envelope."""

    @property
    def data(self) -> Mapping[str, Any]: ...


async def apply_agreement_event(session: AsyncSession, envelope: HasData) -> None:
    data = envelope.data
    agreement_id, version = parse_id(data.get("id")), data.get("version")
    if agreement_id is None or isinstance(version, bool) or not isinstance(version, int):
        raise InvalidEvent("an agreement event carries a UUID `id` and an integer `version`")
    await apply_if_newer(
        session,
        agreement_directory,
        {"id": agreement_id},
        version,
        {
            "kind": _text(data.get("kind")),
            "status": _text(data.get("status")),
            "owner_org_id": _text(data.get("owner_org_id")),
            "party_org_ids": _party_ids(data.get("parties")),
            "visibility": _text(data.get("visibility")),
        },
    )


def agreement_consumer() -> ConsumerSpec:
    return ConsumerSpec(
        name="agreements",
        topics=[AGREEMENT_TOPIC],
        handlers={"*": apply_agreement_event},
        tables=[agreement_directory.name],
    )
