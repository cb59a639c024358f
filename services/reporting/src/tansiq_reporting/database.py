"""The reporting database's declarative base; domain tables hang off its metadata."""

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import DeclarativeBase
from tansiq_common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


# What the query functions read with: the request path's autocommit connection, or a session.
Reader = AsyncConnection | AsyncSession
