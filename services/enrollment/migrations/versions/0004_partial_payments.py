"""Payments that add up: a contribution row is what one payment brought to one period.

A period may now have several rows (partial payments) and one payment several rows (several
periods, same `payment_id`); `settles` marks the row that paid the period in full, and only
one row per period may do that. Rows written before this revision each paid their period
(any amount did), so they keep doing so: `settles` true, `payment_id` their own id, `cost`
unknown (null).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SETTLED = sa.text("settles")


def upgrade() -> None:
    with op.batch_alter_table("contributions") as batch:
        batch.add_column(sa.Column("payment_id", sa.String(36)))
        batch.add_column(sa.Column("cost", sa.Integer))
        batch.add_column(sa.Column("settles", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.drop_constraint("uq_contributions_period", type_="unique")
    contributions = sa.table(
        "contributions", sa.column("id", sa.String), sa.column("payment_id", sa.String)
    )
    op.execute(sa.update(contributions).values(payment_id=contributions.c.id))
    op.create_index(
        "ix_contributions_participant_period", "contributions", ["participant_id", "period"]
    )
    op.create_index(
        "uq_contributions_settled",
        "contributions",
        ["participant_id", "period"],
        unique=True,
        sqlite_where=_SETTLED,
        postgresql_where=_SETTLED,
    )


def downgrade() -> None:
    op.drop_index("uq_contributions_settled", "contributions")
    op.drop_index("ix_contributions_participant_period", "contributions")
    with op.batch_alter_table("contributions") as batch:
        batch.drop_column("settles")
        batch.drop_column("cost")
        batch.drop_column("payment_id")
        batch.create_unique_constraint("uq_contributions_period", ["participant_id", "period"])
