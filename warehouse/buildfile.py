"""The pipeline's one build file, shared by every run: writers take turns instead of failing.

DuckDB lets one process at a time open a file for writing; a second gets "Could not set lock on
file" at once. Two pipeline processes meet there whenever runs overlap outside the Dagster
daemon's `duckdb_writer` pool: `omni run` (or the demo) while the daemon's nightly run or a backfill
is transforming, or two operators' CLI backfills. Each writer waits for the other to let go, for up
to `OMNI_BUILD_WAIT_SECONDS` (default an hour), then fails naming the file. Every model rebuilds
from landing, so runs that took turns step by step leave what running them one after the other
would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

DEFAULT_WAIT_SECONDS = 3600.0
QUIET_SECONDS = 5.0  # a wait shorter than this (another run's step finishing) is not worth a log line


def _locked_by_another_process(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def connect_writer(
    path: Path, wait_seconds: float | None = None, on_wait: Callable[[str], None] | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-write connection to `path`, waiting while another process holds it."""
    if wait_seconds is None:
        wait_seconds = float(os.environ.get("OMNI_BUILD_WAIT_SECONDS") or DEFAULT_WAIT_SECONDS)
    began = time.monotonic()
    deadline = began + wait_seconds
    pause, told = 0.1, False
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if not _locked_by_another_process(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise TimeoutError(
                    f"{path} stayed locked by another pipeline process for {wait_seconds:g} s "
                    f"(raise OMNI_BUILD_WAIT_SECONDS, or find the stuck run): {exc}"
                ) from exc
            if not told and on_wait is not None and time.monotonic() - began >= QUIET_SECONDS:
                on_wait(f"{path.name} is being written by another run: waiting for it")
                told = True
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
