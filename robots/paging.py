"""Keyset pages for the console's lists: newest first, with the true total.

A page is "the `size` rows with the highest ids below a cursor" (the id of the last row shown),
so paging deep into 100,000 rows costs the same as the first page (no OFFSET), and rows that
arrive meanwhile do not shift what the next page shows. The total and the position are counts of
the same filtered query, so what the page says is what the database holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    first: int  # 1-based position of the first row shown (0 when there are none)
    next_before: int | None  # the cursor of the next page, None on the last

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    def link(self, params: dict[str, Any], before: int | None) -> str:
        """The query string of another page with the same filters."""
        kept = {k: v for k, v in params.items() if v not in ("", None) and k != "under"}
        if before is not None:
            kept["under"] = before
        return "?" + urlencode(kept)


def keyset_page(
    session: Session,
    query: Select[*tuple[Any, ...]],
    key: Any,
    before: int | None,
    size: int = PAGE_SIZE,
    *,
    scalars: bool = True,
) -> Page:
    """One page of `query` (filters applied, no order or limit) ordered by `key` descending,
    starting below `before`."""
    unordered = query.order_by(None)
    total = session.scalar(select(func.count()).select_from(unordered.subquery())) or 0
    ordered = query.order_by(key.desc())
    if before is not None:
        ordered = ordered.where(key < before)
        above = unordered.where(key >= before)
        skipped = session.scalar(select(func.count()).select_from(above.subquery())) or 0
    else:
        skipped = 0
    result = session.execute(ordered.limit(size + 1))
    rows = list(result.scalars()) if scalars else list(result.all())
    more = len(rows) > size
    rows = rows[:size]
    cursor = None
    if more:
        last = rows[-1]
        cursor = int((last if scalars else last[0]).id)
    return Page(rows, int(total), skipped + 1 if rows else 0, cursor)
