"""One loopback HTTP server for every platform simulator.

Each simulator owns a path prefix (`/shopify/`, `/top/`, ...) and turns a `SimRequest` into a
`SimResponse`; this module only does HTTP. The server is what `omni sandbox serve` runs and what
tests start in a background thread on a free port.
"""

from __future__ import annotations

import email.utils
import importlib
import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from connectors.sandbox.faults import READ_TIMEOUT_STALL, TransportFaults, clock_skew
from connectors.sandbox.generate import cached_world
from connectors.sandbox.world import World

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxSettings:
    seed: int
    people: int
    start: date
    end: date
    rate_limits: bool = True  # off for throughput benchmarks
    now: datetime | None = None  # the platforms' clock; default: the end of the world
    # Switchable behaviour: "modify_while_paging" (each page served, the newest record in the
    # window is modified again, moving it out of the window as real orders do while you page), and
    # the transport faults of faults.py (http_429, http_5xx, connection_reset, truncated_json,
    # read_timeout).
    faults: frozenset[str] = frozenset()
    # What the reference leaves unverified is a simulator module constant; these replace them while
    # the server runs, e.g. (("jd_sim.MAX_PAGE_SIZE", 100), ("pdd_sim.CALLS_PER_SECOND", 10.0)).
    platform: tuple[tuple[str, Any], ...] = ()

    def world(self) -> World:
        return cached_world(self.seed, self.people, self.start, self.end)


@dataclass
class SimRequest:
    method: str
    path: str  # the path below the simulator's prefix, e.g. "/shopify-intl/admin/api/2024-10/orders.json"
    query: dict[str, str]  # last value wins for repeated keys
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # scheme://host:port + the simulator's prefix, for absolute links

    @property
    def form(self) -> dict[str, str]:
        """Query string and form body merged (TOP puts system params in one, business in the other)."""
        merged = dict(self.query)
        content_type = self.headers.get("content-type", "")
        if self.body and "application/x-www-form-urlencoded" in content_type:
            merged.update(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        return merged

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class SimResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> SimResponse:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class Simulator(Protocol):
    prefix: str  # e.g. "/shopify"

    def handle(self, request: SimRequest) -> SimResponse: ...


SimulatorFactory = Callable[[World, SandboxSettings], Simulator]


def default_simulators() -> list[SimulatorFactory]:
    from connectors.sandbox.alibaba_1688_sim import Alibaba1688Simulator
    from connectors.sandbox.douyin_sim import DouyinSimulator
    from connectors.sandbox.ga4_sim import Ga4Simulator
    from connectors.sandbox.jd_sim import JdSimulator
    from connectors.sandbox.meituan_sim import MeituanSimulator
    from connectors.sandbox.oceanengine_sim import OceanEngineSimulator
    from connectors.sandbox.pdd_sim import PinduoduoSimulator
    from connectors.sandbox.shopify_sim import ShopifySimulator
    from connectors.sandbox.top_sim import TopSimulator
    from connectors.sandbox.youzan_sim import YouzanSimulator

    return [
        ShopifySimulator,
        TopSimulator,
        JdSimulator,
        PinduoduoSimulator,
        DouyinSimulator,
        YouzanSimulator,
        Alibaba1688Simulator,
        MeituanSimulator,
        OceanEngineSimulator,
        Ga4Simulator,
    ]


def _duration(dotted: str, text: str) -> timedelta:
    """A TOML string such as "1200 days" or "30 minutes" for a timedelta constant."""
    number, _, unit = text.strip().partition(" ")
    unit = unit.strip().rstrip("s") + "s"
    if unit not in ("days", "hours", "minutes", "seconds") or not number.replace(".", "", 1).isdigit():
        raise ValueError(
            f"sandbox platform setting '{dotted}': expected a duration like \"90 days\", got {text!r}"
        )
    return timedelta(**{unit: float(number)})


def _replace(dotted: str, value: Any, replaced: dict[tuple[ModuleType, str], Any]) -> None:
    module_name, _, constant = dotted.partition(".")
    try:
        module = importlib.import_module(f"connectors.sandbox.{module_name}")
    except ModuleNotFoundError:
        raise ValueError(
            f"sandbox platform setting '{dotted}': no simulator module '{module_name}'"
        ) from None
    if not constant.isupper() or not hasattr(module, constant):
        raise ValueError(f"sandbox platform setting '{dotted}': {module_name} has no constant {constant}")
    current = getattr(module, constant)
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(current, timedelta) and isinstance(value, str):
        value = _duration(dotted, value)
    if type(value) is not type(current) and not (isinstance(current, tuple) and isinstance(value, list)):
        raise ValueError(
            f"sandbox platform setting '{dotted}': expected {type(current).__name__}, got {value!r}"
        )
    replaced.setdefault((module, constant), current)
    setattr(module, constant, tuple(value) if isinstance(current, tuple) else value)


def apply_platform_settings(platform: tuple[tuple[str, Any], ...]) -> dict[tuple[ModuleType, str], Any]:
    """Set simulator constants ("<module>.<CONSTANT>" below connectors/sandbox) and return the old
    values. A name that does not exist or a value of another type is an error naming it."""
    replaced: dict[tuple[ModuleType, str], Any] = {}
    try:
        for dotted, value in platform:
            _replace(dotted, value, replaced)
    except ValueError:
        for (module, name), old in replaced.items():  # all or nothing
            setattr(module, name, old)
        raise
    return replaced


class _QuietHTTPServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (a killed pipeline, a timed-out read) is not a server error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class SandboxServer:
    """Serves the world over HTTP on 127.0.0.1. `start()` runs it in a daemon thread."""

    def __init__(
        self,
        settings: SandboxSettings,
        port: int = 0,
        host: str = "127.0.0.1",
        simulators: list[SimulatorFactory] | None = None,
    ) -> None:
        self.settings = settings
        self.world = settings.world()
        self._replaced = apply_platform_settings(settings.platform)
        self.simulators = [make(self.world, settings) for make in (simulators or default_simulators())]
        self.transport_faults = TransportFaults(settings.faults, settings.seed)
        self.clock_skew = clock_skew(settings.faults)
        self.httpd = _QuietHTTPServer((host, port), self._handler_class())
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def injected_faults(self) -> Counter[str]:
        """Every fault injected so far: the transport's, the order lists' paging faults, and the
        simulators' own (Youzan's early token expiry, the gateways' skewed clocks)."""
        injected = Counter(self.transport_faults.injected)
        for sim in self.simulators:
            for counted in (sim, getattr(sim, "feed", None), getattr(sim, "clock", None)):
                injected.update(getattr(counted, "injected", None) or {})
        return injected

    def _route(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> SimResponse:
        parts = urlsplit(raw_path)
        for sim in self.simulators:
            if parts.path == sim.prefix or parts.path.startswith(sim.prefix + "/"):
                request = SimRequest(
                    method=method,
                    path=parts.path[len(sim.prefix) :] or "/",
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers=headers,
                    body=body,
                    base_url=self.url + sim.prefix,
                )
                try:
                    return sim.handle(request)
                except Exception as exc:  # a simulator bug must look like a platform 500, not a hang
                    log.exception("simulator %s failed", sim.prefix)
                    return SimResponse.json({"errors": f"sandbox internal error: {exc}"}, status=500)
        return SimResponse.json({"errors": "Not Found"}, status=404)

    def _fault_response(self, fault: str | None) -> SimResponse | None:
        """A gateway's own answer for an injected 429 or 5xx (not the platform's JSON)."""
        if fault == "http_429":
            retry = {"Retry-After": "1"} if self.transport_faults.with_retry_after() else {}
            return SimResponse(429, b"<html><body>429 Too Many Requests</body></html>", retry)
        if fault == "http_5xx":
            status, reason = (
                (502, "Bad Gateway")
                if self.transport_faults.injected["http_5xx"] % 2
                else (503, "Service Unavailable")
            )
            return SimResponse(status, f"<html><body>{status} {reason}</body></html>".encode())
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, every keep-alive answer
            # waited ~40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                fault = server.transport_faults.draw()
                if fault == "connection_reset":  # hang up without an answer
                    self.close_connection = True
                    return
                if fault == "read_timeout":  # answer after the client stopped waiting
                    time.sleep(READ_TIMEOUT_STALL)
                response = server._fault_response(fault) or server._route(
                    self.command, self.path, headers, body
                )
                if fault == "truncated_json":
                    response = SimResponse(
                        response.status, response.body[: len(response.body) // 2], response.headers
                    )
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = _serve

            def date_time_string(self, timestamp: float | None = None) -> str:
                """The Date header tells the platform's time (`clock_skew`: ahead of ours)."""
                skew = server.clock_skew.total_seconds()
                return email.utils.formatdate((timestamp or time.time()) + skew, usegmt=True)

            def log_message(self, format: str, *args: Any) -> None:  # requests are not PII, but quiet
                log.debug("sandbox: " + format, *args)

        return Handler

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        for (module, name), value in self._replaced.items():
            setattr(module, name, value)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
