"""Async SQLAlchemy engine and session factory, created in the app's lifespan (never at import)."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from sqlalchemy import MetaData, event, make_url, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tansiq_common.domain import DomainError
from tansiq_common.pool import DriverPool, FairPool
from tansiq_common.problems import ServiceUnavailable

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


def _not_storable(error: BaseException) -> bool:
    """asyncpg refuses a value it cannot encode (a time before year 1 in UTC, an integer beyond
    int8) before sending it, with SQLSTATE 22000 and the OverflowError or ValueError that
    stopped it as its cause; a TypeError there is the service binding a wrong type, a bug, and
    stays an error."""
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate in _CLIENT_DATA_STATES or (sqlstate == "22000" and _stopped_by_range(error))


def _refused_value() -> ValueNotStorable:
    # The database's message (which may quote the value) is not passed on.
    return ValueNotStorable(
        "A value in the request cannot be stored: it is out of range, or contains a "
        "character the database refuses."
    )


def _value_not_storable(context: ExceptionContext) -> None:
    """Engine `handle_error` hook: turn those data exceptions into ValueNotStorable."""
    if _not_storable(context.original_exception):
        raise _refused_value() from None


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
        pool_timeout: float = 30.0,
        read_pool_size: int | None = None,
        write_pool_size: int | None = None,
        **engine_options: Any,
    ) -> None:
        self.url = url
        server_settings = {
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
        }
        self.engine: AsyncEngine = create_async_engine(
            url,
            # Every connection, once opened, is kept: SQLAlchemy closes an "overflow" connection
            # when it is returned to a full pool, so under a load above `pool_size` each request
            # paid a new connection (TCP, SSL negotiation, startup) and its teardown, ~5 % of
            # the CPU of a GET. The bound on open connections is unchanged (size + overflow).
            pool_size=pool_size + max_overflow,
            max_overflow=0,
            # Waiting requests get connections in the order they asked (tansiq_common.pool).
            poolclass=FairPool,
            pool_timeout=pool_timeout,
            # No ping per checkout (a round trip on every request): a connection the database
            # dropped fails its statement, SQLAlchemy invalidates the pool, and the request
            # answers 503 with Retry-After (tansiq_common.problems), so a retry gets a new one.
            pool_pre_ping=False,
            # bound values (contact e-mails and phones) stay out of error messages and logs
            hide_parameters=True,
            connect_args={"server_settings": server_settings},
            **engine_options,
        )
        # The reads on the driver (DriverReads) and the requests' units of work have connections
        # of their own: `read_pool_size` and `write_pool_size` (default: `pool_size`) more,
        # opened as needed. Two pools, so a burst of one kind never starves the other.
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.driver_pool = DriverPool(
            dsn, size=read_pool_size or pool_size, timeout=pool_timeout,
            server_settings=server_settings,
        )  # fmt: skip
        self.write_pool = DriverPool(
            dsn, size=write_pool_size or pool_size, timeout=pool_timeout,
            server_settings=server_settings,
        )  # fmt: skip
        self.reads = DriverReads(self.driver_pool)
        event.listen(self.engine.sync_engine, "handle_error", _value_not_storable)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False
        )

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def dispose(self) -> None:
        await self.write_pool.close()
        await self.driver_pool.close()
        await self.engine.dispose()


def numbered(sql: str, *names: str, start: int = 1) -> str:
    """`sql` with its `:name` parameters as asyncpg's $n, n being the name's place in `names`
    (counted from `start`): a statement written once serves SQLAlchemy's `text()` and the
    driver."""
    for number, name in enumerate(names, start):
        sql, count = re.subn(rf"(?<![:\w]):{name}\b", f"${number}", sql)
        if not count:
            raise ValueError(f"no :{name} in the statement")
    return sql


class Params:
    """The arguments of a DriverReads statement: `bind(value)` adds one and answers its
    placeholder. Only column names and $n placeholders are spliced into the text; every value
    is bound, so the text depends only on which filters are given and asyncpg prepares each
    shape once per connection."""

    __slots__ = ("args",)

    def __init__(self, *args: Any) -> None:
        self.args: list[Any] = list(args)

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


class DriverReads:
    """Reads on the driver's own connection (asyncpg), from the driver pool: SQL text with $n
    parameters, written once, and asyncpg records, with none of SQLAlchemy's statement, result
    and pool machinery around each statement (most of a GET's cost besides the query). No
    transaction: one statement each, or several on `connection()` that need no common snapshot.

    What the engine does for its own statements holds here too: a value the database cannot
    hold is ValueNotStorable (422); a lost connection is closed (the pool opens a new one) and
    answered 503 with Retry-After.
    """

    def __init__(self, pool: DriverPool) -> None:
        self.pool = pool

    def connection(self) -> _Checkout:
        """`async with reads.connection() as connection:` for several statements."""
        return _Checkout(self.pool)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with _Checkout(self.pool) as connection:
            row: asyncpg.Record | None = await connection.fetchrow(sql, *args)
            return row

    async def fetch(
        self, sql: str, *args: Any, plan_per_call: bool = False
    ) -> list[asyncpg.Record]:
        """`plan_per_call` for searches: asyncpg prepares a statement once per connection, and
        PostgreSQL may switch a prepared statement to a generic plan after five runs. A generic
        plan cannot see a LIKE pattern, so it costs every term at a fixed 0.5 % and picks one
        plan for all of them: an index scan in page order that filters the whole table for a
        rare term, or trigram bitmaps that sort thousands of rows for common ones
        (`benchmarks/registry_bench.py --explain` shows both). A plan per pattern costs about a
        millisecond of planning and is right for rare and common terms alike."""
        async with _Checkout(self.pool) as connection:
            if plan_per_call:
                return await _fetch_planned_per_call(connection, sql, *args)
            rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
            return rows


class _Checkout:
    """A connection of the driver pool for one block, and what its failure is answered as. A
    class, not a generator-based context manager: it is on every read's path.

    The connection is closed unless the block ends normally or by an error that leaves it
    sound: a request cancelled mid-statement (BaseException) leaves its protocol state unknown.
    """

    __slots__ = ("connection", "pool")

    def __init__(self, pool: DriverPool) -> None:
        self.pool = pool

    async def __aenter__(self) -> asyncpg.Connection:
        self.connection = await self.pool.acquire()
        return self.connection

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None:
            self.pool.release(self.connection)
            return
        self.pool.release(self.connection, discard=_connection_lost(exc))
        answer = driver_error(exc)
        if answer is not None:
            raise answer from None


async def _fetch_planned_per_call(
    connection: asyncpg.Connection, sql: str, *args: Any
) -> list[asyncpg.Record]:
    await connection.execute("SET plan_cache_mode = force_custom_plan")
    try:
        rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
    finally:
        # A cancelled statement leaves the connection closed by the pool, setting and all.
        await connection.execute("RESET plan_cache_mode")
    return rows


def _connection_lost(exc: BaseException) -> bool:
    # A cancelled request (not an Exception) is counted as lost: its statement may be mid-way.
    # A server shutting down (57P01-03) ends the session as it answers; a statement timeout,
    # of the same class (57014), does not.
    return not isinstance(exc, Exception) or isinstance(
        exc,
        OSError
        | asyncpg.InterfaceError
        | asyncpg.PostgresConnectionError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.CannotConnectNowError,
    )


def driver_error(exc: BaseException) -> Exception | None:
    """What a statement's failure on the driver (a read's or a unit of work's) is answered
    as: 503 for a lost connection, 422 for a value the database cannot hold; None: the error
    itself."""
    if not isinstance(exc, Exception):
        return None
    if _connection_lost(exc):
        return ServiceUnavailable("The database connection was lost; retry.", retry_after=1)
    if _not_storable(exc):
        return _refused_value()
    return None
