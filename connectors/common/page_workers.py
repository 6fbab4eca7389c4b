"""Pages worked on in other processes while this one downloads the next.

After a page is downloaded, a connector parses its JSON, scrubs the PII, writes each record back
as JSON and builds the Arrow page: pure Python, one core, and on a large pull (Shopify: ~4.5 KB an
order) about three quarters of the time. `in_workers` hands that work to a few spawned processes
and keeps this one downloading, so a pull uses every core while staying one ordered stream.

What it keeps: the pages' order (results come back in the order the pages were downloaded), a
bound on memory (at most `IN_FLIGHT_PER_WORKER` pages per worker are out at once), and small pulls
unchanged (the first `inline_pages` pages are worked here; the processes start only when a pull
is longer). Plain PII crosses to the workers only through the pipes the processes share with
this one, never through a file; the `context` (the PII hasher, which carries its key) is sent
once to each worker when it starts.

A worker does not run the program that started it. multiprocessing's spawned processes import the
parent's main script first (so that functions defined there can be unpickled): a script that pulls
without an `if __name__ == "__main__":` guard would run again in every worker, side effects and
all, until the worker's own attempt to start workers failed. A page worker's work is a function of
an importable module (a connector's), so its processes start without the main script.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import context as mp_context
from multiprocessing import popen_spawn_posix, spawn
from typing import Any, TypeVar

log = logging.getLogger(__name__)

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

# Two workers and the pulling process keep two cores busy (benchmarks/results/peers.md); on one
# core, workers would only add their start-up and the pickling.
DEFAULT_WORKERS = 2 if (os.cpu_count() or 1) > 1 else 0
IN_FLIGHT_PER_WORKER = 2  # one being worked on, one waiting: the worker never idles for the download
PARENT_CHECK_SECONDS = 0.5

_context: Any = None  # a worker process's copy of the caller's context, set once when it starts

# --- processes that start without the parent's main script -------------------------------------

_starting_worker = threading.local()  # set on the thread starting a page worker, while it does
_preparation_data = spawn.get_preparation_data


def _preparation_data_of_page_workers(name: str) -> dict[str, Any]:
    """What a spawned process is told to set up before it runs: for a page worker (and no other
    process), without the parent's main script to import."""
    data = _preparation_data(name)
    if getattr(_starting_worker, "now", False):
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


# multiprocessing looks the function up on its module at each start (popen_spawn_posix); this stands
# in for it, and changes nothing for a process other than a page worker
spawn.get_preparation_data = _preparation_data_of_page_workers


class _WorkerPopen(popen_spawn_posix.Popen):
    def _launch(self, process_obj: Any) -> None:
        _starting_worker.now = True
        try:
            super()._launch(process_obj)  # type: ignore[misc]  # typeshed leaves out this private method
        finally:
            _starting_worker.now = False


class _WorkerProcess(mp_context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _WorkerPopen:
        return _WorkerPopen(process_obj)


class _WorkerContext(mp_context.SpawnContext):
    """The spawn start method (fork is unsafe in a process with threads), without the main script."""

    Process = _WorkerProcess


# -------------------------------------------------------------------------------------------------


def _start_worker(context: Any, parent: int) -> None:
    global _context
    _context = context
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent was killed (SIGKILL, an out-of-memory kill, a run terminated) would
    wait for pages forever: it ends itself once it has been handed to another parent."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _work_in_worker(work: Callable[[Any, T], R], item: T) -> R:
    return work(_context, item)


def in_workers(
    work: Callable[[C, T], R],
    context: C,
    items: Iterable[T],
    *,
    workers: int,
    inline_pages: int,
) -> Iterator[tuple[T, R]]:
    """`(item, work(context, item))` for every item, in the items' order.

    `work` must be a module-level function (or a functools.partial of one) and `context` and the
    items picklable: after the first `inline_pages` items they are sent to `workers` spawned
    processes. `workers=0`, or a caller that is itself a daemon process (which may not start
    processes), works every item here. An exception raised by `work` is raised here, at its item's
    turn; closing the iterator early stops the workers at once (a page they are working on is dropped);
    if a worker dies, the items not yet returned are worked here."""
    iterator = iter(items)
    for _ in range(inline_pages):
        item = next(iterator, _END)
        if item is _END:
            return
        yield item, work(context, item)
    if workers <= 0 or multiprocessing.current_process().daemon:
        for item in iterator:
            yield item, work(context, item)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_WorkerContext(),
        initializer=_start_worker,
        initargs=(context, os.getpid()),
    )
    log.info("pages after the first %d are worked in %d processes", inline_pages, workers)
    waiting: deque[T] = deque()  # sent to a worker (or about to be), not yet returned, in order
    futures: deque[Future[R]] = deque()
    try:
        exhausted = False
        while True:
            while not exhausted and len(waiting) < workers * IN_FLIGHT_PER_WORKER:
                item = next(iterator, _END)
                if item is _END:
                    exhausted = True
                else:
                    waiting.append(item)
                    futures.append(pool.submit(_work_in_worker, work, item))
            if not waiting:
                return
            result = futures[0].result()
            futures.popleft()
            yield waiting.popleft(), result
    except BrokenProcessPool as broken:
        # A worker died (killed for memory, or the program that started it cannot be imported by a
        # spawned process): the pull goes on here, from the first page not yet returned.
        log.warning("page workers stopped (%s): the rest of this pull is worked in this process", broken)
    finally:
        if waiting:  # stopped early, failed, or a worker died: what the workers are doing is not wanted
            _stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
    for item in waiting:
        yield item, work(context, item)
    for item in iterator:
        yield item, work(context, item)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the workers now rather than after their current page: a worker may be waiting on a
    platform that does not answer (up to the read timeout), and a pull being stopped (a run
    terminated, an error at an earlier page) must not wait for it. The pool keeps its processes in a
    private mapping (concurrent.futures of Python 3.11); a terminated worker leaves nothing behind
    (its calls are reads)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


_END: Any = object()
