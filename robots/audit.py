"""The audit trail: who did what to what, chained by SHA-256 so an edit or a deletion shows.

Each row's hash covers its content and the previous row's hash. Appends are serialised (an
advisory transaction lock on PostgreSQL, the write lock on SQLite) so the chain never forks.
Each committed append is also anchored: a checkpoint signed with a key outside the database is
written to an append-only file (robots.anchor), so that cutting the newest rows, or rewriting a
row and recomputing every later hash, no longer verifies as intact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from robots.anchor import Anchor, Verified, VerifiedLog
from robots.masking import mask
from robots.models import AuditEvent, utcnow
from robots.storable import storable

GENESIS = "0" * 64
CHECKPOINT_EVERY = 1000  # events walked by incremental verifications between two checkpoints
_LOCK_KEY = 0x52504141  # "RPAA"


def _digest(
    prev_hash: str, ts: datetime, actor: str, action: str, target: str, details: Any
) -> str:
    body = json.dumps(
        [prev_hash, ts.strftime("%Y-%m-%dT%H:%M:%S.%f"), actor, action, target, details],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


_last = select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
_add = insert(AuditEvent).returning(AuditEvent.id)


def record(
    session: Session, actor: str, action: str, target: str, details: dict[str, Any] | None = None
) -> int:
    """Append one audit event in the caller's transaction; returns its id."""
    conn = session.connection()
    # Within one transaction (and outside savepoints) the chain's head is the row this
    # session appended last: the chain lock is held until the commit, so nobody else appends.
    # A bulk submit of 10,000 items then takes the lock and reads the head once, not 10,000
    # times.
    scope = session.get_transaction() if not conn.in_nested_transaction() else None
    head = session.info.get(_HEAD)
    if scope is not None and head is not None and head[0] is scope:
        last: Any = _Head(head[1], head[2])
    else:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        last = conn.execute(_last).first()
    prev = last.hash if last is not None else GENESIS
    if _PENDING not in session.info and not anchor_for(session).begun():
        # Anchoring begins (once; never again, even with the anchor gone): a chain with rows
        # has its head signed as the base (rows before it are covered by the hash links up to
        # it). The verification reports where it starts and holds the anchor to it.
        session.info[_BEGIN] = [(last.id, last.hash)] if last is not None else []
    ts = utcnow()
    actor, action, target = (
        storable(v)[:limit] for v, limit in ((actor, 120), (action, 40), (target, 200))
    )
    details = storable(mask(details)) if details else None
    chain_hash = _digest(prev, ts, actor, action, target, details)
    event_id = conn.execute(
        _add,
        {
            "ts": ts,
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
            "prev_hash": prev,
            "hash": chain_hash,
        },
    ).scalar_one()
    session.info.setdefault(_PENDING, []).append((event_id, chain_hash))
    session.info[_HEAD] = (scope, event_id, chain_hash) if scope is not None else None
    return event_id


@dataclass(frozen=True)
class _Head:
    id: int
    hash: str


# Each append is signed twice: just before the commit (a crash right after the commit still
# leaves the row signed) and just after it (a confirmed row that disappears later is a
# deletion; a row signed only before a rollback that never committed is not).
_PENDING = "rpa_audit_pending"
_BEGIN = "rpa_audit_begin"
_HEAD = "rpa_audit_head"  # (transaction, id, hash) of the row this session appended last
ANCHOR_KEY = "rpa_audit_anchor"


def anchor_for(session: Session) -> Anchor:
    anchor = session.info.get(ANCHOR_KEY)
    if anchor is None:
        from robots.settings import get_settings

        anchor = Anchor.for_settings(get_settings())
    return anchor


@orm_event.listens_for(Session, "before_commit")
def _sign_before_commit(session: Session) -> None:
    base = session.info.pop(_BEGIN, None)
    if base is not None:
        anchor_for(session).begin(base, utcnow().isoformat(timespec="seconds"))
    pending = session.info.get(_PENDING)
    if pending:
        anchor_for(session).append(pending, committed=False)


@orm_event.listens_for(Session, "after_commit")
def _confirm_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        anchor_for(session).append(pending, committed=True)


@orm_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_BEGIN, None)


@dataclass(frozen=True)
class Verification:
    intact: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""
    anchored_from: int | None = None  # first event id with a signed checkpoint (None: all)
    since: Verified | None = None  # the earlier verification this one went on from (None: all)
    last_id: int | None = None
    last_hash: str = ""

    @property
    def at(self) -> str:
        """ " ved hendelse N" where a row is named, else "" (the anchor itself is broken)."""
        return f" ved hendelse {self.first_broken_id}" if self.first_broken_id else ""


def verify(session: Session, anchor: Anchor | None = None, *, full: bool = True) -> Verification:
    """Verify the chain and leave a signed checkpoint of the result (robots.anchor.VerifiedLog).

    First the anchor is held to what earlier verifications recorded (`_held`): it must still
    reach as far, with the same content, and the row verified last must still have its hash.
    `full`: then walk every row from the first. Otherwise go on from the newest checkpoint: the
    rows after it are walked and matched with their signatures, and signed rows after it must
    still exist. Rows before the checkpoint are left to the full verification (an explicit
    action in the console and the scheduled task `vedlikehold.verify_audit`). Whatever looks
    broken from a checkpoint is verified again from the start, which says where."""
    anchor = anchor or anchor_for(session)
    log = VerifiedLog(anchor)
    entries = log.entries()
    broken = _held(session, anchor, entries, full=full)
    base = entries[0].base if entries else None
    if broken is not None:
        if broken.first_broken_id is not None:  # a row gone or changed: where does it begin?
            walked = _walk(session, anchor, None, True, base)
            return broken if walked.intact else walked
        return broken
    assert entries is not None  # (_held reports None)
    last = entries[-1] if entries else None
    start = last if not full and last is not None and last.full_at else None
    offset = anchor.size()
    result = _walk(session, anchor, start, entries != [], base)
    if not result.intact and start is not None:
        offset = anchor.size()
        result = _walk(session, anchor, None, True, base)
    now = utcnow().isoformat(timespec="seconds")
    # A full walk always leaves its checkpoint; an incremental one only every so many events,
    # so the checkpoint file grows with the trail (one line per CHECKPOINT_EVERY), not with
    # page views.
    due = result.since is None or result.checked - result.since.checked >= CHECKPOINT_EVERY
    if result.intact and result.last_id is not None and due:
        log.append(
            Verified(
                result.last_id,
                result.last_hash,
                result.checked,
                offset,
                result.anchored_from,
                now,
                now if result.since is None else result.since.full_at,
            ),
            seed=(last.digest, last.offset) if last is not None else ("", 0),
        )
    return result


def _held(
    session: Session, anchor: Anchor, entries: list[Verified] | None, *, full: bool
) -> Verification | None:
    """What the earlier verifications recorded, checked before any row is walked; None when it
    holds. A full verification checks the anchor's digest from its start, an incremental one
    the stretch up to the last verification."""
    where = "kontrollpunktene"
    if entries is None:
        return Verification(False, 0, None, f"{where}s kontrollogg er endret eller forfalsket")
    if not entries:
        if anchor.begun() and anchor.size() > 0:
            return Verification(
                False, 0, None, f"{where}s kontrollogg mangler (slettet), men {where} finnes"
            )
        return None
    pairs = list(zip([None, *entries], entries, strict=False))
    for before, entry in pairs if full else pairs[-1:]:
        if not entry.digest:
            continue  # written before digests were kept
        seed = (before.digest, before.offset) if before is not None else ("", 0)
        if anchor.store.digest(seed[0], seed[1], entry.offset) != entry.digest:
            return Verification(
                False,
                0,
                None,
                f"{where} er avkortet, slettet eller skrevet om siden kontrollen {entry.at} "
                f"(de rakk da til posisjon {entry.offset}, nå til {anchor.size()})",
            )
    last = entries[-1]
    if last.event_id:
        row = session.get(AuditEvent, last.event_id)
        if row is None or row.hash != last.chain_hash:
            return Verification(
                False,
                0,
                last.event_id,
                f"hendelse {last.event_id}, som kontrollen {last.at} fant i orden, "
                + ("mangler nå (slettet)" if row is None else "er skrevet om siden"),
            )
    return None


def _walk(
    session: Session, anchor: Anchor, start: Verified | None, recorded: bool, base: int | None
) -> Verification:
    """Walk the chain from the start (or after a checkpoint); report the first row whose hash
    or link does not hold, then compare the rows with the signed checkpoints: every row must
    have one with its hash (else it was rewritten, or added outside the program), and every
    confirmed checkpoint its row (else rows were deleted, e.g. the newest ones).

    Appends may go on meanwhile: confirmations are read before the rows (a row confirmed then
    was committed then, so the walk sees it) and signatures after them (a row the walk saw was
    signed before its commit)."""
    offset = start.offset if start else 0
    after_id = start.event_id if start else 0
    before = anchor.read(offset)
    prev = start.chain_hash if start else GENESIS
    checked = 0
    rows: list[tuple[int, str]] = []
    query = select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
    for event in session.scalars(query).yield_per(1000):
        if event.prev_hash != prev:
            return Verification(False, checked, event.id, "lenken til forrige hendelse er brutt")
        expected = _digest(prev, event.ts, event.actor, event.action, event.target, event.details)
        if expected != event.hash:
            return Verification(False, checked, event.id, "innholdet er endret")
        rows.append((event.id, event.hash))
        prev = event.hash
        checked += 1
    after = anchor.read(offset)
    if before.forged_lines or after.forged_lines:
        forged = max(before.forged_lines, after.forged_lines)
        return Verification(False, 0, None, f"kontrollpunktfilen har {forged} ugyldige linjer")
    if not recorded:  # no verification yet recorded where anchoring began (older anchors)
        base = after.base
    elif after.base is not None and after.base != base:
        return Verification(
            False,
            0,
            after.base,
            f"kontrollpunktene begynner ikke lenger der de begynte (hendelse {base}), men ved "
            f"hendelse {after.base}",
        )
    for number, (event_id, chain_hash) in enumerate(rows):
        if base is not None and event_id < base:  # before anchoring began: the links cover it
            continue
        signed = after.signed.get(event_id)
        if not signed:
            return Verification(
                False,
                number,
                event_id,
                "hendelsen har ikke noe signert kontrollpunkt (lagt til utenom programmet)",
            )
        if chain_hash not in signed:
            return Verification(
                False, number, event_id, "kjeden er skrevet om etter at hendelsen ble signert"
            )
    seen = {event_id for event_id, _ in rows}
    missing = sorted(i for i in before.committed if i > after_id and i not in seen)
    if missing:
        return Verification(
            False,
            checked,
            missing[0],
            f"{len(missing)} signerte hendelser mangler i databasen (slettet eller avkortet; "
            f"den første er {missing[0]})",
        )
    last_id, last_hash = rows[-1] if rows else (after_id or None, prev)
    return Verification(
        True,
        (start.checked if start else 0) + checked,
        anchored_from=base,
        since=start,
        last_id=last_id,
        last_hash=last_hash if last_id else "",
    )
