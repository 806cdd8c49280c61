"""The queue's hot-path SQL, built once with bind parameters.

Building a SQLAlchemy statement costs more Python time than SQLite takes to run it; statements
built once and executed with parameters hit the compiled cache straight away. This is what keeps
the framework's cost per item close to a bare SQL claim loop (see bench/queue.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, TextualSelect, Update, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from robots.models import ItemStatus, Run, RunEvent, Worker, WorkItem

# What taking an item sets: running, one attempt more, leased to the worker.
_LEASE = dict(
    status=ItemStatus.RUNNING,
    attempts=WorkItem.attempts + 1,
    lease_owner=bindparam("worker_id"),
    lease_expires_at=bindparam("lease_until"),
    updated_at=bindparam("now"),
)

_claim_order = (WorkItem.priority.desc(), WorkItem.not_before, WorkItem.id)

candidates = (
    select(WorkItem.id, WorkItem.systems)
    .where(
        WorkItem.status == ItemStatus.PENDING,
        WorkItem.not_before <= bindparam("now"),
        WorkItem.task.in_(bindparam("names", expanding=True)),
    )
    .order_by(*_claim_order)
    .limit(bindparam("batch"))
)
candidates_locked = candidates.with_for_update(skip_locked=True)

# Running items per system combination, read without locks: which limited systems are full.
running_by_systems = (
    select(WorkItem.systems, func.count())
    .where(WorkItem.status == ItemStatus.RUNNING, WorkItem.systems != "")
    .group_by(WorkItem.systems)
)


@lru_cache(maxsize=64)
def candidates_avoiding(full: tuple[str, ...], locked: bool) -> Select[int, str] | TextualSelect:
    """The candidates, leaving out items on systems that are full: without this the head of
    the queue fills with items that cannot start, and the items behind them (other systems,
    none) starve (bench/fleet.py: 200 workers ran at half the demand)."""
    if not locked:
        return sqlite_candidates(full)
    query = candidates.where(*(~WorkItem.systems.like(f"%,{name},%") for name in full))
    return query.with_for_update(skip_locked=True)


@lru_cache(maxsize=64)
def sqlite_candidates(full: tuple[str, ...] = (), columns: str = "id, systems") -> TextualSelect:
    """SQLite: the candidates through the claim index by name. Without statistics (nobody runs
    ANALYZE on an installation's SQLite file) the planner prefers the (status, task) index and
    then sorts every waiting item: 60 ms a claim with 100,000 waiting, against 0.1 ms in the
    claim index's order. The status is written out, so that the partial index applies."""
    avoid = "".join(f" AND systems NOT LIKE :avoid_{n}" for n in range(len(full)))
    query = text(
        f"SELECT {columns} FROM work_item INDEXED BY ix_work_item_claim "
        f"WHERE status = 'pending' AND not_before <= :now AND task IN :names{avoid} "
        "ORDER BY priority DESC, not_before, id LIMIT :batch"
    ).bindparams(
        bindparam("now", type_=WorkItem.not_before.type),
        bindparam("names", expanding=True),
        *(bindparam(f"avoid_{n}", value=f"%,{name},%") for n, name in enumerate(full)),
    )
    if columns == "id":
        return query.columns(WorkItem.id)
    return query.columns(WorkItem.id, WorkItem.systems)


def _take_next(locked: bool) -> Update:
    """Claim the first eligible item in one statement (no per-system limit to check)."""
    if locked:
        one = candidates.with_only_columns(WorkItem.id).with_for_update(skip_locked=True)
        inner: Any = one.params(batch=1).scalar_subquery()
    else:
        inner = sqlite_candidates((), "id").bindparams(batch=1).scalar_subquery()
    return (
        update(WorkItem)
        .where(WorkItem.id == inner)
        .values(**_LEASE)
        .returning(
            WorkItem.id, WorkItem.task, WorkItem.reference, WorkItem.payload, WorkItem.attempts
        )
    )


take_next = _take_next(locked=False)
take_next_locked = _take_next(locked=True)

expired = select(WorkItem.id).where(
    WorkItem.status == ItemStatus.RUNNING, WorkItem.lease_expires_at < bindparam("now")
)
expired_locked = expired.with_for_update(skip_locked=True)

take = (
    update(WorkItem)
    .where(WorkItem.id == bindparam("item_id"))
    .values(**_LEASE)
    .returning(WorkItem.task, WorkItem.reference, WorkItem.payload, WorkItem.attempts)
)

worker_state = (
    update(Worker)
    .where(Worker.id == bindparam("worker_id"))
    .values(
        status=bindparam("state"),
        current_item_id=bindparam("item_id"),
        heartbeat_at=bindparam("now"),
    )
)

new_run = insert(Run).returning(Run.id)

take_by_id = (
    update(WorkItem)
    .where(WorkItem.id == bindparam("item_id"))
    .values(**_LEASE)
    .returning(WorkItem.id, WorkItem.task, WorkItem.reference, WorkItem.payload, WorkItem.attempts)
)


def _with_run(take: Update) -> Select[int, str, str, Any, int, int]:
    """PostgreSQL: the take and its run row in one statement (data-modifying CTEs)."""
    taken = take.cte("taken")
    run = (
        insert(Run)
        .from_select(
            ["item_id", "attempt", "worker_id", "host", "pid", "started_at"],
            select(
                taken.c.id,
                taken.c.attempts,
                bindparam("worker_id"),
                bindparam("host"),
                bindparam("pid"),
                bindparam("now", type_=Run.started_at.type),
            ),
        )
        .returning(Run.id, Run.item_id)
        .cte("new_run")
    )
    return select(
        taken.c.id, taken.c.task, taken.c.reference, taken.c.payload, taken.c.attempts, run.c.id
    ).join_from(taken, run, run.c.item_id == taken.c.id)


# A worker whose heartbeat is older than a lease is gone (killed, powered off): its items are
# reclaimed, and the worker table says so instead of showing it idle or busy for ever.
mark_dead_workers = (
    update(Worker)
    .where(
        Worker.status.in_(("idle", "busy", "stopping")),
        Worker.heartbeat_at < bindparam("stale_before"),
    )
    .values(status="dead", current_item_id=None)
)

try_system_lock = select(func.pg_try_advisory_xact_lock(bindparam("k")))

running_on_system = (
    select(func.count())
    .select_from(WorkItem)
    .where(WorkItem.status == ItemStatus.RUNNING, WorkItem.systems.like(bindparam("pattern")))
)

renew = (
    update(WorkItem)
    .where(
        WorkItem.id == bindparam("item_id"),
        WorkItem.lease_owner == bindparam("worker_id"),
        WorkItem.status == ItemStatus.RUNNING,
    )
    .values(lease_expires_at=bindparam("lease_until"))
)

item_state = (
    select(
        WorkItem.status,
        WorkItem.lease_owner,
        WorkItem.failures,
        WorkItem.max_attempts,
        Run.outcome,
    )
    .join(Run, Run.item_id == WorkItem.id)
    .where(WorkItem.id == bindparam("item_id"), Run.id == bindparam("run_id"))
)
item_state_locked = item_state.with_for_update(of=WorkItem)

settle_run = (
    update(Run)
    .where(Run.id == bindparam("run_id"))
    .values(
        outcome=bindparam("run_outcome"),
        ended_at=bindparam("now"),
        error_message=bindparam("error"),
    )
)
# The same, storing what the run was made of (robots.provenance) with its outcome.
settle_run_with_provenance = settle_run.values(
    provenance=bindparam("data", type_=Run.provenance.type)
)

run_provenance = (
    update(Run)
    .where(Run.id == bindparam("run_id"))
    .values(provenance=bindparam("data", type_=Run.provenance.type))
)

# Storing a run-log line twice (a retried finish, a reclaim that copied the JSONL first) is a
# no-op: (run_id, seq) identifies the line.
add_events_sqlite = sqlite_insert(RunEvent).on_conflict_do_nothing(index_elements=["run_id", "seq"])
add_events_postgresql = pg_insert(RunEvent).on_conflict_do_nothing(index_elements=["run_id", "seq"])


@lru_cache(maxsize=32)
def settle_item(columns: tuple[str, ...]) -> Update:
    """UPDATE work_item SET <columns> = :v_<column> WHERE id = :item_id (one per outcome shape)."""
    return (
        update(WorkItem)
        .where(WorkItem.id == bindparam("item_id"))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


@lru_cache(maxsize=64)
def settle_run_and_item(columns: tuple[str, ...], provenance: bool = False) -> Update:
    """PostgreSQL: settle_run as a data-modifying CTE of settle_item, one statement. (The
    item's key is not `item_id`: an UPDATE takes a parameter named after one of its table's
    columns as a value to set, and run has an item_id.)"""
    return (
        update(WorkItem)
        .where(WorkItem.id == bindparam("settled_item"))
        .values({name: bindparam(f"v_{name}") for name in columns})
        .add_cte((settle_run_with_provenance if provenance else settle_run).cte("settled_run"))
    )


take_next_with_run = _with_run(take_next_locked)
take_by_id_with_run = _with_run(take_by_id)
