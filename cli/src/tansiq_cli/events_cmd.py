"""Event backbone commands: `tansiq replay <consumer>` and `tansiq events topics|asyncapi|relay`."""

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
    consumer: str = typer.Argument(..., help="The consumer's name, e.g. agreements.organizations."),
    service: str = typer.Option(None, help="The service running it (default: search them all)."),
) -> None:
    """Rebuild a consumer's read models from the beginning of its topics."""
    from tansiq_common.db import Database
    from tansiq_common.events.replay import replay as run_replay

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
