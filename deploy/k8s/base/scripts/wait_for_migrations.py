"""Wait until a service's database is at the head revision of the migrations in this image.

Runs as the Deployment's init container, so a new release's pods start only after its migration
Job has brought the schema up to date (kubectl applies the Job and the Deployment at once).
It only reads: the Job alone migrates, so replicas never race each other on Alembic.

Usage: python wait_for_migrations.py SERVICE [--timeout SECONDS]
Exit codes: 0 at head (or ahead, after a rollback), 1 still behind when the timeout ran out.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time

import asyncpg
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from tansiq_common.migrations import alembic_config

POLL_SECONDS = 3.0


def revisions(service: str) -> tuple[set[str], set[str], str]:
    """This image's head revisions, every revision it knows, and the service's database URL."""
    package = importlib.import_module(f"tansiq_{service}")
    settings = importlib.import_module(f"tansiq_{service}.settings").get_settings()
    url: str = settings.database_url
    script = ScriptDirectory.from_config(alembic_config(package.MIGRATIONS_DIR, url))
    known = {revision.revision for revision in script.walk_revisions()}
    return set(script.get_heads()), known, url


def schema_ready(applied: set[str], heads: set[str], known: set[str]) -> bool:
    """At head; or ahead of this image (a rolled-back release runs on the newer, expanded
    schema, which migrations keep backward compatible), never behind it."""
    if applied == heads:
        return True
    return bool(applied) and not (applied & known)


async def applied_revisions(url: str) -> set[str]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(plain, timeout=5)
    try:
        rows = await conn.fetch("select version_num from alembic_version")
    except asyncpg.UndefinedTableError:
        return set()  # not migrated at all yet
    finally:
        await conn.close()
    return {row["version_num"] for row in rows}


async def wait(service: str, give_up_after: float) -> bool:
    heads, known, url = revisions(service)
    deadline = time.monotonic() + give_up_after
    while True:
        try:
            applied = await applied_revisions(url)
        except (OSError, asyncpg.PostgresError) as exc:
            # The database may still be starting; that is a reason to wait, not to fail.
            applied = set()
            print(f"{service}: database not reachable yet ({type(exc).__name__})", flush=True)
        if schema_ready(applied, heads, known):
            print(f"{service}: schema at {', '.join(sorted(applied))}", flush=True)
            return True
        if time.monotonic() >= deadline:
            print(
                f"{service}: schema at {sorted(applied) or 'nothing'}, "
                f"this release needs {sorted(heads)}; is the migration Job failing?",
                file=sys.stderr,
                flush=True,
            )
            return False
        await asyncio.sleep(POLL_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=["registry", "agreements", "engagements", "reporting"])
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    return 0 if asyncio.run(wait(args.service, args.timeout)) else 1


if __name__ == "__main__":
    sys.exit(main())
