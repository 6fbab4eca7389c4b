"""What every platform's replay shares: records replicated from a few real ones, and the server that
counts what it serves.

Replicas: a real record (rendered by the sandbox's simulator) becomes a `Template`, its JSON split at
the values each replica replaces (ids, timestamps); replica i is one string join, so N records cost
seconds to render and the server only joins bytes while the loaders run. The server is a
ThreadingHTTPServer in its own process; a platform's handler answers its API, the shared part keeps
the counters the parent reads and resets between loaders at STATS_PATH.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from benchmarks.peers.base import Platform, window

STATS_PATH = "/_bench/stats"
LATENCY_ENV = "PEERS_LATENCY_MS"  # milliseconds before each API answer (`--latency-ms`)
IDS_PER_RECORD = 64  # id slots per replica for each family of nested ids (line items, refunds...)


# --- records replicated from templates ------------------------------------------------------------


@dataclass
class Template:
    """A record's JSON split at the values each replica replaces: pieces[odd] are the slot names."""

    pieces: list[str]
    ids: dict[str, tuple[int, int]]  # slot -> (first, step): replica i gets first + i * step
    stamps: dict[str, tuple[timedelta, tzinfo]]  # slot -> offset from the record's modified time, its zone

    def render(self, i: int, modified: datetime, timestamp: Callable[[datetime], str]) -> bytes:
        """Replica i, modified at `modified`, its timestamps written by `timestamp` (in their own zone)."""
        values = {name: str(first + i * step) for name, (first, step) in self.ids.items()}
        for name, (offset, zone) in self.stamps.items():
            values[name] = timestamp((modified + offset).astimezone(zone))
        pieces = self.pieces.copy()
        pieces[1::2] = [values[name] for name in self.pieces[1::2]]
        return "".join(pieces).encode("utf-8")


@dataclass
class Slots:
    """Marks, in a record still held as a dict, the values each replica replaces; `template` then
    splits its JSON there. An id's slot stands for a JSON number (`id()` returns its placeholder);
    `@@<name>@@` inside a string is the same id as text."""

    modified: datetime  # the record's own modified time: every timestamp keeps its offset from it
    ids: dict[str, tuple[int, int]] = field(default_factory=dict)
    stamps: dict[str, tuple[timedelta, tzinfo]] = field(default_factory=dict)

    def id(self, name: str, first: int, step: int = 1, text: bool = False) -> str:
        """Slot `name`: replica i gets first + i * step (step = IDS_PER_RECORD for nested ids), as a
        JSON number, or as a string with `text`."""
        self.ids[name] = (first, step)
        return f"@@{name}@@" if text else f"@@i:{name}@@"

    def timestamps(
        self, node: Any, is_stamp: Callable[[str], bool], parse: Callable[[str], datetime]
    ) -> None:
        """Every string below `node` under a key `is_stamp` accepts becomes a timestamp slot."""
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if isinstance(value, str) and isinstance(key, str) and is_stamp(key):
                ts = parse(value)
                name = f"T{len(self.stamps)}"
                self.stamps[name] = (ts - self.modified, ts.tzinfo or UTC)
                node[key] = f"@@{name}@@"
            else:
                self.timestamps(value, is_stamp, parse)

    def template(self, record: dict[str, Any]) -> Template:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        text = re.sub(r'"@@i:(\w+)@@"', r"@@\1@@", text)
        return Template(re.split(r"@@(\w+)@@", text), self.ids, self.stamps)


def modified_times(n: int) -> list[datetime]:
    """N modification times spread evenly over the window, ascending (one-second resolution)."""
    start, end = window()
    span = int((end - start).total_seconds())
    return [start + timedelta(seconds=int((i + 0.5) * span / n)) for i in range(n)]


def replicate(
    templates: list[Template], times: list[datetime], timestamp: Callable[[datetime], str]
) -> list[bytes]:
    """One record per time, cycling through the templates: replica i is modified at times[i]."""
    return [templates[i % len(templates)].render(i, modified, timestamp) for i, modified in enumerate(times)]


# --- the server -----------------------------------------------------------------------------------


class Served:
    """What the server answered since the parent last reset it (one loader's run)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "bytes": 0, "records": 0}

    def add(self, body: bytes, records: int) -> None:
        with self.lock:
            self.stats["requests"] += 1
            self.stats["bytes"] += len(body)
            self.stats["records"] += records

    def report(self, reset: bool) -> bytes:
        with self.lock:
            body = json.dumps(self.stats).encode()
            if reset:
                self.stats = dict.fromkeys(self.stats, 0)
        return body


class ReplayHandler(BaseHTTPRequestHandler):
    """A platform's handler implements `answer`; GET STATS_PATH (`?reset=1`) is answered here. With
    LATENCY_ENV set, every API answer waits that many milliseconds first (a platform further away
    than loopback; calls in flight at once wait side by side, each on its own thread)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: keep-alive answers must not wait for a delayed ACK
    served = Served()  # one server per process
    latency = float(os.environ.get(LATENCY_ENV) or 0) / 1000

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        if self.latency and not self.path.startswith(STATS_PATH):
            time.sleep(self.latency)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == STATS_PATH:
            return self.send(200, self.served.report(reset="reset" in query))
        self.answer(url.path, query, b"")

    def answer(self, path: str, query: dict[str, str], body: bytes) -> None:
        """Answer one API request (`body`: a POST's body) and count it with `served.add`."""
        raise NotImplementedError


def serve(platform: Platform, n: int) -> None:
    """Runs in its own process: render, print one JSON line (port and figures), serve until killed."""
    replay = platform.replay(n)
    server = ThreadingHTTPServer(("127.0.0.1", 0), replay.handler)
    server.daemon_threads = True
    print(
        json.dumps(
            {
                "port": server.server_address[1],
                "records": n,
                "bytes_per_record": sum(len(r) for r in replay.records) / n,
                "json_bytes": replay.json_bytes,
                "pages": replay.pages,
            }
        ),
        flush=True,
    )
    server.serve_forever()
