"""operations: alerts and their deliveries, browser counters per worker, SSO subjects, what a
run was made of (provenance)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("sso_subject", sa.String(300), nullable=True))
        batch.create_unique_constraint("uq_app_user_sso_subject", ["sso_subject"])
    with op.batch_alter_table("worker") as batch:
        batch.add_column(
            sa.Column("browser_launches", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("browser_crashes", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index("ix_work_item_finished", "work_item", ["finished_at"])
    op.create_table(
        "alert",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(120), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_alert_status", "alert", ["status", "last_at"])
    op.create_table(
        "alert_delivery",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("alert_id", BigId, sa.ForeignKey("alert.id"), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_delivery_alert_id", "alert_delivery", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_work_item_finished", "work_item")
    op.drop_table("alert_delivery")
    op.drop_index("ix_alert_status", "alert")
    op.drop_table("alert")
    with op.batch_alter_table("worker") as batch:
        batch.drop_column("browser_crashes")
        batch.drop_column("browser_launches")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_constraint("uq_app_user_sso_subject", type_="unique")
        batch.drop_column("sso_subject")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("provenance")
