"""Walking Clerk's instance-wide lists so that nothing that exists is missed while Clerk changes (pure).

Every list is walked oldest first (`order_by=+created_at`): what is created during the walk comes at the end and
is read there. Deletions are what shift a list: an entity deleted before the next page's offset moves every later
one a place earlier, and a plain offset walk would skip one. So each page is asked with an overlap with the page
before, and what was read is told from what was not by creation time and id (`Cursor.last_created_at`,
`last_ids`), never by position. A page whose first entry was never read may have skipped some: the walk reads
further back instead, so a page is trusted only when it starts inside what was already read (or at the start);
an empty page past the start is not trusted either.

Users have a stable key besides: `created_at_after`, so their pages start at the last creation time read and
deletions before it shift nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from clerk_sync.runs import Cursor

# Entries each page repeats from the one before: up to OVERLAP - 1 deletions between two pages cost nothing more.
OVERLAP: Final = 10


@dataclass(frozen=True)
class PageRequest:
    offset: int
    created_at_after: int | None  # users only


@dataclass(frozen=True)
class PageRead:
    cursor: Cursor  # where the walk stands after this page
    fresh: list[int] | None  # indexes of the entries never read before; None: the page is not trusted, read again


def next_request(cursor: Cursor, *, keyed: bool) -> PageRequest:
    return PageRequest(cursor.offset, cursor.after if keyed else None)


def is_new(cursor: Cursor, entry_id: str, created_at: int) -> bool:
    last = cursor.last_created_at
    return last is None or created_at > last or (created_at == last and entry_id not in cursor.last_ids)


def read_page(cursor: Cursor, entries: Sequence[tuple[str, int]], limit: int, *, keyed: bool) -> PageRead:
    """What a page of `(id, created_at)` entries, asked for with `next_request(cursor)`, brings and where the walk
    goes next. The page is full when it holds `limit` entries; a shorter one ends the list (for now: a later pass
    continues from the same cursor)."""
    pages = cursor.pages + 1
    if cursor.offset > 0 and (not entries or is_new(cursor, *entries[0])):
        back = max(0, cursor.offset - (limit - OVERLAP))
        return PageRead(cursor.model_copy(update={"offset": back, "pages": pages, "reread": cursor.reread + 1}), None)
    fresh = [i for i, (entry_id, created_at) in enumerate(entries) if is_new(cursor, entry_id, created_at)]
    last, last_ids = cursor.last_created_at, list(cursor.last_ids)
    for i in fresh:
        entry_id, created_at = entries[i]
        if last is None or created_at > last:
            last, last_ids = created_at, [entry_id]
        elif created_at == last:
            last_ids.append(entry_id)
    full = len(entries) >= limit
    after = cursor.after
    if keyed and last is not None and (fresh or not full):
        # The next page starts at the last creation time read, the entries read at that time skipped by offset
        # (less the overlap that proves the page starts inside what was read).
        after, offset = last - 1, max(0, len(last_ids) - OVERLAP)
    else:
        # Forward by what the page held, less the overlap; a page that brought nothing new still moves on.
        offset = cursor.offset + max(0, len(entries) - OVERLAP)
    update = {
        "offset": offset,
        "after": after,
        "last_created_at": last,
        "last_ids": last_ids,
        "pages": pages,
        "read": cursor.read + len(fresh),
        "done": not full,
    }
    return PageRead(cursor.model_copy(update=update), fresh)
