"""Event backbone commands: `tansiq replay reporting|<consumer>` and
`tansiq events topics|asyncapi|relay|redrive`."""

from __future__ import annotations

import asyncio
import importlib
import os
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Kafka topics, the AsyncAPI document and the outbox relay.")

SERVICES = ("registry", "agreements", "engagements", "reporting")


@app.command()
def topics(
    bootstrap: str = typer.Option(
        None, envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers."
    ),
    prefix: str = typer.Option("", envvar="TOPIC_PREFIX", help="Prefix of every topic name."),
    replication_factor: int = typer.Option(1, help="Replicas per partition."),
) -> None:
    """Create the domain topics and their DLQs that do not exist yet (idempotent)."""
    from tansiq_common.events.topics import DOMAIN_TOPICS, ensure_topics

    created = asyncio.run(
        ensure_topics(bootstrap or "127.0.0.1:9092", prefix, replication_factor=replication_factor)
    )
    typer.echo(f"topics: {len(created)} created, {len(DOMAIN_TOPICS) - len(created)} existed")
    for name in created:
        typer.echo(f"  + {name}")


@app.command()
def asyncapi(
    output: Path = typer.Option(Path("docs/asyncapi/asyncapi.json"), help="Where to write."),
    check: bool = typer.Option(False, "--check", help="Fail if the committed file is stale."),
) -> None:
    """Generate the AsyncAPI document from the event models."""
    from tansiq_common.events import asyncapi as generator

    args = ["--output", str(output)] + (["--check"] if check else [])
    raise typer.Exit(generator.main(args))


@app.command()
def relay(
    service: str = typer.Argument(..., help="Whose outbox to publish."),
    database_url: str = typer.Option(None, help="Default: <SERVICE>_DATABASE_URL."),
) -> None:
    """Run a service's outbox relay alone (one is active per service; others stand by)."""
    from tansiq_common.events import relay as relay_module

    args = ["--service", service]
    if database_url:
        args += ["--database-url", database_url]
    relay_module.main(args)


def _find_consumer(name: str, service: str | None) -> tuple[str, Any, Any]:
    """Build the service apps (no lifespan) so their consumer components register their specs."""
    from tansiq_common.events.consumer import CONSUMERS

    for candidate in [service] if service else SERVICES:
        already_known = name in CONSUMERS
        importlib.import_module(f"tansiq_{candidate}.app").create_app()
        if name in CONSUMERS and (service or not already_known):
            settings = importlib.import_module(f"tansiq_{candidate}.settings").get_settings()
            return candidate, CONSUMERS[name], settings
    known = ", ".join(sorted(CONSUMERS)) or "none"
    raise typer.BadParameter(f"no consumer {name!r} (known: {known})")


def replay(
    consumer: str = typer.Argument(
        ...,
        help="What to rebuild: `reporting` (the reporting service: every read model, counter "
        "and finding), or a consumer's name, e.g. organizations.",
    ),
    service: str = typer.Option(
        None, help="The service running the consumer (default: search them all)."
    ),
) -> None:
    """Rebuild read models from the beginning of their topics.

    `tansiq replay reporting` rebuilds the reporting service whole (what
    `python -m tansiq_reporting.rebuild` runs): its replicas and counters from
    the three domain topics, then every finding re-evaluated on the complete
    replicas. The service may keep running meanwhile. A finding that still
    holds keeps its row as it was (id, version, decisions), so a rebuild of
    sound replicas changes nothing.

    Any other name replays that consumer's tables alone, e.g.
    `tansiq replay organizations --service agreements`.
    """
    from tansiq_common.db import Database
    from tansiq_common.events.replay import replay as run_replay

    if service in (None, "reporting"):
        from tansiq_reporting import rebuild

        # The reporting consumer's replicas are judged by the evaluator: a plain replay would
        # leave findings and counters behind, so its name means the service's full rebuild.
        if consumer in rebuild.CONSUMERS:
            rebuild.main([])
            return

    owner, spec, settings = _find_consumer(consumer, service)

    async def go() -> Any:
        db = Database(settings.database_url, pool_size=2, max_overflow=0)
        try:
            return await run_replay(
                spec,
                service=owner,
                sessionmaker=db.sessionmaker,
                bootstrap=settings.kafka_bootstrap_servers,
                topic_prefix=settings.topic_prefix or os.environ.get("TOPIC_PREFIX", ""),
            )
        finally:
            await db.dispose()

    result = asyncio.run(go())
    typer.echo(f"{owner}/{consumer}: replayed {result.messages} messages {result.outcomes}")


def _operator() -> str:
    """Who runs the command, for `redriven_by`: the login name and the host (pod)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _producer_service(topic: str) -> str | None:
    """The service whose Kafka user may write `topic` (None: an integration job's topic, or a
    topic Tansiq does not know)."""
    from tansiq_common.events.contracts import CONTRACTS

    contract = CONTRACTS.get(topic)
    if contract is None or contract.producer.endswith("/"):
        return None
    return contract.producer.removeprefix("/tansiq/")


@app.command()
def redrive(
    dlq: str = typer.Argument(..., help="The DLQ, e.g. registry.organization.v1.dlq."),
    ids: list[str] = typer.Option([], "--id", help="Only this event (ce_id); repeatable."),
    since: str = typer.Option(
        None, help="Only dead letters from then on: 2026-11-20, 2026-11-20T08:00+03:00, 6h, 2d."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be sent; send nothing."),
    service: str = typer.Option(
        None,
        help="Whose settings and Kafka credentials to use; default: the topic's producer. "
        "On Kubernetes only the producer may write its topic.",
    ),
    by: str = typer.Option(
        None, help="Who re-drives, recorded on each message (default user@host)."
    ),
) -> None:
    """Send dead letters back to their topic after the cause is fixed, each recorded on the
    message (redrive_count, redriven_at, redriven_by); one line per dead letter."""
    from tansiq_common.events.consumer import ConsumerSettings
    from tansiq_common.events.kafka import KafkaSecurity
    from tansiq_common.events.redrive import RedriveError, parse_since, source_topic
    from tansiq_common.events.redrive import redrive as run_redrive

    try:
        topic = source_topic(dlq)
        when = parse_since(since) if since else None
    except RedriveError as exc:
        raise typer.BadParameter(str(exc)) from exc
    producer = _producer_service(topic)
    if service and producer and service != producer:
        raise typer.BadParameter(
            f"{topic} is written by {producer} alone: re-drive with --service {producer}"
        )
    owner = service or producer
    if owner:
        if owner not in SERVICES:
            raise typer.BadParameter(f"no service {owner!r} (one of {', '.join(SERVICES)})")
        settings = importlib.import_module(f"tansiq_{owner}.settings").get_settings()
        bootstrap, prefix = settings.kafka_bootstrap_servers, settings.topic_prefix
        security = settings.kafka_security()
    else:  # an integration job's topic: its own credentials, from the environment
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        prefix, security = os.environ.get("TOPIC_PREFIX", ""), KafkaSecurity.from_env()
    counts: dict[str, int] = {}

    def report(outcome: Any) -> None:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
        typer.echo(outcome.line())

    try:
        asyncio.run(
            run_redrive(
                f"{prefix}{dlq}",
                bootstrap=bootstrap,
                operator=by or _operator(),
                ids=ids,
                since=when,
                dry_run=dry_run,
                max_redrives=ConsumerSettings().max_redrives,
                security=security,
                report=report,
            )
        )
    except RedriveError as exc:
        typer.echo(f"redrive: {exc}", err=True)
        raise typer.Exit(2) from exc
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing"
    typer.echo(f"{prefix}{dlq}: {summary}")
    if counts.get("refused"):
        raise typer.Exit(1)
