"""The WhatsApp opt-in: WhatsApp's rules ask for one per channel, and consent to reminders is
not one. Everyone registered before it was asked has not given it (false).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping the
    # old one fails while payments reference its rows
    op.add_column(
        "participants",
        sa.Column("consent_whatsapp", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("consent_whatsapp")
