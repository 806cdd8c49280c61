"""sick_leave_figure: the sick-leave percentage per month, municipality, area and unit

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sick_leave_figure",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("area", sa.String(200), nullable=False, server_default=""),
        sa.Column("unit", sa.String(200), nullable=False, server_default=""),
        sa.Column("agreed", sa.Float(), nullable=False),
        sa.Column("lost_certified", sa.Float(), nullable=False),
        sa.Column("lost_self", sa.Float(), nullable=False),
        sa.Column("employees", sa.Integer(), nullable=False),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("target_source", sa.Text(), nullable=False, server_default=""),
        sa.Column("computed_at", sa.DateTime(timezone=False), nullable=False),
        sa.UniqueConstraint("month", "area", "unit", name="uq_sick_leave_figure"),
    )


def downgrade() -> None:
    op.drop_table("sick_leave_figure")
