"""Fuzzes every operation of every service's OpenAPI in-process, as callers of every role.

Checked for each case: no 5xx, a documented status code, the documented content type, a body
that matches the documented schema. A route is covered as soon as it is in its service's
OpenAPI. `TANSIQ_FUZZ_EXAMPLES` cases per operation (20 by default; `make fuzz` runs more, with
random data: TANSIQ_FUZZ_RANDOM=1); without it the cases are the same every run, so that this
guard does not flicker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
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
    schema = schemathesis.openapi.from_dict(document)
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
