"""Keyset pages for the console's lists: newest first, with the true total.

A page is "the `size` rows with the highest ids below a cursor" (the id of the last row shown),
so paging deep into 100,000 rows costs the same as the first page (no OFFSET), and rows that
arrive meanwhile do not shift what the next page shows. Going back is the mirror image (the
`size` rows with the lowest ids above the first row shown), and the last page is the oldest
rows. The total and the position are counts of the same filtered query, so what the page says
is what the database holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

PAGE_SIZE = 50
CURSORS = ("under", "over", "siste")  # the query parameters that say which page


@dataclass(frozen=True)
class At:
    """Which page: below the id `before` (next), above the id `after` (previous), the last
    one, or (none of them) the first."""

    before: int | None = None
    after: int | None = None
    last: bool = False


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    first: int  # 1-based position of the first row shown (0 when there are none)
    next_before: int | None  # the cursor of the next page, None on the last
    prev_after: int | None = None  # the cursor of the previous page, None on the first

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    def link(self, params: dict[str, Any], before: int | None) -> str:
        """The query string of another page with the same filters (the next, or the first)."""
        return self._query(params, {"under": before} if before is not None else {})

    def link_prev(self, params: dict[str, Any]) -> str:
        return self._query(params, {"over": self.prev_after})

    def link_last(self, params: dict[str, Any]) -> str:
        return self._query(params, {"siste": 1})

    @staticmethod
    def _query(params: dict[str, Any], cursor: dict[str, Any]) -> str:
        kept = {k: v for k, v in params.items() if v not in ("", None) and k not in CURSORS}
        return "?" + urlencode({**kept, **cursor})


def _id(row: Any, scalars: bool) -> int:
    return int((row if scalars else row[0]).id)


def keyset_page(
    session: Session,
    query: Select[*tuple[Any, ...]],
    key: Any,
    at: At | int | None,
    size: int = PAGE_SIZE,
    *,
    scalars: bool = True,
) -> Page:
    """One page of `query` (filters applied, no order or limit) ordered by `key` descending,
    at `at` (an int: below that id)."""
    if not isinstance(at, At):
        at = At(before=at)
    unordered = query.order_by(None)

    def count(q: Select[Any]) -> int:
        return int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)

    def fetch(q: Select[Any]) -> list[Any]:
        result = session.execute(q)
        return list(result.scalars()) if scalars else list(result.all())

    total = count(unordered)
    if at.last and total:
        rows = fetch(query.order_by(key.asc()).limit(total % size or size))[::-1]
    elif at.after is not None:
        rows = fetch(query.where(key > at.after).order_by(key.asc()).limit(size))[::-1]
        if len(rows) < size:  # near the top: the first page, so pages keep their boundaries
            rows = fetch(query.order_by(key.desc()).limit(size))
    elif at.before is not None:
        rows = fetch(query.where(key < at.before).order_by(key.desc()).limit(size))
    else:
        rows = fetch(query.order_by(key.desc()).limit(size))
    if not rows:
        return Page([], total, 0, None)
    skipped = count(unordered.where(key > _id(rows[0], scalars)))
    more = skipped + len(rows) < total
    return Page(
        rows,
        total,
        skipped + 1,
        _id(rows[-1], scalars) if more else None,
        _id(rows[0], scalars) if skipped else None,
    )
