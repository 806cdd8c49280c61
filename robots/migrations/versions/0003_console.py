"""console: users, API tokens, pauses

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "api_token",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "pause",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("paused_by", sa.String(120), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "name", name="uq_pause"),
    )
    # The auditor's usual searches: by task and time, by outcome and time.
    op.create_index("ix_work_item_task_created", "work_item", ["task", "created_at"])
    op.create_index("ix_run_outcome_started", "run", ["outcome", "started_at"])
    op.create_index("ix_work_item_reference", "work_item", ["reference"])
    op.create_index("ix_work_item_submitted_by", "work_item", ["submitted_by", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_work_item_submitted_by", "work_item")
    op.drop_index("ix_work_item_reference", "work_item")
    op.drop_index("ix_run_outcome_started", "run")
    op.drop_index("ix_work_item_task_created", "work_item")
    op.drop_table("pause")
    op.drop_table("api_token")
    op.drop_table("app_user")
