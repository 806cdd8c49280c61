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

    def read(self) -> Checkpoints:
        signed: dict[int, set[str]] = {}
        committed: dict[int, str] = {}
        forged = 0
        base: int | None = None
        if not self.path.exists():
            return Checkpoints(signed, committed, forged, base)
        with self.path.open(encoding="utf-8", errors="replace") as lines:
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
