"""Alembic plumbing shared by every service's migrations/env.py.

Migrations run as the owner role (``<SERVICE>_MIGRATION_DATABASE_URL``); the service runs as a
separate runtime role (``<SERVICE>_DATABASE_RUNTIME_ROLE``, default ``tansiq_app``). After every
migration, in the same transaction, ``harden`` re-creates the audit log's triggers and grants the
runtime role what it needs and no more: SELECT, INSERT, UPDATE, DELETE on the service's tables
(also those later migrations create: default privileges), only SELECT and INSERT on the audit log,
only SELECT on Alembic's version table, no TRUNCATE and no ownership anywhere. A database without
that role (an external one whose operator runs everything as one role) migrates all the same,
with a log line saying the grants were skipped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from tansiq_common.schema import ensure_audit_append_only
from tansiq_common.settings import DEFAULT_RUNTIME_ROLE

log = logging.getLogger("tansiq.migrations")

# The runtime role may add audit rows and read them, nothing more.
APPEND_ONLY_TABLES = ("audit_log",)
# Migrations' own bookkeeping: the service may read its revision (health), never write it.
READ_ONLY_TABLES = ("alembic_version",)
RUNTIME_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _quoted(identifier: str) -> str:
    if not _IDENTIFIER.fullmatch(identifier):
        raise ValueError(f"not a plain lower-case identifier: {identifier!r}")
    return f'"{identifier}"'


def grant_runtime_role(
    connection: sa.Connection,
    role: str | None,
    *,
    schema: str = "public",
    append_only: Sequence[str] = APPEND_ONLY_TABLES,
    read_only: Sequence[str] = READ_ONLY_TABLES,
) -> bool:
    """Grant `role` DML on `schema`'s tables, append-only on `append_only`, read-only on
    `read_only`; False (and a log line) when there is nothing to grant to."""
    if not role:
        return False
    grantee, namespace = _quoted(role), _quoted(schema)
    found = connection.execute(
        sa.text(
            "SELECT r.rolsuper, pg_has_role(r.oid, current_user, 'MEMBER') AS owner_rights,"
            " current_user AS me FROM pg_roles r WHERE r.rolname = :role"
        ),
        {"role": role},
    ).first()
    if found is None:
        log.info("runtime role %s does not exist here: no grants made", role)
        return False
    if found.me == role:
        log.warning(
            "migrations run as the runtime role %s, which therefore owns the tables and can "
            "change the audit log: run them as the owner role (<SERVICE>_MIGRATION_DATABASE_URL)",
            role,
        )
        return False
    if found.rolsuper or found.owner_rights:
        log.warning(
            "runtime role %s is a superuser or has the owner's rights: grants cannot keep it "
            "from changing the audit log",
            role,
        )
    statements = [
        f"GRANT USAGE ON SCHEMA {namespace} TO {grantee}",
        f"GRANT {RUNTIME_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {namespace} TO {grantee}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {namespace} TO {grantee}",
        # Tables and sequences later migrations create (as this same owner role).
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {namespace}"
        f" GRANT {RUNTIME_TABLE_PRIVILEGES} ON TABLES TO {grantee}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {namespace}"
        f" GRANT USAGE, SELECT ON SEQUENCES TO {grantee}",
    ]
    for tables, privileges in ((append_only, "SELECT, INSERT"), (read_only, "SELECT")):
        for table in tables:
            name = f"{namespace}.{_quoted(table)}"
            if connection.execute(sa.text("SELECT to_regclass(:t)"), {"t": name}).scalar():
                statements += [
                    f"REVOKE ALL ON {name} FROM {grantee}",
                    f"GRANT {privileges} ON {name} TO {grantee}",
                ]
    for statement in statements:
        connection.exec_driver_sql(statement)
    log.info("runtime role %s granted its privileges", role)
    return True


def harden(connection: sa.Connection, runtime_role: str | None) -> None:
    """What runs after every migration: audit triggers, then the runtime role's grants."""
    ensure_audit_append_only(connection)
    grant_runtime_role(connection, runtime_role)


def alembic_config(migrations_dir: Path, url: str) -> Config:
    """A config that needs no alembic.ini: for the CLI, the migration Job and tests."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, url), revision)


def downgrade(migrations_dir: Path, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(migrations_dir, url), revision)


def run_env(
    target_metadata: sa.MetaData | Sequence[sa.MetaData],
    default_url: str,
    *,
    runtime_role: str | None = DEFAULT_RUNTIME_ROLE,
) -> None:
    """Body of a service's env.py: online migrations over asyncpg, one transaction, hardened
    (``harden``) before it commits. `default_url`: the service's migration URL, used when the
    caller (CLI, tests) set none in the Alembic config."""
    url = context.config.get_main_option("sqlalchemy.url") or default_url

    def run(connection: sa.Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
            harden(connection, runtime_role)

    async def main() -> None:
        engine = create_async_engine(url, poolclass=sa.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(main())
