"""The windowed pull's fetch thread and page workers (connectors/common/windowed.py), on platforms
served from memory.

Every marketplace connector's paging is tested against its simulator over HTTP (tests/marketplace.py);
these tests pin down what only a platform we control call by call can show: which thread or process
makes each call, in which order, that the next page is on its way while the one before it is landed,
and what a long pull in page workers does when orders enter a window or a call fails.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
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


# --- page workers ---------------------------------------------------------------------------------


class FilePlatform(WindowedOrderSource):
    """The same platform in every process (a page worker builds its own copy from the shop): 45 orders
    one a minute from START, windows of 30 minutes. Every call is appended to the file `call_log` as
    (window start, page, process id); once `grow_after` calls have been made, `grown` newer orders
    have entered the first window. The page `fail_on_page` fails."""

    stateless_pages = True
    max_window = timedelta(minutes=30)

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.log = Path(shop.require("call_log"))

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        with self.log.open("a") as log:
            log.write(f"{start.isoformat()} {page} {os.getpid()}\n")
        # a platform this far away, its answers timed as the HTTP client times them
        self.http.answered_in = self.shop.option("call_seconds", 0)
        time.sleep(self.http.answered_in)
        if page == self.shop.option("fail_on_page"):
            raise RetriableError("tmall", "file", f"page {page} failed")
        orders = [{"id": str(i), "modified": START + timedelta(minutes=ORDERS - i)} for i in range(ORDERS)]
        if len(self.log.read_text().splitlines()) > self.shop.option("grow_after", 10**6):
            newer = START + timedelta(minutes=29)  # still in the first window, newer than its orders
            orders += [{"id": f"new{j}", "modified": newer + timedelta(seconds=j + 1)} for j in range(3)]
        listed = sorted((o for o in orders if start <= o["modified"] <= end), key=lambda o: o["modified"])[
            ::-1
        ]
        return Page(listed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], len(listed))

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(record["id"], record["modified"], None)

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"id": record["id"]}


def file_platform(log: Path, page_workers: int, **options: Any) -> FilePlatform:
    shop = ShopConfig(
        "tmall",
        "file",
        options={"page_size": PAGE_SIZE, "call_log": str(log), "page_workers": page_workers, **options},
    )
    return FilePlatform(shop, PiiHasher("k"))


def calls(log: Path) -> list[tuple[str, int, int]]:
    """(window start, page, process id) of every call, in the order they were made."""
    return [(start, int(page), int(pid)) for start, page, pid in map(str.split, log.read_text().splitlines())]


def pull_table(platform: FilePlatform) -> pa.Table:
    return pa.concat_tables(platform.pull("orders", START, END)).drop_columns("extracted_at")


def test_a_long_pull_in_page_workers_lands_what_a_pull_here_lands_with_the_same_calls(tmp_path):
    here = file_platform(tmp_path / "here.log", page_workers=0)
    landed_here = pull_table(here)
    elsewhere = file_platform(tmp_path / "workers.log", page_workers=2, worker_pages=0)
    landed_elsewhere = pull_table(elsewhere)

    assert landed_elsewhere.equals(landed_here), "the same rows, in the same order"
    assert landed_here.num_rows == ORDERS
    assert elsewhere.stats.pages == here.stats.pages == 5 and elsewhere.stats.rows == ORDERS
    made_here, made_elsewhere = calls(tmp_path / "here.log"), calls(tmp_path / "workers.log")
    assert sorted(c[:2] for c in made_elsewhere) == sorted(c[:2] for c in made_here)
    # each window's first page 1 is read in the pulling process to plan it; the rest in the workers
    planning = [c for c in made_elsewhere if c[2] == os.getpid()]
    assert [c[1] for c in planning] == [1, 1]
    assert len(made_elsewhere) - len(planning) == 5 and {c[2] for c in made_elsewhere} - {os.getpid()}


@pytest.mark.parametrize("page_workers", [0, 2])
def test_orders_entering_a_window_while_it_is_paged_are_landed_once_by_paging_it_again(
    tmp_path, page_workers
):
    platform = file_platform(tmp_path / "calls.log", page_workers, worker_pages=0, grow_after=1)
    landed = pull_table(platform).column("record_id").to_pylist()
    assert sorted(landed) == sorted([str(i) for i in range(ORDERS)] + ["new0", "new1", "new2"])
    assert any("re-paging" in note for note in platform.stats.notes)
    made = calls(tmp_path / "calls.log")
    paged = [page for start, page, _ in made if start == START.isoformat()]
    # planned with 29 orders (3 pages), paged 3, 2, 1; page 1 says 32: paged again, 4 pages
    assert paged[0] == 1 and paged[4:] == [1, 4, 3, 2, 1]
    if page_workers:  # two workers paged the plan, side by side; this process planned and paged again
        assert sorted(paged[1:4]) == [1, 2, 3]
        here = [page for start, page, pid in made if start == START.isoformat() and pid == os.getpid()]
        assert here == [1, 1, 4, 3, 2, 1]
    else:
        assert paged[1:4] == [3, 2, 1]


@pytest.mark.parametrize(("call_seconds", "in_workers"), [(0.0, False), (0.05, True)])
def test_a_short_pull_goes_to_page_workers_when_its_calls_would_keep_it_waiting(
    tmp_path, call_seconds, in_workers
):
    """Far fewer pages than `worker_pages`, but each answer slow: the pull's waiting (6 pages
    expected x 50 ms) passes `worker_seconds` (0.2 s), so the workers take the pages; answered at
    once, it stays here."""
    log = tmp_path / "calls.log"
    platform = file_platform(log, 2, worker_seconds=0.2, call_seconds=call_seconds)
    assert platform.worker_pages > 100
    assert pull_table(platform).num_rows == ORDERS
    assert bool({pid for _, _, pid in calls(log)} - {os.getpid()}) == in_workers


def test_a_call_failing_in_a_page_worker_is_raised_from_the_pull_whole_at_its_page(tmp_path):
    platform = file_platform(tmp_path / "calls.log", page_workers=2, worker_pages=0, fail_on_page=2)
    landed: list[int] = []
    with pytest.raises(RetriableError, match="page 2 failed") as failure:
        for table in platform.pull("orders", START, END):
            landed.append(table.num_rows)
    assert landed == [9], "page 3 of the first window landed before page 2's failure surfaced"
    assert (failure.value.channel, failure.value.shop_id, failure.value.detail) == (
        "tmall",
        "file",
        "page 2 failed",
    )
    # asked once, in a worker: an error that did not cross whole would break the pool, and the pull
    # would work the page again here
    failed_in = [
        pid for start, page, pid in calls(tmp_path / "calls.log") if (start, page) == (START.isoformat(), 2)
    ]
    assert len(failed_in) == 1 and failed_in[0] != os.getpid()
