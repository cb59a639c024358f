"""The agreements replica: what engagements need to know of an agreement to link one.

Fed by `agreements.agreement.v1` (event-carried state, applied only when newer); on a miss the
agreements service is asked over REST.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from tansiq_engagements.database import Base

agreement_directory = sa.Table(
    "agreement_directory",
    Base.metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("owner_org_id", sa.Text, nullable=True),
    sa.Column("party_org_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("visibility", sa.Text, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
