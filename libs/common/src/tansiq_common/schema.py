"""Tables every service database has besides its domain tables.

They live in one MetaData here so the shared code (unit of work, relay, consumers, idempotency,
audit) can query them; each service creates them in its first Alembic migration through
``create_infrastructure``. A later change to these tables needs a migration in every service.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from tansiq_common.db import new_metadata

infra_metadata = new_metadata()

# Transactional outbox. The first five columns are what Debezium's outbox event router reads.
outbox = sa.Table(
    "outbox",
    infra_metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),  # the CloudEvents ce_id
    sa.Column("aggregatetype", sa.Text, nullable=False),
    sa.Column("aggregateid", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),  # the CloudEvents ce_type
    sa.Column("payload", JSONB, nullable=False),
    # Ordering of pending rows only; never a cursor (sequence values commit out of order).
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False, unique=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("last_error", sa.Text, nullable=True),
)
sa.Index("ix_outbox_pending", outbox.c.seq, postgresql_where=outbox.c.sent_at.is_(None))
sa.Index("ix_outbox_sent_at", outbox.c.sent_at, postgresql_where=outbox.c.sent_at.isnot(None))

# Event ids a consumer has applied, written in the same transaction as the read-model change.
processed_events = sa.Table(
    "processed_events",
    infra_metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column(
        "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

# Idempotency-Key store: the first response to (caller, key) is replayed for 24 h.
idempotency_keys = sa.Table(
    "idempotency_keys",
    infra_metadata,
    sa.Column("caller", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),  # null while the first request runs
    sa.Column("response_headers", JSONB, nullable=True),
    sa.Column("response_body", sa.LargeBinary, nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_idempotency_keys_expires_at", idempotency_keys.c.expires_at)

# Append-only audit trail; no API updates or deletes it.
audit_log = sa.Table(
    "audit_log",
    infra_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column(
        "occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("actor_sub", sa.Text, nullable=False),
    sa.Column("actor_org", sa.Text, nullable=True),
    sa.Column("actor_roles", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text, nullable=True),
    sa.Column("changed_fields", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
)
sa.Index("ix_audit_log_entity", audit_log.c.entity_type, audit_log.c.entity_id)
sa.Index("ix_audit_log_occurred_at", audit_log.c.occurred_at)

# Audit rows are append-only. The running service connects as a role that may only SELECT and
# INSERT them (migrations.grant_runtime_role) and does not own the table, so it can neither
# change the rows nor drop these triggers. The triggers also stop UPDATE and DELETE by anyone,
# and TRUNCATE by anyone but the table's owner: the migration role, which could drop the
# trigger anyway and which the tests use to empty their databases.
AUDIT_APPEND_ONLY_DDL = (
    """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' AND pg_has_role(
       current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE OR REPLACE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
)


def create_infrastructure(bind: sa.engine.Connection) -> None:
    """Called from each service's first migration."""
    infra_metadata.create_all(bind)
    ensure_audit_append_only(bind)


def ensure_audit_append_only(bind: sa.engine.Connection) -> None:
    """(Re)create the audit log's triggers; idempotent, and a no-op without the table. Run
    after every migration, so databases migrated before a trigger existed get it too."""
    if bind.exec_driver_sql("SELECT to_regclass('audit_log')").scalar() is None:
        return
    for statement in AUDIT_APPEND_ONLY_DDL:
        bind.exec_driver_sql(statement)


def drop_infrastructure(bind: sa.engine.Connection) -> None:
    infra_metadata.drop_all(bind)
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE")
