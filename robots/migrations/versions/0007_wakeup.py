"""wake idle workers: NOTIFY rpa_work when an item becomes pending (PostgreSQL only)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One notification per task and transaction: PostgreSQL folds identical NOTIFYs of a
# transaction into one, so a bulk submit of 10,000 items wakes each listener once.
FUNCTION = """
CREATE OR REPLACE FUNCTION rpa_notify_pending() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('rpa_work', NEW.task);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""

TRIGGER = """
CREATE TRIGGER work_item_pending_notify
AFTER INSERT OR UPDATE OF status ON work_item
FOR EACH ROW WHEN (NEW.status = 'pending')
EXECUTE FUNCTION rpa_notify_pending()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite workers poll (there is no LISTEN)
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS work_item_pending_notify ON work_item")
    op.execute("DROP FUNCTION IF EXISTS rpa_notify_pending()")
