"""The database tables (SQLAlchemy Core); Alembic migrations in ../migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

metadata = MetaData()

participants = Table(
    "participants",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("nik_hash", String(64), nullable=False, unique=True),
    Column("nik_masked", String(16), nullable=False),
    Column("participant_number", String(11), nullable=False),
    Column("full_name", String(200), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("phone_e164", String(20), nullable=False),
    Column("email", String(320)),
    Column("segment", String(64), nullable=False),
    Column("branch_code", String(64), nullable=False),
    Column("campaign_code", String(64)),
    Column("programmes", String(32), nullable=False),
    Column("declared_income", Integer, nullable=False),
    Column("monthly_contribution", Integer, nullable=False),
    Column("preferred_channel", String(16), nullable=False),
    Column("language", String(2), nullable=False),
    Column("consent_reminders", Boolean, nullable=False),
    Column("consent_whatsapp", Boolean, nullable=False, server_default=false()),
    Column("source", String(16), nullable=False),
    Column("community", String(200)),
    Column("officer_id", String(64)),
    Column("opted_out_channels", String(64), nullable=False, default=""),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Index("uq_participants_number", "participant_number", unique=True),
    Index("ix_participants_branch_seq", "branch_code", "seq"),
    Index("ix_participants_campaign_seq", "campaign_code", "seq"),
    Index("ix_participants_registered_at", "registered_at"),
)

#: One row (id 1): the last participant number serial handed out (see participant_number.py).
participant_serials = Table(
    "participant_serials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_serial", Integer, nullable=False),
)

contributions = Table(
    "contributions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("period", String(7), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(64)),
    # one payment may bring money to several periods: one row each, sharing payment_id
    Column("payment_id", String(36)),
    Column("cost", Integer),  # what the period cost; null on rows from before 0004
    # this row paid the period in full (partial payments before it did not)
    Column("settles", Boolean, nullable=False, default=True),
    Index("ix_contributions_participant_period", "participant_id", "period"),
    Index(
        "uq_contributions_settled",
        "participant_id",
        "period",
        unique=True,
        sqlite_where=text("settles"),
        postgresql_where=text("settles"),
    ),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("branch_codes", Text, nullable=False, default=""),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
)

broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("campaign_code", String(64), ForeignKey("campaigns.code"), nullable=False),
    Column("message_kind", String(64), nullable=False),
    Column("audience", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("requested_by", String(64)),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)

#: Every change to a participant after registration: who (API key id and role), when, what.
#: `changes` is JSON {field: {"old": …, "new": …}}; the NIK is never correctable, so never in it.
participant_audit = Table(
    "participant_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("changes", Text, nullable=False),
    Column("actor_key_id", String(64), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("event_id", String(36)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_participant_audit_participant", "participant_id", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Index(
        "ix_outbox_unpublished",
        "id",
        sqlite_where=Column("published_at").is_(None),
        postgresql_where=Column("published_at").is_(None),
    ),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("branch_code", String(64)),
    Column("label", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

idempotency = Table(
    "idempotency_keys",
    metadata,
    Column("principal", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
