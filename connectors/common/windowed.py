"""Marketplace order pulls: a modified-time window, numbered pages, newest first, paged backwards.

TOP, JD, Pinduoduo and Douyin all list orders by a last-modified window the platform caps (one
day, one month, 30 minutes, ...), in numbered pages sorted newest-modified first. An order
modified while we page moves out of the window and shifts every later page up by one: paging
from the last page backwards, as TOP's and Pinduoduo's documentation advise, can then repeat an
order but never skip one. Only an order *entering* the window (possible while the window is still
open) pushes others onto pages already read, so if the total grew while paging, the window is
paged again. A page served empty although its total says otherwise is asked for again. Versions
are de-duplicated by (id, modified), so a record served on two pages lands once, and kept only if
modified in [start, end).

Once a window's page count is known, the next page is asked for while the current one is scrubbed
and landed: one fetch thread makes every call of a pull, in the order a pull without it would, so
the platform sees the same calls, one at a time, and while a pull runs only that thread uses the
HTTP client (a pull stopped early leaves a call in flight to finish alone). The wait for an answer
overlaps the work on the page before it: on the benchmark's local TOP replay the wait was about a
sixth of a pull's time; a real platform, further away, makes it longer.

A long pull (`worker_pages` more pages expected, or `worker_seconds` of waiting on calls) of a
platform whose pages a fresh copy of its source can fetch alone (`stateless_pages`: TOP) goes
further: its pages are fetched *and* landed in page worker processes
(connectors.common.page_workers), one call in flight per worker (two by default), while this process
reads each window's first page to plan it, drops repeated versions and writes the landing file.
Parsing, scrubbing and re-serialising trades is Python on one core; the workers use every core, and
wait for two answers at a time. The platform sees the calls a pull here makes, not their order; the
pages land in the same order and the same versions land; a window the platform adds orders to while
it is paged is paged again here, serially; a pull stopped early ends its workers at once.

A platform supplies a subclass: its limits (class attributes), one page fetch (`fetch_page`), and
how to read and scrub one record (`identify`, `scrub`). Everything about windows, paging order,
re-paging and landing lives here once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pyarrow as pa

from connectors.common.errors import FatalError, ProtocolError
from connectors.common.http import HttpClient, PullStats
from connectors.common.page_workers import DEFAULT_WORKERS, in_workers
from connectors.common.paging import last_page_number
from connectors.common.pii import PiiHasher
from connectors.common.records import LandingRows, dumps_record, first_seen
from connectors.common.timeutil import split_window, utc_now
from connectors.config import ShopConfig

MAX_REPAGES = 3
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int  # records in the whole window, as the platform counts them now


@dataclass(frozen=True)
class Identity:
    record_id: str
    modified_at: datetime  # aware UTC
    status: str | None


@dataclass(frozen=True)
class PageAsk:
    """One page of a window, as a pull in page workers plans it (it is pickled to a worker)."""

    start: datetime  # the window, [start, end)
    end: datetime
    page_number: int  # counted from 1, whatever the platform counts from
    first_total: int  # the window's total when its page 1 was first read
    last: bool  # the window's last page: page 1 again (or its only page)
    records: list[dict[str, Any]] | None = None  # a one-page window's records, already read


@dataclass
class LandedPage:
    """A page fetched and landed in a page worker: the platform's total with it, the rows (repeated
    versions not yet dropped: only the pulling process knows what landed) and what the page cost."""

    total: int
    rows: LandingRows
    stats: PullStats


def _answer(future: Future[T], call: Callable[[], T]) -> None:
    """`future` holds what `call` returns, or what it raised: raised where the answer is taken."""
    try:
        future.set_result(call())
    except BaseException as error:
        future.set_exception(error)


class FetchThread:
    """One daemon thread that makes a pull's calls, in the order they are asked for. Not a
    ThreadPoolExecutor: its threads are joined when a pull stops and when the process exits, so a
    call hanging on the platform (up to the read timeout) would hold up a run being stopped."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def ask(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._calls.put((future, call))
        return future

    def _run(self) -> None:
        while (asked := self._calls.get()) is not None:
            future, call = asked
            if future.set_running_or_notify_cancel():
                _answer(future, call)

    def stop(self) -> None:
        """Calls not yet begun are cancelled; one in flight finishes unattended, then the thread ends."""
        while True:
            try:
                asked = self._calls.get_nowait()
            except queue.Empty:
                break
            if asked is not None:
                asked[0].cancel()
        self._calls.put(None)


class Immediately:
    """Stands in for a FetchThread where calls are made one at a time on the caller's thread (a page
    worker's copy of a source)."""

    def ask(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        _answer(future, call)
        return future

    def stop(self) -> None:
        pass


class WindowedOrderSource:
    entities: tuple[str, ...] = ("orders",)
    # Platform limits (override in the subclass).
    max_window = timedelta(days=1)
    max_page_size = 100
    default_page_size = 100
    first_page = 1  # Douyin counts from 0
    # The platform's window bounds are inclusive at one-second resolution: ask for [start, end - 1 s].
    inclusive_end = True
    # How long after a change the platform may still not list it (Pinduoduo: 3 minutes). A window
    # is never asked for past `now - settle_time`; what remains lands on the next run.
    settle_time = timedelta(0)
    # The platform's documented call quota for one shop, if any: calls are spaced to stay under it
    # (option `calls_per_second` overrides; 0 turns pacing off).
    calls_per_second: float | None = None
    # Whether a fresh copy of the source can fetch and land any page of a pull alone (nothing carried
    # from page to page): only then may a long pull run in page workers (option `page_workers`, 0
    # for none) once it expects `worker_pages` more pages. Starting them costs about a second of CPU:
    # on the benchmark's loopback replay (no network wait) 400 TOP pages in workers broke even, a pull
    # of 600 was a fifth faster, of 2,000 a quarter (benchmarks/results/peers_top.md); against a
    # platform further away, where a pull waits on each answer, they gain sooner.
    stateless_pages = False
    worker_pages = 400
    # ... or once the calls it expects would keep it waiting this long, one at a time (a platform far
    # away: at 20 ms an answer, from about 200 pages; 300 pages took 4.5 s in workers against 8.8 s
    # here, peers_top.md), timed by the quickest answer to a page 1 read so far (the quota's pacing
    # and a retry's wait left out: more calls in flight would not shorten those)
    worker_seconds = 5.0

    def quota_scope(self) -> str | None:
        """What the quota belongs to when it is not the shop alone: every client (any shop, any
        process) returning the same scope shares one pacing schedule. None: per shop."""
        return None

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        self.shop = shop
        self.pii = pii
        self.stats = PullStats()
        self.page_size = int(shop.option("page_size", self.default_page_size))
        minutes = float(shop.option("window_minutes", self.max_window.total_seconds() / 60))
        self.window = timedelta(minutes=minutes)
        if not timedelta(0) < self.window <= self.max_window or not 1 <= self.page_size <= self.max_page_size:
            raise FatalError(
                shop.channel,
                shop.shop_id,
                f"options: window_minutes must be in (0, {self.max_window.total_seconds() / 60:g}], "
                f"page_size in 1-{self.max_page_size}",
            )
        self.http = HttpClient.for_quota(shop, self.stats, self.calls_per_second, self.quota_scope())
        self.page_workers = int(shop.option("page_workers", DEFAULT_WORKERS)) if self.stateless_pages else 0
        self.worker_pages = int(shop.option("worker_pages", self.worker_pages))
        self.worker_seconds = float(shop.option("worker_seconds", self.worker_seconds))
        self._fetcher: FetchThread | Immediately = Immediately()

    # --- what a platform supplies --------------------------------------------------------------

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        """One page of records modified in [start, end] (`end` already made inclusive)."""
        raise NotImplementedError

    def identify(self, record: dict[str, Any]) -> Identity:
        raise NotImplementedError

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as it may be landed: PII hashed or masked, ciphertexts dropped."""
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------------------

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        if entity not in self.entities:
            known = ", ".join(self.entities)
            raise ValueError(f"the {self.shop.channel} connector has no entity '{entity}' (it has {known})")
        settled = utc_now() - self.settle_time
        if self.settle_time and end > settled:
            self.stats.notes.append(
                f"window end moved back to {settled:%Y-%m-%d %H:%M:%S} UTC: the platform may not list "
                f"changes from the last {self.settle_time} yet; the rest lands on the next run"
            )
            end = max(start, settled.replace(microsecond=0))
        self._fetcher = FetchThread(f"fetch-{self.shop.shop_id}")
        try:
            windows = split_window(start, end, self.window)
            planned = 0  # pages of the windows planned so far
            quickest_call = float("inf")  # seconds an answer took, of the page 1 reads so far
            for number, (window_start, window_end) in enumerate(windows, 1):
                first = self._whole_page(window_start, window_end, 1)
                quickest_call = min(quickest_call, self.http.answered_in)
                pages = last_page_number(first.total, self.page_size)
                planned += pages
                # this window's pages and the rest's, at the pull's pages per window so far
                expected = pages + planned / number * (len(windows) - number)
                long_pull = expected >= self.worker_pages or expected * quickest_call >= self.worker_seconds
                if long_pull and self._workers():
                    rest = iter(windows[number:])
                    yield from self._in_workers(self._asks(window_start, window_end, first, rest))
                    return
                yield from self._window(window_start, window_end, set(), first)
        finally:  # a pull stopped early asks for nothing more
            self._fetcher.stop()

    def _workers(self) -> int:
        """Page workers for this pull: none where calls are paced per process (the workers and this
        process must keep to one schedule, which a quota scope shares across processes)."""
        if self.quota_scope() is None and self.http.pacer.interval:
            return 0
        return self.page_workers

    def _ask(self, start: datetime, end: datetime, page_number: int) -> Future[Page]:
        """Page `page_number`, asked for on the fetch thread, after every call asked for before it."""
        asked_end = end - timedelta(seconds=1) if self.inclusive_end else end
        page = self.first_page + page_number - 1
        return self._fetcher.ask(lambda: self.fetch_page(start, asked_end, page))

    def _window(
        self,
        start: datetime,
        end: datetime,
        seen: set[object],
        first: Page | None = None,
        rounds: int = MAX_REPAGES,
    ) -> Iterator[pa.Table]:
        """A window paged here (`first`: its page 1, already read). A version repeated across pages
        (re-paging, records shifting between pages) is landed once. Only this window's versions can
        repeat: every other window keeps other modification times, so `seen` follows the window."""
        for round_number in range(rounds):
            if round_number or first is None:
                first = self._whole_page(start, end, 1)
            pages = last_page_number(first.total, self.page_size)
            if pages <= 1:
                yield from self._landed(first.records, start, end, seen)
                return
            order = paging_order(pages)
            asked = self._ask(start, end, order[0])
            for at, page_number in enumerate(order):
                page = self._whole_page(start, end, page_number, asked)
                if at + 1 < len(order):
                    asked = self._ask(start, end, order[at + 1])  # fetched while this page lands
                yield from self._landed(page.records, start, end, seen)
            last = page
            if last.total <= first.total:  # records only left the window: nothing was skipped
                return
            self._repaging(start)
        raise ProtocolError(
            self.shop.channel,
            self.shop.shop_id,
            f"orders kept entering the window starting {start:%Y-%m-%d %H:%M} UTC while paging",
        )

    def _repaging(self, start: datetime) -> None:
        self.stats.notes.append(f"orders entered the window starting {start:%Y-%m-%d %H:%M} UTC: re-paging")

    def _asks(
        self, start: datetime, end: datetime, first: Page, windows: Iterator[tuple[datetime, datetime]]
    ) -> Iterator[PageAsk]:
        """Every page of this window (`first`: its page 1) and of the windows after it, in the order a
        pull here asks for them; each window's page 1 is read here first, for its total."""
        while True:
            pages = last_page_number(first.total, self.page_size)
            if pages <= 1:
                yield PageAsk(start, end, 1, first.total, last=True, records=first.records)
            else:
                for page_number in paging_order(pages):
                    yield PageAsk(start, end, page_number, first.total, last=page_number == 1)
            window = next(windows, None)
            if window is None:
                return
            start, end = window
            first = self._whole_page(start, end, 1)

    def _in_workers(self, asks: Iterator[PageAsk]) -> Iterator[pa.Table]:
        seen_by_window: dict[datetime, set[object]] = {}
        worker_source = WorkerSource(self)
        for ask, landed in in_workers(
            land_in_worker, worker_source, asks, workers=self._workers(), inline_pages=0
        ):
            self.stats.add(landed.stats)
            seen = seen_by_window.setdefault(ask.start, set())
            yield from self._land(landed.rows.unseen(seen))
            if ask.last:
                del seen_by_window[ask.start]
                if landed.total > ask.first_total:  # orders entered the window: paged again, here
                    self._repaging(ask.start)
                    yield from self._window(ask.start, ask.end, seen, rounds=MAX_REPAGES - 1)

    def landed_ask(self, ask: PageAsk) -> LandedPage:
        """A planned page fetched (unless it came with its records) and landed, with what it cost
        counted apart: in a page worker, for the pulling process to add to its pull's."""
        kept = self.stats
        self.stats = self.http.stats = PullStats()
        try:
            if ask.records is None:
                page = self._whole_page(ask.start, ask.end, ask.page_number)
            else:
                page = Page(ask.records, ask.first_total)
            return LandedPage(page.total, self._rows(page.records, ask.start, ask.end, None), self.stats)
        finally:
            self.stats = self.http.stats = kept

    def _whole_page(
        self, start: datetime, end: datetime, page_number: int, asked: Future[Page] | None = None
    ) -> Page:
        """A page's records (`asked`: the page, already asked for). A page that comes back empty
        although the total it came with says it has records (platforms do this under load) is asked
        for once more; empty again, the pull fails rather than skip its orders. A page emptied
        because orders left the window comes with a total that agrees."""
        for attempt in range(2):
            page = (
                asked if attempt == 0 and asked is not None else self._ask(start, end, page_number)
            ).result()
            if page.records or (page_number - 1) * self.page_size >= page.total:
                return page
            if attempt == 0:
                self.stats.notes.append(
                    f"page {page_number} of the window starting {start:%Y-%m-%d %H:%M} UTC came back "
                    f"empty although the platform counts {page.total} orders: asked again"
                )
        raise ProtocolError(
            self.shop.channel,
            self.shop.shop_id,
            f"page {page_number} of the window starting {start:%Y-%m-%d %H:%M} UTC came back empty "
            f"twice although the platform counts {page.total} orders",
        )

    def _landed(
        self, records: list[dict[str, Any]], start: datetime, end: datetime, seen: set[object]
    ) -> Iterator[pa.Table]:
        yield from self._land(self._rows(records, start, end, seen))

    def _rows(
        self, records: list[dict[str, Any]], start: datetime, end: datetime, seen: set[object] | None
    ) -> LandingRows:
        """The records modified in [start, end), scrubbed; those already in `seen` left out."""
        rows = LandingRows()
        for record in records:
            identity = self.identify(record)
            modified_at = identity.modified_at
            # a repeated version is dropped before the record is scrubbed and written
            if start <= modified_at < end and (
                seen is None or first_seen(seen, identity.record_id, modified_at)
            ):
                body = dumps_record(self.scrub(record))
                rows.append(identity.record_id, modified_at, identity.status, body)
        return rows

    def _land(self, rows: LandingRows) -> Iterator[pa.Table]:
        self.stats.pages += 1
        self.stats.rows += len(rows.record_ids)
        if rows.record_ids:
            yield rows.page(utc_now())

    def close(self) -> None:
        self.http.session.close()


def paging_order(pages: int) -> list[int]:
    """The last page to page 2, then page 1 again: it also tells whether the total moved."""
    return [*range(pages, 1, -1), 1]


class WorkerSource:
    """What a page worker needs to build its own copy of a pull's source: picklable (the shop's
    settings and credentials, the PII hasher with its key, all sent through the worker's pipe). In
    the pulling process it is the source itself."""

    def __init__(self, source: WindowedOrderSource) -> None:
        self.kind = type(source)
        self.shop = source.shop
        self.pii = source.pii
        self.built: WindowedOrderSource | None = source

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "built": None}

    def source(self) -> WindowedOrderSource:
        if self.built is None:  # a worker's first page: its own client, its calls made on its thread
            self.built = self.kind(self.shop, self.pii)
        return self.built


def land_in_worker(worker_source: WorkerSource, ask: PageAsk) -> LandedPage:
    return worker_source.source().landed_ask(ask)
