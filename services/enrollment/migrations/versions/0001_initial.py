"""Initial schema: participants, contributions, campaigns, broadcasts, outbox, API keys.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("nik_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("nik_masked", sa.String(16), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("province_code", sa.String(2), nullable=False),
        sa.Column("phone_e164", sa.String(20), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("segment", sa.String(64), nullable=False),
        sa.Column("branch_code", sa.String(64), nullable=False),
        sa.Column("campaign_code", sa.String(64)),
        sa.Column("programmes", sa.String(32), nullable=False),
        sa.Column("declared_income", sa.Integer, nullable=False),
        sa.Column("monthly_contribution", sa.Integer, nullable=False),
        sa.Column("preferred_channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("consent_reminders", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("community", sa.String(200)),
        sa.Column("officer_id", sa.String(64)),
        sa.Column("opted_out_channels", sa.String(64), nullable=False, server_default=""),
        sa.Column("registered_at", TZ, nullable=False),
    )
    op.create_index("ix_participants_branch_seq", "participants", ["branch_code", "seq"])
    op.create_index("ix_participants_campaign_seq", "participants", ["campaign_code", "seq"])
    op.create_index("ix_participants_registered_at", "participants", ["registered_at"])
    op.create_table(
        "contributions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "participant_id", sa.String(36), sa.ForeignKey("participants.id"), nullable=False
        ),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("paid_at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("recorded_by", sa.String(64)),
        sa.UniqueConstraint("participant_id", "period", name="uq_contributions_period"),
    )
    op.create_table(
        "campaigns",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("branch_codes", sa.Text, nullable=False, server_default=""),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("campaign_code", sa.String(64), sa.ForeignKey("campaigns.code"), nullable=False),
        sa.Column("message_kind", sa.String(64), nullable=False),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64)),
        sa.Column("requested_at", TZ, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("published_at", TZ),
    )
    # Partial index: the relay only ever scans rows still waiting to be published.
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("branch_code", sa.String(64)),
        sa.Column("label", sa.String(200)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "api_keys",
        "outbox",
        "broadcasts",
        "campaigns",
        "contributions",
        "participants",
    ):
        op.drop_table(table)
