"""`/health/live` (the process answers) and `/health/ready` (its dependencies answer).

Readiness has two kinds of checks. `readiness_checks` (the database) decide the status: without
them the service cannot answer. `advisory_checks` (Kafka) are reported but do not fail readiness:
writes go to the outbox and the relay catches up when the broker is back, so taking
replicas out of the load balancer during a Kafka outage would refuse writes for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[None]]

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 2.0


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


def add_advisory_check(app: Any, name: str, check: ReadinessCheck) -> None:
    app.state.advisory_checks[name] = check


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    required: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
    advisory: dict[str, ReadinessCheck] = getattr(request.app.state, "advisory_checks", {})
    results: dict[str, Any] = {}
    failed: set[str] = set()

    async def run(name: str, check: ReadinessCheck) -> None:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
            results[name] = "ok"
        except Exception as exc:  # any failure is reported: which and why
            failed.add(name)
            results[name] = f"failing: {type(exc).__name__}"

    checks = {**advisory, **required}
    await asyncio.gather(*(run(name, check) for name, check in checks.items()))
    if failed & required.keys():
        status, code = "unavailable", 503
    elif failed:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JSONResponse({"status": status, "checks": results}, status_code=code)
