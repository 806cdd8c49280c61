"""Artifacts: files a run produced, stored by path with size and SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_rows(run_id: int, artifacts: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    from robots.models import utcnow

    return [
        {
            "run_id": run_id,
            "kind": kind,
            "path": str(path),
            "size": path.stat().st_size,
            "sha256": sha256_file(path),
            "created_at": utcnow(),
        }
        for kind, path in artifacts
        if path.exists()
    ]
