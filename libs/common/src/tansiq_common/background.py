"""Background work inside a service process: start it, stop it promptly, never hang shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early when ``stop`` is set; True if stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


class Stopped(Exception):
    """``stop`` was set before the awaited operation finished; the operation was cancelled."""


async def unless_stopped(stop: asyncio.Event, operation: Awaitable[T]) -> T:
    """Await ``operation``, cancelling it and raising ``Stopped`` as soon as ``stop`` is set.

    For client calls that ignore their own timeouts (aiokafka's ``start()`` waits for a missing
    topic to appear, ``getmany()`` for the end of a rebalance), so shutdown never waits on them.
    """
    work = asyncio.ensure_future(operation)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
    if work.cancelled():
        raise Stopped
    return work.result()


@contextlib.asynccontextmanager
async def running_in_background(
    work: Coroutine[Any, Any, None], stop: asyncio.Event, *, name: str, grace_s: float
) -> AsyncIterator[asyncio.Task[None]]:
    """``work`` as a task for the block; on exit set ``stop`` and give it ``grace_s`` to finish
    (its batch, its offset commits, its lock) before it is cancelled."""
    task = asyncio.create_task(work, name=name)
    try:
        yield task
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, grace_s)
        except TimeoutError:
            log.warning("%s did not stop within %.0fs; cancelled", name, grace_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
