"""A walk of a list oldest first, with Clerk deleting and creating entities between any two pages, reads every
entity that existed throughout, reads none twice and ends (sync/listings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from clerk_sync.runs import Cursor
from clerk_sync.sync.listings import next_request, read_page


@dataclass
class ClerkList:
    """An instance-wide list: entities in creation order (ties in id order, as Clerk sorts them)."""

    entries: list[tuple[str, int]] = field(default_factory=list)
    clock: int = 1_000
    serial: int = 0

    def create(self, tie: bool) -> None:
        self.clock += 0 if tie and self.entries else 1
        self.serial += 1
        self.entries.append((f"e{self.serial:06d}", self.clock))
        self.entries.sort(key=lambda e: (e[1], e[0]))

    def page(self, offset: int, after: int | None, limit: int) -> list[tuple[str, int]]:
        listed = [e for e in self.entries if after is None or e[1] > after]
        return listed[offset : offset + limit]


changes = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 8), st.booleans()), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 400),
    ties=st.floats(0, 0.5),
    limit=st.sampled_from([20, 37, 50]),
    keyed=st.booleans(),
    between_pages=changes,
    seed=st.randoms(use_true_random=False),
)
def test_a_walk_reads_everything_that_existed_throughout_once(  # noqa: PLR0917 - one argument per strategy
    start: int, ties: float, limit: int, keyed: bool, between_pages: list[tuple[int, int, bool]], seed: object
) -> None:
    import random

    rng: random.Random = seed  # type: ignore[assignment]
    clerk = ClerkList()
    for _ in range(start):
        clerk.create(rng.random() < ties)
    ever_deleted: set[str] = set()
    existed_at_start = {e[0] for e in clerk.entries}
    read: list[str] = []
    cursor = Cursor()
    changes_left = list(between_pages)
    for _ in range(10_000):
        request = next_request(cursor, keyed=keyed)
        entries = clerk.page(request.offset, request.created_at_after, limit)
        result = read_page(cursor, entries, limit, keyed=keyed)
        if result.fresh is not None:
            read.extend(entries[i][0] for i in result.fresh)
        cursor = result.cursor
        if cursor.done:
            break
        if changes_left:
            deletions, creations, tie = changes_left.pop(0)
            for _ in range(min(deletions, len(clerk.entries))):
                gone = clerk.entries.pop(rng.randrange(len(clerk.entries)))
                ever_deleted.add(gone[0])
            for _ in range(creations):
                clerk.create(tie)
    assert cursor.done, "the walk did not end"
    assert len(read) == len(set(read)), "an entity was read twice"
    assert existed_at_start - ever_deleted <= set(read), "an entity that existed throughout was missed"
    assert cursor.read == len(read)


def test_a_deletion_before_the_next_page_costs_no_extra_page_within_the_overlap() -> None:
    clerk = ClerkList()
    for _ in range(100):
        clerk.create(False)
    cursor = Cursor()
    first = read_page(cursor, clerk.page(0, None, 50), 50, keyed=False)
    del clerk.entries[3:8]  # five deletions among what was read
    request = next_request(first.cursor, keyed=False)
    second = read_page(first.cursor, clerk.page(request.offset, None, 50), 50, keyed=False)
    assert second.fresh is not None
    assert second.cursor.reread == 0
    assert next(clerk.page(request.offset, None, 50)[i][0] for i in second.fresh) == "e000051"


def test_more_deletions_than_the_overlap_make_the_walk_read_further_back() -> None:
    clerk = ClerkList()
    for _ in range(100):
        clerk.create(False)
    first = read_page(Cursor(), clerk.page(0, None, 50), 50, keyed=False)
    del clerk.entries[0:30]
    request = next_request(first.cursor, keyed=False)
    second = read_page(first.cursor, clerk.page(request.offset, None, 50), 50, keyed=False)
    assert second.fresh is None
    assert second.cursor.reread == 1
    assert second.cursor.offset < request.offset
