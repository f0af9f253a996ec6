"""Participant numbers: a column on participants (existing rows backfilled) and the serial counter.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.enrollment.domain.participant_number import participant_number

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    op.add_column("participants", sa.Column("participant_number", sa.String(11)))
    conn = op.get_bind()
    participants = sa.table(
        "participants", sa.column("seq", sa.Integer), sa.column("participant_number", sa.String)
    )
    # Existing participants get serials in registration order, so the earliest keep the
    # smallest numbers; new ones continue from the count.
    seqs = [row[0] for row in conn.execute(sa.select(participants.c.seq).order_by("seq"))]
    assign = (
        sa.update(participants)
        .where(participants.c.seq == sa.bindparam("row_seq"))
        .values(participant_number=sa.bindparam("number"))
    )
    for start in range(0, len(seqs), _BATCH):
        chunk = seqs[start : start + _BATCH]
        conn.execute(
            assign,
            [
                {"row_seq": seq, "number": participant_number(start + i + 1)}
                for i, seq in enumerate(chunk)
            ],
        )
    op.create_index("uq_participants_number", "participants", ["participant_number"], unique=True)
    if conn.dialect.name != "sqlite":
        op.alter_column("participants", "participant_number", nullable=False)
    # SQLite cannot make an added column NOT NULL without rebuilding the table, and the
    # rebuild's DROP TABLE fails the foreign key from contributions once anyone has paid (foreign
    # keys are on, and cannot be switched off inside the migration's transaction). The service
    # always writes a number; the unique index holds on both databases.
    op.create_table(
        "participant_serials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_serial", sa.Integer, nullable=False),
    )
    op.bulk_insert(
        sa.table("participant_serials", sa.column("id"), sa.column("last_serial")),
        [{"id": 1, "last_serial": len(seqs)}],
    )


def downgrade() -> None:
    op.drop_table("participant_serials")
    op.drop_index("uq_participants_number", "participants")
    op.drop_column("participants", "participant_number")
