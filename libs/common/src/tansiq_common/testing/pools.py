"""Which pool a request's database work came from, for tests that a write runs on the driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tansiq_common.db import Database


@contextmanager
def connections_taken(db: Database) -> Iterator[dict[str, int]]:
    """Counts, while the block runs, the connections taken from the writes' driver pool
    (`write_pool`) and checked out of the engine's pool (`engine`: a session, which nothing on
    a request's write should need). Reset them with `counts.update(write_pool=0, engine=0)`."""
    counts = {"write_pool": 0, "engine": 0}
    pool = db.write_pool
    acquire = pool.acquire

    async def counted() -> Any:
        counts["write_pool"] += 1
        return await acquire()

    def checkout(*_: Any) -> None:
        counts["engine"] += 1

    pool.acquire = counted  # type: ignore[method-assign]
    event.listen(db.engine.sync_engine, "checkout", checkout)
    try:
        yield counts
    finally:
        event.remove(db.engine.sync_engine, "checkout", checkout)
        del pool.acquire  # the class's method again
