"""Registry commands: `tansiq seed` (demo organizations) and `tansiq import organizations FILE`."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import typer

import_app = typer.Typer(help="Import records from files.", no_args_is_help=True)


@import_app.callback()
def _import_group() -> None:
    """Import records from files (a group, so more record types can follow)."""


def _with_database(
    work: Callable[[Any, Any], Awaitable[dict[str, Any]]], service: str = "registry"
) -> dict[str, Any]:
    from tansiq_common.db import Database

    settings = importlib.import_module(f"tansiq_{service}.settings").get_settings()

    async def main() -> dict[str, Any]:
        db = Database(settings.database_url, application_name="tansiq-cli")
        try:
            return await work(db, settings)
        finally:
            await db.dispose()

    return asyncio.run(main())


# Services after the registry that bring demo data: `tansiq_<name>.demo.seed(db, settings)`
# returns a report with at least `created`, `kept` and `failed` (and `errors` when it failed).
DEMO_SERVICES = ("agreements", "engagements", "reporting")
SEED_WAIT_S = 90.0


def seed() -> None:
    """Load the demo data: the registry's organizations first, then each service's records.

    Missing records are created; those already there are kept as users left them, so running
    it again changes nothing and never fails on what users did meanwhile.
    """
    from tansiq_registry.organizations.demo import seed as seed_registry

    report = _with_database(lambda db, s: seed_registry(db, s.home_countries))
    _say("registry", report)
    failed = bool(report["failed"])
    for name in DEMO_SERVICES:
        try:
            demo = importlib.import_module(f"tansiq_{name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name in (f"tansiq_{name}.demo", f"tansiq_{name}"):
                continue
            raise
        report = _seed_when_ready(name, demo.seed)
        _say(name, report)
        failed = failed or bool(report["failed"])
    if failed:
        raise typer.Exit(1)


def _seed_when_ready(
    name: str, work: Callable[[Any, Any], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """A service's seed, tried again while it fails for up to SEED_WAIT_S: right after the
    registry's seed its organizations are still on their way to the service's replica. Seeds
    are idempotent, so a retry only adds what is missing."""
    deadline = time.monotonic() + SEED_WAIT_S
    while True:
        report = _with_database(work, service=name)
        if not report["failed"] or time.monotonic() > deadline:
            return report
        time.sleep(1.0)


def _say(name: str, report: dict[str, Any]) -> None:
    typer.echo(
        f"{name}: {report['created']} created, {report['kept']} kept as they are, "
        f"{report['failed']} failed"
    )
    if report["failed"]:
        typer.echo(json.dumps(report.get("errors", []), ensure_ascii=False, indent=2), err=True)


@import_app.command("organizations")
def import_organizations(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file"),
) -> None:
    """Import organizations from CSV; invalid rows are reported, valid rows imported."""
    from tansiq_common.uow import SystemActor, UnitOfWork
    from tansiq_registry.organizations.importer import Importer, parse_csv

    text = file.read_text(encoding="utf-8-sig")

    async def work(db: Any, settings: Any) -> dict[str, Any]:
        rows = parse_csv(text, max_rows=settings.import_max_rows)
        actor = SystemActor(sub="tansiq-cli-import", roles=frozenset({"registry_admin"}))
        uow = UnitOfWork(db.sessionmaker, actor=actor)
        outcome = await Importer(uow, settings.home_countries).run(rows)
        return outcome.report()

    try:
        report = _with_database(work)
    except Exception as exc:  # a Problem from the header check: say it plainly
        detail = getattr(exc, "detail", None) or str(exc)
        typer.echo(f"import failed: {detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    if report["failed"]:
        raise typer.Exit(1)
