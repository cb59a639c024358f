"""Indicator definitions: reporting's own records (not emptied by a replay)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from tansiq_reporting.database import Base

metadata = Base.metadata

indicators = sa.Table(
    "indicators",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("name", JSONB, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("filters", JSONB, nullable=False),
    sa.Column("window", sa.Text, nullable=False),
    sa.Column("baseline", JSONB, nullable=False),
    sa.Column("target", JSONB, nullable=False),
    sa.Column("direction", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("source_key", sa.Text, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("uq_indicators_source_key", indicators.c.source_key, unique=True)
sa.Index("ix_indicators_page", indicators.c.created_at, indicators.c.id)
