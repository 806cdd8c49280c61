"""Signed checkpoints of the audit chain, kept where the database cannot rewrite them.

The hash chain in `audit_event` shows an edit of a row, but somebody with write access to the
database can delete the newest rows, or edit a row and recompute every later hash, and the chain
still holds. So every append also writes a checkpoint line (event id, its chain hash, and an
HMAC-SHA256 of both under a key that is not in the database) to an append-only file. Verification
then requires every row to have its signed checkpoint, and every checkpoint to have its row:
a truncated, rewritten or forged chain shows, unless the attacker also holds the key.

The key is the `audit_key` setting (RPA_AUDIT_KEY, e.g. from the service manager's credential
store) or else a key file created once in data_dir (mode 0600). Keep the key and the anchor file
out of the database's backups and out of reach of those who administer the database.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from robots.settings import Settings


@dataclass(frozen=True)
class Checkpoints:
    """What the anchor file says, from lines whose signature holds.

    `signed`: every hash signed for an event id (before and after its commit); `committed`: the
    ids whose commit was confirmed. A row must match one of its signed hashes; a committed id
    must still have its row. `forged_lines` counts lines whose signature does not hold."""

    signed: dict[int, set[str]]
    committed: dict[int, str]
    forged_lines: int
    base: int | None = None  # anchoring began at this event (a chain older than the anchor)


class Anchor:
    """The append-only checkpoint file and its key."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    @classmethod
    def for_settings(cls, settings: Settings) -> Anchor:
        path = (
            Path(settings.audit_anchor_file)
            if settings.audit_anchor_file
            else settings.data_path / "audit-anchor.log"
        )
        if not path.is_absolute():
            path = settings.data_path / path
        configured = settings.audit_key.get_secret_value()
        key = configured.encode() if configured else _key_file(settings.data_path / "audit.key")
        return cls(path, key)

    def _mac(self, event_id: int, chain_hash: str, state: str) -> str:
        message = f"{event_id}:{chain_hash}:{state}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def exists(self) -> bool:
        return self.path.exists()

    def append(self, events: list[tuple[int, str]], *, committed: bool, base: bool = False) -> None:
        """Write one signed line per (id, chain hash): before the commit (so a crash between
        commit and confirmation leaves the row signed) and after it (so a deleted row shows).
        O_APPEND and a lock keep lines whole when several processes append at once."""
        if not events:
            return
        state = "b" if base else "c" if committed else "p"
        lines = "".join(
            json.dumps({"id": i, "hash": h, "state": state, "mac": self._mac(i, h, state)}) + "\n"
            for i, h in events
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, lines.encode())
            if not committed or base:
                # The line written before the commit reaches the disk before the commit does,
                # so a committed row is never left unsigned, even by a power loss. (A lost
                # confirmation only means that deleting that one row would not be noticed.)
                os.fsync(fd)
        finally:
            os.close(fd)

    def size(self) -> int:
        """Bytes written so far (where a later `read(start=...)` may begin)."""
        return self.path.stat().st_size if self.path.exists() else 0

    def read(self, start: int = 0) -> Checkpoints:
        """The signed lines, all of them or those written after byte `start`."""
        signed: dict[int, set[str]] = {}
        committed: dict[int, str] = {}
        forged = 0
        base: int | None = None
        if not self.path.exists():
            return Checkpoints(signed, committed, forged, base)
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            lines.seek(start)
            for line in lines:
                try:
                    entry = json.loads(line)
                    event_id, chain_hash = int(entry["id"]), str(entry["hash"])
                    state, mac = str(entry["state"]), str(entry["mac"])
                except (ValueError, KeyError, TypeError):
                    forged += 1
                    continue
                if not hmac.compare_digest(mac, self._mac(event_id, chain_hash, state)):
                    forged += 1
                    continue
                signed.setdefault(event_id, set()).add(chain_hash)
                if state in ("c", "b"):
                    committed[event_id] = chain_hash
                if state == "b":
                    base = event_id if base is None else min(base, event_id)
        return Checkpoints(signed, committed, forged, base)


@dataclass(frozen=True)
class Verified:
    """A verification that found the chain intact up to `event_id` (with `chain_hash`), having
    checked `checked` rows; the next verification can start after it. `offset`: the size of the
    anchor file when that verification began (its checkpoint lines for later rows come after)."""

    event_id: int
    chain_hash: str
    checked: int
    offset: int
    base: int | None
    at: str
    full_at: str  # when the chain was last walked from its first row


class VerifiedLog:
    """Where verifications leave their result: an append-only file beside the anchor, each line
    signed with the anchor key and chained to the line before (so no line can be dropped,
    reordered or forged without the key). Only the newest line that holds is used; if any line
    does not hold, there is no checkpoint and the next verification walks the whole chain."""

    def __init__(self, anchor: Anchor) -> None:
        self.anchor = anchor
        self.path = anchor.path.with_name(anchor.path.stem + "-verified.log")

    def _mac(self, entry: dict[str, object], prev: str) -> str:
        body = json.dumps({k: v for k, v in entry.items() if k != "mac"}, sort_keys=True)
        return hmac.new(self.anchor._key, f"{prev}:{body}".encode(), hashlib.sha256).hexdigest()

    def _entries(self, lines: list[str]) -> list[dict[str, object]] | None:
        """The lines as entries if every signature and link holds, else None."""
        prev, entries = "", []
        for line in lines:
            try:
                entry = json.loads(line)
                ok = hmac.compare_digest(str(entry["mac"]), self._mac(entry, prev))
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                return None
            prev = str(entry["mac"])
            entries.append(entry)
        return entries

    def last(self) -> Verified | None:
        if not self.path.exists():
            return None
        text = self.path.read_text(encoding="utf-8", errors="replace")
        entries = self._entries(text.splitlines())
        if not entries:
            return None
        try:
            fields: dict[str, object] = {
                k: v for k, v in entries[-1].items() if k not in ("mac", "prev")
            }
            return Verified(**fields)  # type: ignore[arg-type]  # checked by TypeError
        except TypeError:  # a line from another version of this file
            return None

    def append(self, verified: Verified) -> None:
        """Add a line chained to the last one; the lock covers reading the file and writing,
        so two consoles verifying at once still leave one unbroken chain. A file whose chain
        does not hold is kept aside (`.brutt-<time>`) and a new one begun: only a walk from the
        first event is made while the file is broken, so the new chain starts from one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._locked()
        try:
            with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="replace") as handle:
                handle.seek(0)
                entries = self._entries(handle.read().splitlines())
            if entries is None:
                os.rename(
                    self.path, self.path.with_name(f"{self.path.name}.brutt-{time.time():.0f}")
                )
                os.close(fd)
                fd = self._locked()
                entries = []
            prev = str(entries[-1]["mac"]) if entries else ""
            entry: dict[str, object] = {**verified.__dict__, "prev": prev}
            entry["mac"] = self._mac(entry, prev)
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        finally:
            os.close(fd)

    def _locked(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd


def _key_file(path: Path) -> bytes:
    """The installation's audit key, created on first use (0600, never rewritten)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    for _ in range(100):  # a process that created it a moment ago may not have written it yet
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.01)
    raise RuntimeError(f"Revisjonsnøkkelen {path} er tom")
