"""The registry database's declarative base; domain tables hang off its metadata."""

from sqlalchemy.orm import DeclarativeBase
from tansiq_common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
