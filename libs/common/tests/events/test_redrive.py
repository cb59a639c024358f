"""Re-driving dead letters on the real broker: back to the topic once fixed, applied once,
recorded on the message; a poison message returns to the DLQ and stops at the bound."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from tansiq_cli.events_cmd import app as events_app
from tansiq_common.events.consumer import ConsumerSpec, running_consumer
from tansiq_common.events.redrive import RedriveError, parse_since, redrive
from tansiq_common.events.topics import dlq_name, ensure_topics
from tansiq_common.testing.kafka import read_topic
from typer.testing import CliRunner

from .conftest import THING_RENAMED, headers_of, record_application, scalar, thing_contracts
from .test_consumer import event, produce, runner_for, wait_for

OPERATOR = "amal@ops-laptop"


async def records_of(bootstrap: str, topic: str, count: int, timeout_s: float = 30) -> list:
    return await read_topic(
        bootstrap, [topic], until=lambda rs: len(rs) >= count, timeout_s=timeout_s
    )


async def settle(bootstrap: str, topic: str, count: int) -> list:
    """The topic's records once it has ``count``, after a pause showing no more arrive."""
    await records_of(bootstrap, topic, count)
    await asyncio.sleep(2)
    return await records_of(bootstrap, topic, count + 1, timeout_s=3)


def failing_spec(topic: str, failing: set[str], calls: list[str]) -> ConsumerSpec:
    """Things whose name is in ``failing`` make the handler fail (until the "fix" empties it)."""

    async def handle(session, envelope):
        calls.append(envelope.data["name"])
        if envelope.data["name"] in failing:
            raise RuntimeError(f"cannot apply {envelope.data['name']}")
        await record_application(session, envelope)

    return ConsumerSpec(
        name=f"test.redrive.{uuid.uuid4().hex[:6]}",
        topics=[topic],
        handlers={THING_RENAMED: handle},
        contracts=thing_contracts(topic),
    )


async def test_a_fixed_dead_letter_is_redriven_applied_once_and_recorded(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    physical, dlq = f"{topic_prefix}{topic}", dlq_name(f"{topic_prefix}{topic}")
    failing = {"needs-a-fix"}
    broken = event("t-1", 1, "needs-a-fix")
    await produce(kafka_bootstrap, physical, [broken, event("t-2", 1, "fine")])
    runner = runner_for(
        read_model, failing_spec(topic, failing, []), kafka_bootstrap, topic_prefix, max_attempts=2
    )
    async with running_consumer(runner):
        await wait_for(read_model, "select name from test_things where id = 't-2'", "fine")
        (dead,) = await records_of(kafka_bootstrap, dlq, 1)
        assert headers_of(dead)["dlq_reason"] == "failed"

        lines: list[str] = []
        dry = await redrive(
            dlq,
            bootstrap=kafka_bootstrap,
            operator=OPERATOR,
            dry_run=True,
            report=lambda o: lines.append(o.line()),
        )
        assert [o.action for o in dry] == ["would-redrive"]
        assert lines[0].startswith(f"would-redrive {dlq}[0]@0 ")
        assert len(await settle(kafka_bootstrap, physical, 2)) == 2  # the dry run sent nothing

        failing.clear()  # the fix is deployed
        (done,) = await redrive(dlq, bootstrap=kafka_bootstrap, operator=OPERATOR)
        assert (done.action, done.redrive_count) == ("redriven", 1)
        await wait_for(read_model, "select name from test_things where id = 't-1'", "needs-a-fix")

    assert await scalar(read_model, "select max(times) from test_applications") == 1
    records = await records_of(kafka_bootstrap, physical, 3)
    (again,) = [r for r in records if "redrive_count" in headers_of(r)]
    redriven = headers_of(again)
    original = dict(broken[2])
    assert redriven["ce_id"] == original["ce_id"].decode()  # the same event: deduplicated by id
    assert redriven["redrive_count"] == "1"
    assert redriven["redriven_by"] == OPERATOR
    assert redriven["redriven_from"] == f"{dlq}[0]@0"
    redriven_at = datetime.fromisoformat(redriven["redriven_at"])
    assert abs(datetime.now(UTC) - redriven_at) < timedelta(minutes=2)
    assert not [name for name in redriven if name.startswith("dlq_")]
    assert again.key == broken[0]
    assert again.value == broken[1]


async def test_a_poison_message_returns_to_the_dlq_and_stops_at_the_bound(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    physical, dlq = f"{topic_prefix}{topic}", dlq_name(f"{topic_prefix}{topic}")
    calls: list[str] = []
    await produce(kafka_bootstrap, physical, [event("t-p", 1, "poison")])
    runner = runner_for(
        read_model,
        failing_spec(topic, {"poison"}, calls),
        kafka_bootstrap,
        topic_prefix,
        max_attempts=1,
        max_redrives=2,
    )

    async def again() -> list:
        return await redrive(dlq, bootstrap=kafka_bootstrap, operator=OPERATOR, max_redrives=2)

    async with running_consumer(runner):
        await records_of(kafka_bootstrap, dlq, 1)
        first = await again()
        assert [(o.action, o.redrive_count) for o in first] == [("redriven", 1)]
        back = await records_of(kafka_bootstrap, dlq, 2)  # failed again: back in the DLQ
        assert headers_of(back[-1])["redrive_count"] == "1"
        assert headers_of(back[-1])["dlq_reason"] == "failed"

        second = await again()
        # One re-drive per event: the older copy is skipped, the latest goes with count 2.
        assert [(o.action, o.redrive_count) for o in second] == [("skipped", None), ("redriven", 2)]
        await records_of(kafka_bootstrap, dlq, 3)

        third = await again()
        assert [o.action for o in third] == ["skipped", "skipped", "refused"]
        assert "already re-driven 2 times (limit 2)" in third[-1].detail

        # Forged or hand-edited counts: dead-lettered at once, the handler never runs.
        over = event("t-q", 1, "over the bound")
        bad = event("t-r", 1, "not a count")
        await produce(
            kafka_bootstrap,
            physical,
            [
                (over[0], over[1], [*over[2], ("redrive_count", b"3")]),
                (bad[0], bad[1], [*bad[2], ("redrive_count", b"lots")]),
            ],
        )
        dead = await settle(kafka_bootstrap, dlq, 5)

    assert len(await settle(kafka_bootstrap, physical, 5)) == 5  # 1 + 2 re-drives + 2 forged
    assert len(dead) == 5
    assert calls == ["poison", "poison", "poison"]  # never the two refused messages
    reasons = {headers_of(r)["ce_subject"]: headers_of(r)["dlq_reason"] for r in dead[3:]}
    assert reasons == {"t-q": "redrive-limit", "t-r": "invalid"}
    assert {headers_of(r)["dlq_attempts"] for r in dead[3:]} == {"0"}


async def dead_letter(bootstrap: str, dlq: str, source: str, thing_id: str, *, when=None):
    """A dead letter as a consumer writes it (original headers + dlq_*)."""
    key, value, headers = event(thing_id, 1, thing_id)
    headers = [*headers, ("dlq_reason", b"failed"), ("dlq_source_topic", source.encode())]
    await produce(bootstrap, dlq, [(key, value, headers)])
    return dict(headers)["ce_id"].decode()


async def test_only_the_chosen_dead_letters_go_back_and_only_to_their_own_topic(
    kafka_bootstrap, topic_prefix, topic
):
    physical, dlq = f"{topic_prefix}{topic}", dlq_name(f"{topic_prefix}{topic}")
    first = await dead_letter(kafka_bootstrap, dlq, physical, "t-a")
    await asyncio.sleep(1.5)
    cut = datetime.now(UTC)
    await asyncio.sleep(0.5)
    later = await dead_letter(kafka_bootstrap, dlq, physical, "t-b")
    misrouted = await dead_letter(kafka_bootstrap, dlq, f"{topic_prefix}other.v1", "t-c")

    by_id = await redrive(dlq, bootstrap=kafka_bootstrap, operator=OPERATOR, ids=[first])
    assert [(o.dead_letter.event_id, o.action) for o in by_id] == [(first, "redriven")]
    since = await redrive(dlq, bootstrap=kafka_bootstrap, operator=OPERATOR, since=cut)
    assert [(o.dead_letter.event_id, o.action) for o in since] == [
        (later, "redriven"),
        (misrouted, "refused"),
    ]
    assert "dead-lettered from" in since[1].detail
    sent = await settle(kafka_bootstrap, physical, 2)
    assert sorted(headers_of(r)["ce_id"] for r in sent) == sorted([first, later])

    with pytest.raises(RedriveError):
        await redrive(physical, bootstrap=kafka_bootstrap, operator=OPERATOR)  # not a DLQ
    with pytest.raises(RedriveError):
        await redrive(f"{physical}.nope.dlq", bootstrap=kafka_bootstrap, operator=OPERATOR)
    with pytest.raises(RedriveError):
        await redrive(dlq, bootstrap=kafka_bootstrap, operator=" ")


def test_since_reads_dates_times_and_spans():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_since("6h", now) == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert parse_since("2d", now) == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert parse_since("2026-11-20", now) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_since("2026-11-20T08:00:00+03:00", now) == datetime(2026, 11, 20, 5, tzinfo=UTC)
    with pytest.raises(RedriveError):
        parse_since("last tuesday", now)


def test_the_command_prints_a_line_per_dead_letter_and_refuses_bad_input(
    kafka_bootstrap, topic_prefix
):
    """A plain test: the command runs its own event loop, as it does from a shell."""
    logical = f"test.{uuid.uuid4().hex[:8]}.thing.v1"
    physical, dlq = f"{topic_prefix}{logical}", dlq_name(f"{topic_prefix}{logical}")
    asyncio.run(ensure_topics(kafka_bootstrap, "", [physical, dlq]))
    kept = asyncio.run(dead_letter(kafka_bootstrap, dlq, physical, "t-cli"))
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_PREFIX": topic_prefix}
    runner = CliRunner()

    dry = runner.invoke(events_app, ["redrive", f"{logical}.dlq", "--dry-run"], env=env)
    sent = runner.invoke(
        events_app, ["redrive", f"{logical}.dlq", "--id", kept, "--by", "amal"], env=env
    )
    not_dlq = runner.invoke(events_app, ["redrive", logical], env=env)
    bad_since = runner.invoke(events_app, ["redrive", f"{logical}.dlq", "--since", "soon"], env=env)
    wrong_service = runner.invoke(
        events_app,
        ["redrive", "registry.organization.v1.dlq", "--service", "agreements", "--dry-run"],
        env=env,
    )

    assert dry.exit_code == 0, dry.output
    assert f"would-redrive {dlq}[0]@0 ce_id={kept} reason=failed" in dry.output
    assert f"{dlq}: 1 would-redrive" in dry.output
    assert sent.exit_code == 0, sent.output
    assert f"redriven      {dlq}[0]@0 ce_id={kept}" in sent.output
    (record,) = asyncio.run(records_of(kafka_bootstrap, physical, 1))
    assert headers_of(record)["redriven_by"] == "amal"
    assert not_dlq.exit_code == 2
    assert "not a dead-letter topic" in not_dlq.output
    assert bad_since.exit_code == 2
    assert wrong_service.exit_code == 2
    assert "written by registry alone" in wrong_service.output
