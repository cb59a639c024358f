"""How a batch's slices reach the database (no database: the unit of work is a stand-in that
records the statements it was handed): each slice's write goes out before the next slice is
checked, so the database works while Python checks."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from tansiq_engagements.engagements import ingest
from tansiq_engagements.engagements.ingest import SLICE, Bulk, Item, Looked, Origin, Plan


class Statements:
    """The unit of work's statements: a slice's write, the relay's wake-up call."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        assert sql == ingest._WRITE
        self.log.append(f"write {args[0]}")
        await asyncio.sleep(0.01)  # the database at work
        return []  # no row inserted by anyone else meanwhile

    async def execute(self, sql: str, *args: Any) -> str:
        assert (sql, args) == (ingest.NOTIFY, ())
        self.log.append("notify")
        return "NOTIFY"


class Recording(Bulk):
    """The rules and the encoding left out: what matters is the order."""

    def __init__(self, log: list[str], unchanged: frozenset[int] = frozenset()) -> None:
        super().__init__(SimpleNamespace(uow=Statements(log)))  # type: ignore[arg-type]
        self.log, self.checked = log, 0
        self.unchanged = unchanged  # the slices whose items change nothing

    def check(self, items: Any, looked: Looked) -> Plan:
        self.log.append(f"check {self.checked}")
        self.checked += 1
        if self.checked - 1 in self.unchanged:
            return Plan()
        # One engagement changed, with its event: something to write and to tell the relay.
        changed = SimpleNamespace(events=[])
        return Plan(changed=[(changed, 1)], events=[SimpleNamespace()])  # type: ignore[list-item]

    def parameters(self, plan: Plan) -> list[Any]:
        return [self.checked - 1]


async def test_each_slice_is_sent_before_the_next_is_checked():
    log: list[str] = []
    origin = Origin(None, None)
    items = [Item(n, {}, ("calendar", f"{n:05}"), origin) for n in range(SLICE * 2)]
    assert len(ingest._slices(items)) == 4
    looked = Looked({}, {}, None, {}, False)  # type: ignore[arg-type]
    await Recording(log).apply(items, looked)
    assert log == [
        "check 0", "write 0", "check 1", "write 1", "check 2", "write 2", "check 3", "write 3",
        "notify",
    ]  # fmt: skip


async def test_a_slice_that_changes_nothing_is_not_sent_and_the_relay_not_woken():
    log: list[str] = []
    origin = Origin(None, None)
    items = [Item(n, {}, ("calendar", f"{n:05}"), origin) for n in range(SLICE * 2)]
    looked = Looked({}, {}, None, {}, False)  # type: ignore[arg-type]
    await Recording(log, unchanged=frozenset({1, 2})).apply(items, looked)
    assert log == ["check 0", "write 0", "check 1", "check 2", "check 3", "write 3", "notify"]
    # A batch of items that change nothing (a job pushing again what it pushed): no statement.
    log.clear()
    await Recording(log, unchanged=frozenset(range(4))).apply(items, looked)
    assert log == ["check 0", "check 1", "check 2", "check 3"]


def slice_sizes(keys: list[str]) -> list[int]:
    origin = Origin(None, None)
    items = [Item(n, {}, ("calendar", key), origin) for n, key in enumerate(keys)]
    return [len(part) for part in ingest._slices(items)]


def test_a_large_batch_starts_and_ends_with_a_small_slice():
    keys = [f"{n:05}" for n in range(500)]
    assert slice_sizes(keys) == [31, 125, 125, 125, 63, 31]
    assert slice_sizes(keys[:200]) == [31, 125, 44]
    assert slice_sizes(keys[:125]) == [125]  # a slice's worth: one


def test_a_keys_items_stay_in_one_slice():
    # The last two slices would be 53 and 31 items; the key "same" spans their boundary.
    assert slice_sizes([f"{n:05}" for n in range(200)] + ["same"] * 40) == [31, 125, 84]
    # A slice of about 31 ends where its key's items do.
    assert slice_sizes(["first"] * 40 + [f"x{n:05}" for n in range(200)]) == [40, 125, 44, 31]
