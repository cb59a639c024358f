"""Fuzzes every operation of every service's OpenAPI in-process, as callers of every role.

Checked for each case: no 5xx, a documented status code, the documented content type, a body
that matches the documented schema. A route is covered as soon as it is in its service's
OpenAPI. `TANSIQ_FUZZ_EXAMPLES` cases per operation (20 by default; `make fuzz` runs more, with
random data: TANSIQ_FUZZ_RANDOM=1); without it the cases are the same every run, so that this
guard does not flicker.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import SERVICES, TALLIES, Tally, World, openapi_document, stable_pick

EXAMPLES = int(os.environ.get("TANSIQ_FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("TANSIQ_FUZZ_RANDOM") == "1"
MODES = os.environ.get("TANSIQ_FUZZ_MODES", "positive,negative").split(",")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
_RANK = {"post": 0, "put": 1, "get": 2, "patch": 3, "delete": 4}
INT8 = 2**63


def _cursor(values: list[Any]) -> str:
    """A cursor in the format the services issue (tansiq_common.pagination), forged."""
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Values that broke services before, mixed into generated strings and integers (schemathesis
# dictionaries: each goes only where the schema accepts it in positive cases, only where it
# does not in negative ones). By class: NUL (PostgreSQL text refuses it); times that leave the
# years 1 to 9999 once converted to UTC; integers just beyond int2, int4 and int8; forged
# cursors carrying those; digits `int()` refuses.
TIMES_OUT_OF_RANGE = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
HOSTILE_STRINGS: list[str | int] = [
    "\x00",
    "a\x00b",
    *TIMES_OUT_OF_RANGE,
    str(INT8),
    str(-INT8 - 1),
    "²",
    _cursor([INT8]),
    _cursor([-INT8 - 1]),
    *(_cursor([{"t": time}]) for time in TIMES_OUT_OF_RANGE),
    *(_cursor([{"t": time}, {"u": str(uuid.UUID(int=1))}]) for time in TIMES_OUT_OF_RANGE),
    _cursor([INT8, {"u": str(uuid.UUID(int=1))}]),
]
HOSTILE_INTEGERS: list[str | int] = [2**15, 2**31, -(2**31) - 1, INT8, -INT8 - 1, INT8 - 1]
HOSTILE = {
    "dictionaries": {
        "hostile-strings": {"values": HOSTILE_STRINGS},
        "hostile-integers": {"values": HOSTILE_INTEGERS},
    },
    "generation": {
        "dictionaries": {
            "string": {"dictionary": "hostile-strings", "probability": 0.15},
            "integer": {"dictionary": "hostile-integers", "probability": 0.15},
        }
    },
}


def writes_first(document: dict[str, Any]) -> dict[str, Any]:
    """Operations that create records are fuzzed before those that read, change or delete them,
    so that the identifiers they return are in the pool by then."""
    paths = {
        path: dict(sorted(item.items(), key=lambda kv: _RANK.get(kv[0], 5)))
        for path, item in sorted(
            document.get("paths", {}).items(),
            key=lambda kv: (min(_RANK.get(m, 5) for m in kv[1]), kv[0].count("{"), kv[0]),
        )
    }
    return {**document, "paths": paths}


def fuzz(service: str) -> Callable[..., None]:
    try:
        document = writes_first(openapi_document(service))
    except Exception as error:  # a service that does not build fails its own test only
        reason = f"{service} does not build: {error!r}"

        def broken() -> None:
            raise AssertionError(reason)

        broken.__name__ = f"test_{service}"
        return broken
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(HOSTILE))
    schema.config.generation.update(
        max_examples=EXAMPLES,
        deterministic=not RANDOM,
        allow_x00=True,
        database="none",
        modes=MODES,
    )
    # the coverage phase (boundary values of every parameter, about a hundred cases an
    # operation whatever EXAMPLES says) is for the deeper run
    schema.config.phases.coverage.enabled = RANDOM

    @schema.parametrize()
    def test(case: Any, fuzz_world: World) -> None:
        target = fuzz_world.target(service)
        tally = TALLIES.setdefault(service, Tally())
        tally.operations.add(case.operation.label)
        tally.cases += 1
        # the caller (one token of each role) follows from the case: the same case, the same caller
        caller = stable_pick((case.path_parameters, case.query, case.body), fuzz_world.callers)
        response = case.call_and_validate(session=target.client, headers=caller, checks=CHECKS)
        if any("json" in value for value in response.headers.get("content-type", [])):
            target.learn(response.json())

    test.__name__ = f"test_{service}"
    return test


for _service in SERVICES:
    globals()[f"test_{_service}"] = fuzz(_service)
