"""A request takes one connection from the pool at a time (real PostgreSQL).

A read that held its connection while the caller's scope was looked up took a second one: with
every connection of the pool held by such requests, none was ever freed, and each answered 503
once the pool timeout passed (seen in the agreements bench at 32 clients, 20 connections).
"""

from __future__ import annotations

import asyncio
import uuid

from tansiq_common.testing.plugin import running_app


async def test_reads_on_a_pool_of_one_connection_answer_while_scopes_are_looked_up(
    build_service_app, auth_headers
):
    app, _ = await build_service_app(
        "agreements",
        database_pool_size=1,
        database_max_overflow=0,
        database_pool_timeout_s=1.0,
    )
    async with running_app(app) as client:
        for _ in range(3):
            app.state.organization_directory.forget()  # every scope looked up again
            viewers = [auth_headers(str(uuid.uuid4()), ["viewer"]) for _ in range(4)]
            answers = await asyncio.gather(
                *(client.get("/v1/agreements", headers=h) for h in viewers)
            )
            assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
