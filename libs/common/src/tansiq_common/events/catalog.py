"""The event catalog: which pydantic model is the payload of which event type on which topic.

Each service lists its events in ``tansiq_<service>/events.py`` as ``EVENTS: list[EventDoc]``,
built from the same pydantic models its code emits; the AsyncAPI document is generated from them.
"""

from __future__ import annotations

import builtins
import importlib
from dataclasses import dataclass

from pydantic import BaseModel

SERVICES = ("registry", "agreements", "engagements", "reporting")


@dataclass(frozen=True)
class EventDoc:
    topic: str  # logical, e.g. "agreements.agreement.v1"
    type: str  # the ce_type, e.g. "tansiq.agreements.agreement.signed.v1"
    # The payload: the aggregate's full state with its version. (builtins: `type` is a field.)
    model: builtins.type[BaseModel]
    summary: str = ""


def discover(services: tuple[str, ...] = SERVICES) -> list[EventDoc]:
    """Every service's EVENTS, in a stable order; a service without an events module has none."""
    found: list[EventDoc] = []
    for service in services:
        name = f"tansiq_{service}.events"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in (name, f"tansiq_{service}"):
                continue
            raise
        found.extend(getattr(module, "EVENTS", ()))
    return sorted(found, key=lambda doc: (doc.topic, doc.type))
