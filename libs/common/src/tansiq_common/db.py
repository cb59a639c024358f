"""Async SQLAlchemy engine and session factory, created in the app's lifespan (never at import)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tansiq_common.domain import DomainError

# Stable constraint names, so Alembic migrations can drop and alter them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class ValueNotStorable(DomainError):
    """A value the database cannot hold (a time or a number out of its range, a character its
    text refuses): the client's input, so a 422 rather than an error of the service."""

    slug, title = "value-out-of-range", "Value out of range"


# SQLSTATEs of PostgreSQL "data exceptions" that a client's value causes: string too long (22001),
# number out of range (22003), bad or overflowing time (22007, 22008), NUL or a character
# outside the encoding (22021, 22P05), text that is not the column's type (22P02).
_CLIENT_DATA_STATES = frozenset({"22001", "22003", "22007", "22008", "22021", "22P02", "22P05"})


def _stopped_by_range(error: BaseException) -> bool:
    cause = error.__cause__ or error.__context__
    while cause is not None:
        if type(cause) in (OverflowError, ValueError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _value_not_storable(context: ExceptionContext) -> None:
    """Engine `handle_error` hook: turn those data exceptions into ValueNotStorable.

    asyncpg refuses a value it cannot encode (a time before year 1 in UTC, an integer beyond
    int8) before sending it, with SQLSTATE 22000 and the OverflowError or ValueError that
    stopped it as its cause; a TypeError there is the service binding a wrong type, a bug, and
    stays an error. The database's message (which may quote the value) is not passed on.
    """
    error = context.original_exception
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate in _CLIENT_DATA_STATES or (sqlstate == "22000" and _stopped_by_range(error)):
        raise ValueNotStorable(
            "A value in the request cannot be stored: it is out of range, or contains a "
            "character the database refuses."
        ) from None


class Database:
    """One engine per process; sessions are short and owned by a unit of work."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        statement_timeout_ms: int = 30_000,
        application_name: str = "tansiq",
        **engine_options: Any,
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # No ping per checkout (a round trip on every request): a connection the database
            # dropped fails its statement, SQLAlchemy invalidates the pool, and the request
            # answers 503 with Retry-After (tansiq_common.problems), so a retry gets a new one.
            pool_pre_ping=False,
            # bound values (contact e-mails and phones) stay out of error messages and logs
            hide_parameters=True,
            connect_args={
                "server_settings": {
                    "application_name": application_name,
                    "statement_timeout": str(statement_timeout_ms),
                }
            },
            **engine_options,
        )
        event.listen(self.engine.sync_engine, "handle_error", _value_not_storable)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False
        )

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
