"""console sessions kept on the server, so a logout ends every copy of the cookie

The session cookie used to carry the user's id, signed: a copy taken before logout stayed valid
until its 8 hours ran out. It now carries a random session id whose row here is ended by logout,
by deactivating the user and by changing their role.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_console_session_user", "console_session", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_console_session_user", table_name="console_session")
    op.drop_table("console_session")
