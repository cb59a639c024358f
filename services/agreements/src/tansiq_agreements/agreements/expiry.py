"""The scheduled expiry: an app component that expires agreements past `expires_on`, at start
and then every `expiry_interval_s` (AGREEMENTS_EXPIRY_INTERVAL_S)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tansiq_common.background import running_in_background, sleep_unless

from tansiq_agreements.agreements.service import expire_due

log = logging.getLogger(__name__)


async def expire_periodically(
    sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event, interval_s: float
) -> None:
    while True:
        try:
            expired = await expire_due(sessionmaker)
        except Exception as exc:  # a missed round is retried at the next one
            log.warning("could not expire agreements: %r", exc)
        else:
            if expired:
                log.info("expired %d agreements", len(expired))
        if await sleep_unless(stop, interval_s):
            return


@asynccontextmanager
async def expiry_component(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    if not settings.run_expiry:
        yield
        return
    stop = asyncio.Event()
    work = expire_periodically(app.state.db.sessionmaker, stop, settings.expiry_interval_s)
    async with running_in_background(work, stop, name="agreements-expiry", grace_s=5):
        yield
