"""people in the loop: questions to people, durable step results, manual handling,
acknowledged reminders

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("work_item") as batch:
        batch.add_column(sa.Column("team", sa.String(60), nullable=True))
        batch.add_column(sa.Column("assigned_to", sa.String(120), nullable=True))
        batch.add_column(
            sa.Column("handled_manually", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "question",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("item_id", BigId, sa.ForeignKey("work_item.id"), nullable=False),
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("to_role", sa.String(20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("answered_by", sa.String(120), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("on_deadline", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "key", name="uq_question_item_key"),
    )
    op.create_index("ix_question_item_id", "question", ["item_id"])
    op.create_index("ix_question_status", "question", ["status", "to_role"])
    op.create_table(
        "step_result",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("item_id", BigId, sa.ForeignKey("work_item.id"), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "key", name="uq_step_result_item_key"),
    )
    op.create_index("ix_step_result_item_id", "step_result", ["item_id"])
    op.create_table(
        "acknowledgement",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("by", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("acknowledgement")
    op.drop_table("step_result")
    op.drop_table("question")
    with op.batch_alter_table("work_item") as batch:
        batch.drop_column("handled_manually")
        batch.drop_column("assigned_to")
        batch.drop_column("team")
