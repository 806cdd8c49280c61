"""system_state: each target system's state (available, credentials rejected, unavailable)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "system_state",
        sa.Column("system", sa.String(100), primary_key=True),
        sa.Column("state", sa.String(30), nullable=False, server_default="available"),
        sa.Column("since", sa.DateTime(timezone=False), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(120), nullable=False, server_default=""),
        sa.Column("unreachable_streak", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("probes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_probe_at", sa.DateTime(timezone=False), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("system_state")
