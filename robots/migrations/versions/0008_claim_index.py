"""the claim index in its claim order again on SQLite (priority DESC)

Migration 0006 added columns to work_item in batch mode, which on SQLite copies the table and
recreates its indexes from reflection: ix_work_item_claim came back as (priority, not_before,
id), without DESC. SQLite then could not walk it in the claim's order and sorted every waiting
item: a claim with 100,000 waiting took 65 ms instead of 0.4 (bench/queue.py).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIM_INDEX = (
    "CREATE INDEX ix_work_item_claim ON work_item (priority DESC, not_before, id) "
    "WHERE status = 'pending'"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL kept the index as it was made (ALTER TABLE ADD COLUMN)
    op.execute("DROP INDEX IF EXISTS ix_work_item_claim")
    op.execute(CLAIM_INDEX)


def downgrade() -> None:
    pass  # the index stays in its right order
