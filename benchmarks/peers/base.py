"""What a platform supplies to the benchmark (`Platform`), and what every part of a run agrees on:
the sandbox world the records come from, the China days the loaders ask for, the loaders' context.

A platform is its replay (records and the server that pages them as the platform does) and how a
peer loader talks to it (the request loop, where a page keeps its records, the connector's shop,
dlt's rest_api config). Processes, timing, memory, the loaders themselves and the results are the
harness's, written once (harness.py, loaders.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.common.timeutil import china_days_window

if TYPE_CHECKING:
    import pyarrow as pa
    import requests

    from connectors.config import ShopConfig
    from connectors.sandbox.server import SandboxSettings
    from connectors.sandbox.world import World

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
WORLD_FIRST, WORLD_LAST = date(2026, 10, 1), date(2026, 10, 30)  # the sandbox world the records come from
WORLD_SEED, WORLD_PEOPLE = 1, 4000  # a small world: a few hundred real orders per platform to replicate
FIRST_DAY = WORLD_FIRST


def days() -> tuple[date, date]:
    """The China days every loader asks for: 30 from 2026-10-01, or PEERS_DAYS (`--days`; 1 = one
    Double-11-like day holding all N records, for the landing's memory). The parent sets PEERS_DAYS
    before it starts the replay server and the loaders, so all of them read the same days."""
    return FIRST_DAY, FIRST_DAY + timedelta(days=int(os.environ.get("PEERS_DAYS", "30")) - 1)


def sandbox() -> tuple[World, SandboxSettings]:
    """The small sandbox world, for a simulator to serve its real records: `Simulator(*sandbox())`."""
    from connectors.sandbox.server import SandboxSettings

    settings = SandboxSettings(WORLD_SEED, WORLD_PEOPLE, WORLD_FIRST, WORLD_LAST, rate_limits=False)
    return settings.world(), settings


def window() -> tuple[datetime, datetime]:
    """The days as one UTC window [first day 00:00, last day + 1 00:00) China time."""
    return china_days_window(*days())


@dataclass
class Ctx:
    """What a loader knows: where the replay server listens, how many records to expect, its own folder."""

    port: int
    n: int
    tmp: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Replay:
    """A platform's replay, built in the server's process: the handler class that serves the records
    (replay.ReplayHandler, its data already attached) and what the loaders will fetch from it."""

    handler: type[BaseHTTPRequestHandler]
    records: list[bytes]  # each record's JSON, in modification order
    pages: int  # pages a loader asking every page once fetches
    json_bytes: int  # their bytes together


class Platform:
    """One platform's part of the benchmark. The class attributes describe it; the methods are what
    differs between platforms. Methods run in the replay server's process (`replay`) or in a loader's
    (everything else), so they import what they need inside."""

    name: str  # the --platform value
    label: str  # in a loader's name and the results' heading: "Shopify", "TOP"
    title: str  # the results file's first heading
    noun: str  # one record: "order", "trade"
    results: Path  # the Markdown file the runs are appended to
    page_size: int  # records per page, as every loader asks (the platform's maximum)
    table: str  # the table dlt loads the records into
    records_path: str  # where a page keeps its records, as a DuckDB expression over read_json's columns
    record_mark: bytes  # once in a page's bytes per record: download-only counts records without parsing

    def replay(self, n: int) -> Replay:
        """N records and the handler that serves them (in the replay server's process)."""
        raise NotImplementedError

    def pages(self, ctx: Ctx) -> Iterator[requests.Response]:
        """Every page of the window, each asked for once, as a peer tool's request loop does: the
        floor, download-only, pandas and dlt-with-Arrow all send exactly these requests."""
        raise NotImplementedError

    def records(self, page: Any) -> list[dict[str, Any]]:
        """A page's records, from its parsed JSON."""
        raise NotImplementedError

    def arrow_table(self, records: list[dict[str, Any]]) -> pa.Table:
        """One page as the Arrow table dlt is fed: `from_pylist`, which takes its columns from the
        first record (enough when every record carries every field in the same order, as Shopify's do)."""
        import pyarrow as pa

        return pa.Table.from_pylist(records)

    def connector_shop(self, ctx: Ctx) -> ShopConfig:
        """Our connector's shop pointed at the replay, with no pacing."""
        raise NotImplementedError

    def rest_api_config(self, ctx: Ctx) -> dict[str, Any]:
        """dlt's rest_api source config that reads the window into `table`."""
        raise NotImplementedError
