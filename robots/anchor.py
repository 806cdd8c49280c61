"""Signed checkpoints of the audit chain, kept where the database cannot rewrite them.

The hash chain in `audit_event` shows an edit of a row, but somebody with write access to the
database can delete the newest rows, or edit a row and recompute every later hash, and the chain
still holds. So every append also writes a checkpoint line (event id, its chain hash, and an
HMAC-SHA256 of both under a key that is not in the database) to an append-only store.
Verification then requires every row to have its signed checkpoint, and every checkpoint to have
its row: a truncated, rewritten or forged chain shows, unless the attacker also holds the key.

Where the lines are kept is an `AnchorStore`: a file for one machine (`FileStore`, the default),
or a separate PostgreSQL database in which the service may only INSERT and SELECT
(robots.anchor_pg), for a fleet. Each line may also be mirrored to the municipality's syslog
collector (robots.anchor_syslog). The store also keeps the verifications' results
(`VerifiedLog`): what was verified last, how far the anchor reached then and a digest of it, and
where anchoring began; a later verification that finds less than that fails.

The key is the `audit_key` setting (RPA_AUDIT_KEY, e.g. from the service manager's credential
store) or else a key file created once in data_dir (mode 0600). Keep the key and the anchor
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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from robots.settings import Settings


class AnchorStore(Protocol):
    """Append-only storage of signed lines. A position is where a later `lines(start)` may
    begin (bytes for a file, a sequence number for a table); it only grows."""

    def begun(self) -> bool:
        """Anchoring has begun here (any line or verification was ever written)."""
        ...

    def append(self, lines: list[str], *, durable: bool) -> None: ...

    def lines(self, start: int = 0) -> Iterable[str]: ...

    def size(self) -> int: ...

    def digest(self, seed: str, start: int, end: int) -> str | None:
        """SHA-256 of `seed` and what lies between the positions; None if the store no longer
        reaches `end` (it was cut back)."""
        ...

    def verified(self) -> list[str]:
        """The verification lines, oldest first."""
        ...

    def append_verified(self, make: Callable[[list[str]], str]) -> None:
        """Append `make(lines so far)`, with no other verification line written meanwhile."""
        ...


class Mirror(Protocol):
    def send(self, entries: list[dict[str, object]]) -> None: ...


@dataclass(frozen=True)
class Checkpoints:
    """What the anchor says, from lines whose signature holds.

    `signed`: every hash signed for an event id (before and after its commit); `committed`: the
    ids whose commit was confirmed. A row must match one of its signed hashes; a committed id
    must still have its row. `forged_lines` counts lines whose signature does not hold."""

    signed: dict[int, set[str]]
    committed: dict[int, str]
    forged_lines: int
    base: int | None = None  # anchoring began at this event (a chain older than the anchor)


class Anchor:
    """The signed checkpoints: their key, their store and an optional mirror."""

    def __init__(self, store: AnchorStore, key: bytes, mirror: Mirror | None = None) -> None:
        self.store = store
        self._key = key
        self.mirror = mirror
        self._begun = False

    @classmethod
    def for_settings(cls, settings: Settings) -> Anchor:
        configured = settings.audit_key.get_secret_value()
        key = configured.encode() if configured else _key_file(settings.data_path / "audit.key")
        store: AnchorStore
        url = settings.audit_anchor_url.get_secret_value()
        if url:
            from robots.anchor_pg import PostgresStore

            store = PostgresStore.shared(url)
        else:
            path = (
                Path(settings.audit_anchor_file)
                if settings.audit_anchor_file
                else settings.data_path / "audit-anchor.log"
            )
            store = FileStore(path if path.is_absolute() else settings.data_path / path)
        mirror = None
        if settings.audit_syslog:
            from robots.anchor_syslog import SyslogMirror

            mirror = SyslogMirror.from_address(settings.audit_syslog)
        return cls(store, key, mirror)

    def mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def _line_mac(self, event_id: int, chain_hash: str, state: str) -> str:
        return self.mac(f"{event_id}:{chain_hash}:{state}")

    def begun(self) -> bool:
        """Anchoring has begun: from then on it is never begun again (a missing anchor is an
        attack to report, not a fresh start)."""
        self._begun = self._begun or self.store.begun()
        return self._begun

    def begin(self, base: list[tuple[int, str]], at: str) -> None:
        """Begin anchoring: sign the chain's head as the base (rows before it are covered by
        the hash links up to it) and record, as the first verification line, where the anchor
        begins. Later verifications hold the anchor to that."""
        self.append(base, committed=True, base=True)
        offset = self.store.size()
        head = base[-1] if base else (0, "")
        genesis = Verified(head[0], head[1], 0, offset, head[0] if base else None, at, "", "")
        VerifiedLog(self).append(genesis, seed=("", 0))
        self._begun = True

    def append(self, events: list[tuple[int, str]], *, committed: bool, base: bool = False) -> None:
        """Write one signed line per (id, chain hash): before the commit (so a crash between
        commit and confirmation leaves the row signed) and after it (so a deleted row shows).
        The line before the commit is durable before the commit is, so a committed row is never
        left unsigned, even by a power loss."""
        if not events:
            return
        state = "b" if base else "c" if committed else "p"
        entries: list[dict[str, object]] = [
            {"id": i, "hash": h, "state": state, "mac": self._line_mac(i, h, state)}
            for i, h in events
        ]
        self.store.append([json.dumps(e) for e in entries], durable=not committed or base)
        if self.mirror is not None:
            self.mirror.send(entries)

    def size(self) -> int:
        return self.store.size()

    def read(self, start: int = 0) -> Checkpoints:
        """The signed lines, all of them or those after position `start`."""
        signed: dict[int, set[str]] = {}
        committed: dict[int, str] = {}
        forged = 0
        base: int | None = None
        for line in self.store.lines(start):
            try:
                entry = json.loads(line)
                event_id, chain_hash = int(entry["id"]), str(entry["hash"])
                state, mac = str(entry["state"]), str(entry["mac"])
            except (ValueError, KeyError, TypeError):
                forged += 1
                continue
            if not hmac.compare_digest(mac, self._line_mac(event_id, chain_hash, state)):
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
    checked `checked` rows; the next verification can start after it. `offset`: the anchor's
    size when that verification began (its checkpoint lines for later rows come after);
    `digest`: of the anchor up to `offset`, chained to the verification before (so a later one
    sees the anchor cut back or rewritten). The first line (`full_at` empty) is written when
    anchoring begins and names its base."""

    event_id: int
    chain_hash: str
    checked: int
    offset: int
    base: int | None
    at: str
    full_at: str  # when the chain was last walked from its first row ("" never: the genesis)
    digest: str = ""  # "" in lines from before digests were kept


class VerifiedLog:
    """Where verifications leave their result, in the anchor's store: each line signed with the
    anchor key and chained to the line before (so no line can be dropped, reordered or forged
    without the key)."""

    def __init__(self, anchor: Anchor) -> None:
        self.anchor = anchor

    def _mac(self, entry: dict[str, object], prev: str) -> str:
        body = json.dumps({k: v for k, v in entry.items() if k != "mac"}, sort_keys=True)
        return self.anchor.mac(f"{prev}:{body}")

    def _parse(self, lines: list[str]) -> list[Verified] | None:
        """The lines as results if every signature and link holds, else None."""
        prev, results = "", []
        for line in lines:
            try:
                entry = json.loads(line)
                if not hmac.compare_digest(str(entry["mac"]), self._mac(entry, prev)):
                    return None
                fields = {k: v for k, v in entry.items() if k not in ("mac", "prev")}
                results.append(Verified(**fields))
            except (ValueError, KeyError, TypeError):
                return None
            prev = str(entry["mac"])
        return results

    def entries(self) -> list[Verified] | None:
        """Every verification so far ([] none), or None when the lines do not hold."""
        return self._parse(self.anchor.store.verified())

    def last(self) -> Verified | None:
        entries = self.entries()
        return entries[-1] if entries else None

    def append(self, verified: Verified, *, seed: tuple[str, int]) -> None:
        """Add `verified`, its digest taken from `seed` (the digest and offset of the
        verification before it), chained to the last line. Refused when the lines so far do
        not hold."""
        digest = self.anchor.store.digest(seed[0], seed[1], verified.offset)
        if digest is None:
            raise AnchorBroken("kontrollpunktene er avkortet mens kontrollen gikk")

        def line(lines: list[str]) -> str:
            if self._parse(lines) is None:
                raise AnchorBroken("kontrollfilen holder ikke")
            prev = str(json.loads(lines[-1])["mac"]) if lines else ""
            entry: dict[str, object] = {**asdict(verified), "digest": digest, "prev": prev}
            entry["mac"] = self._mac(entry, prev)
            return json.dumps(entry, sort_keys=True)

        self.anchor.store.append_verified(line)


class AnchorBroken(RuntimeError):
    """The anchor's own record does not hold (a reason in bokmål)."""


class FileStore:
    """The anchor as an append-only file and, beside it, `<name>-verified.log`. O_APPEND and a
    lock keep lines whole when several processes append at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.verified_path = path.with_name(path.stem + "-verified.log")

    def begun(self) -> bool:
        return self.path.exists() or self.verified_path.exists()

    def append(self, lines: list[str], *, durable: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _locked(self.path)
        try:
            os.write(fd, "".join(line + "\n" for line in lines).encode())
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def lines(self, start: int = 0) -> Iterable[str]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(start)
            yield from handle

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def digest(self, seed: str, start: int, end: int) -> str | None:
        if self.size() < end:
            return None
        sha = hashlib.sha256(f"{seed}:".encode())
        if end > start:
            with self.path.open("rb") as handle:
                handle.seek(start)
                left = end - start
                while left > 0:
                    chunk = handle.read(min(left, 1 << 20))
                    if not chunk:
                        return None
                    sha.update(chunk)
                    left -= len(chunk)
        return sha.hexdigest()

    def verified(self) -> list[str]:
        if not self.verified_path.exists():
            return []
        return self.verified_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def append_verified(self, make: Callable[[list[str]], str]) -> None:
        self.verified_path.parent.mkdir(parents=True, exist_ok=True)
        fd = _locked(self.verified_path)  # held while reading and writing: one unbroken chain
        try:
            with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="replace") as handle:
                handle.seek(0)
                lines = handle.read().splitlines()
            os.write(fd, (make(lines) + "\n").encode())
        finally:
            os.close(fd)


def _locked(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
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
