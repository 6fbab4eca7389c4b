"""The windowed pull's fetch thread (connectors/common/windowed.py), on an in-memory platform.

Every marketplace connector's paging is tested against its simulator over HTTP (tests/marketplace.py);
these tests pin down what only a platform we control call by call can show: which thread makes each
call, in which order, and that the next page is on its way while the one before it is landed.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.common.errors import RetriableError
from connectors.common.pii import PiiHasher
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig

START = datetime(2026, 11, 11, tzinfo=UTC)
END = START + timedelta(hours=1)
PAGE_SIZE = 10
ORDERS = 45  # five pages: 10, 10, 10, 10 and 5


class InMemoryPlatform(WindowedOrderSource):
    """A window of ORDERS orders, newest-modified first, served from memory; every call is recorded."""

    def __init__(
        self,
        fail_on_page: int | None = None,
        hang_on_page: int | None = None,
        release: threading.Event | None = None,
    ) -> None:
        super().__init__(ShopConfig("tmall", "in-memory", options={"page_size": PAGE_SIZE}), PiiHasher("k"))
        self.orders = [
            {"id": str(i), "modified": START + timedelta(seconds=ORDERS - i)} for i in range(ORDERS)
        ]
        self.calls: list[tuple[int, str]] = []  # (page, thread name)
        self.began: dict[int, threading.Event] = {}  # page -> set once its call has begun
        self.fetched: dict[int, threading.Event] = {}  # page -> set once its call has returned
        self.fail_on_page = fail_on_page
        self.hang_on_page, self.release = hang_on_page, release  # that page's call waits for `release`

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        self.calls.append((page, threading.current_thread().name))
        self.began.setdefault(page, threading.Event()).set()
        if page == self.hang_on_page and self.release is not None:
            self.release.wait()
        if page == self.fail_on_page:
            raise RetriableError("tmall", "in-memory", f"page {page} failed")
        records = [dict(order) for order in self.orders[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
        self.fetched.setdefault(page, threading.Event()).set()
        return Page(records, len(self.orders))

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(record["id"], record["modified"], None)

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"id": record["id"]}


def test_every_call_is_made_on_one_fetch_thread_in_the_order_of_a_pull_without_it():
    platform = InMemoryPlatform()
    landed = [row for table in platform.pull("orders", START, END) for row in table.column("record_id")]
    assert sorted(str(r) for r in landed) == sorted(order["id"] for order in platform.orders)
    # page 1 for the total, the last page back to page 2, page 1 again: as the docstring says
    assert [page for page, _ in platform.calls] == [1, 5, 4, 3, 2, 1]
    threads = {thread for _, thread in platform.calls}
    assert len(threads) == 1 and threads != {threading.current_thread().name}


def test_the_next_page_is_fetched_while_the_one_before_it_is_landed():
    platform = InMemoryPlatform()
    pages = platform.pull("orders", START, END)
    next(pages)  # page 1 is not landed until the end: the first table is the last page's (page 5)
    # the consumer holds page 5's table and has not asked for more: page 4 must come anyway
    assert platform.fetched.setdefault(4, threading.Event()).wait(timeout=10), "page 4 was not fetched ahead"
    pages.close()


def _fetch_thread_ends() -> bool:
    for _ in range(100):
        if not [t for t in threading.enumerate() if t.name.startswith("fetch-in-memory")]:
            return True
        threading.Event().wait(0.1)
    return False


def test_a_pull_stopped_early_asks_for_nothing_more_and_its_fetch_thread_ends():
    platform = InMemoryPlatform()
    pages = platform.pull("orders", START, END)
    next(pages)
    pages.close()
    assert _fetch_thread_ends()
    assert [page for page, _ in platform.calls] in ([1, 5], [1, 5, 4])  # at most the page fetched ahead


def test_a_call_hanging_on_the_platform_does_not_hold_up_a_pull_being_stopped():
    release = threading.Event()
    platform = InMemoryPlatform(hang_on_page=4, release=release)
    pages = platform.pull("orders", START, END)
    next(pages)  # page 5
    assert platform.began.setdefault(4, threading.Event()).wait(timeout=10)  # page 4's call now hangs
    stopping = threading.Thread(target=pages.close)
    stopping.start()
    stopping.join(timeout=10)
    try:
        assert not stopping.is_alive(), "closing the pull waited for the hanging call"
    finally:
        release.set()
    assert _fetch_thread_ends()


def test_a_failed_call_is_raised_from_the_pull_at_its_page():
    platform = InMemoryPlatform(fail_on_page=3)
    landed: list[int] = []
    with pytest.raises(RetriableError, match="page 3 failed"):
        for table in platform.pull("orders", START, END):
            landed.append(table.num_rows)
    assert landed == [5, 10]  # pages 5 and 4 landed before page 3's failure surfaced
    assert _fetch_thread_ends()
