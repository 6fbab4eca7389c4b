"""The shared HTTP client against a real flaky server on loopback: what it retries, what it does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors.common.errors import FatalError, RateLimited, RetriableError
from connectors.common.http import HttpClient, RetryPolicy, make_session


class Script:
    """Answers requests from a list of (status, delay seconds, headers), then 200s."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, float, dict[str, str]]] = []
        self.calls = 0
        self.paths: list[str] = []


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A loopback server answering with `handler` on threads of its own, while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def flaky() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.calls += 1
            script.paths.append(self.path)
            status, delay, headers = script.steps.pop(0) if script.steps else (200, 0.0, {})
            time.sleep(delay)
            body = b'{"ok": true}'
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url, script


@pytest.fixture
def body_faults() -> Iterator[tuple[str, list[str]]]:
    """A server whose answers break off inside the body, one fault per call from the list: "cut" (the
    connection closes early) or "stall" (the body stops arriving); then whole answers."""
    faults: list[str] = []
    body = b'{"ok": true, "pad": "' + b"x" * 200_000 + b'"}'

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            fault = faults.pop(0) if faults else None
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body if fault is None else body[:1000])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            if fault == "stall":
                time.sleep(1.5)
            if fault is not None:
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url, faults


def check(response: requests.Response) -> dict:
    if response.status_code == 429:
        raise RateLimited("test", "s1", "429", float(response.headers.get("Retry-After", 0)) or None)
    if response.status_code >= 500:
        raise RetriableError("test", "s1", f"HTTP {response.status_code}")
    if response.status_code != 200:
        raise FatalError("test", "s1", f"HTTP {response.status_code}")
    return response.json()


def client(sleeps: list[float], attempts: int = 5, read_timeout: float = 5.0) -> HttpClient:
    return HttpClient(
        "test",
        "s1",
        timeout=(2.0, read_timeout),
        retry=RetryPolicy(max_attempts=attempts),
        sleep=sleeps.append,
    )


def test_5xx_and_429_are_retried_honouring_retry_after(flaky):
    url, script = flaky
    script.steps = [(503, 0, {}), (429, 0, {"Retry-After": "2.5"}), (500, 0, {})]
    sleeps: list[float] = []
    http = client(sleeps)
    assert http.request("GET", url, check) == {"ok": True}
    assert script.calls == 4
    assert sleeps[1] == 2.5, "Retry-After wins over backoff"
    assert http.stats.retries == 3 and http.stats.throttled == 1


def test_a_read_timeout_is_retried(flaky):
    url, script = flaky
    script.steps = [(200, 1.5, {})]
    sleeps: list[float] = []
    assert client(sleeps, read_timeout=0.5).request("GET", url, check) == {"ok": True}
    assert len(sleeps) == 1


def test_fatal_errors_are_not_retried(flaky):
    url, script = flaky
    script.steps = [(404, 0, {})]
    with pytest.raises(FatalError, match=r"\[test/s1\] HTTP 404"):
        client([]).request("GET", url, check)
    assert script.calls == 1


def test_retries_give_up_with_the_last_error(flaky):
    url, script = flaky
    script.steps = [(503, 0, {})] * 3
    with pytest.raises(RetriableError, match="HTTP 503"):
        client([], attempts=3).request("GET", url, check)
    assert script.calls == 3


def test_connection_refused_is_retried_then_reported():
    sleeps: list[float] = []
    with pytest.raises(RetriableError, match=r"\[test/s1\] gave up after 2 attempts"):
        client(sleeps, attempts=2).request("GET", "http://127.0.0.1:9/", check)
    assert len(sleeps) == 1


def test_transport_errors_never_carry_the_query_string(caplog):
    """A URL's query may hold a token; requests quotes the URL in its errors, we must not."""
    with pytest.raises(RetriableError) as error:
        client([], attempts=2).request("GET", "http://127.0.0.1:9/router?session=tok-secret&sign=ABC", check)
    assert "tok-secret" not in str(error.value)
    assert "tok-secret" not in caplog.text
    assert "ConnectionError" in str(error.value)


def test_an_answers_time_is_the_platforms_not_the_wait_for_the_quota(flaky, monkeypatch):
    """What a windowed pull times to decide whether more calls in flight would help
    (connectors/common/windowed.py): how long the answer took, not the wait for the quota's pace."""
    monkeypatch.setenv("OMNI_HTTP_PACING", "on")
    url, script = flaky
    script.steps = [(200, 0.0, {}), (200, 0.3, {})]
    http = HttpClient("test", "s1", timeout=(2.0, 5.0), calls_per_second=1.0)  # sleeps for real
    began = time.monotonic()
    http.request("GET", url, check)
    http.request("GET", url, check)  # waits about a second for its slot, then 0.3 s for the answer
    assert time.monotonic() - began >= 1.0
    assert 0.3 <= http.answered_in < 0.9


def test_clients_sharing_a_quota_share_one_pacing_schedule():
    """Two clients of one app key (say a Tmall and a Taobao shop, in two processes) pace as one:
    20 calls at 20/s take a second between them, where separate quotas would take half; a throttle
    answer to one holds the other back too."""
    import uuid

    from connectors.common.http import SharedPacer

    app = f"test-app-{uuid.uuid4().hex}"
    waits: list[float] = []
    now = time.time()  # a stopped clock: the waits are the schedule's, however slowly the calls run

    def pacer(scope: str) -> SharedPacer:
        return SharedPacer(scope, 20.0, sleep=waits.append, clock=lambda: now)

    tmall, taobao = pacer(app), pacer(app)
    other = pacer(f"test-other-{uuid.uuid4().hex}")
    for _ in range(10):
        tmall.wait()
        taobao.wait()
    assert 0.9 <= max(waits) < 1.0  # the 20th call waits for 19 slots of 50 ms: one schedule
    waits.clear()
    for _ in range(10):
        other.wait()
    assert max(waits) < 0.5  # another app's quota is its own
    waits.clear()
    tmall.hold(5.0)  # the platform said "banned for 5 more seconds" to the Tmall shop
    taobao.wait()
    assert waits and waits[0] > 4.9


def test_the_environments_proxy_settings_apply_read_once_per_host(flaky, monkeypatch):
    proxy, script = flaky  # the flaky server stands in for a forward proxy here
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    reads = []
    environ_proxies = requests.sessions.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions,
        "get_environ_proxies",
        lambda *a, **k: reads.append(a[0]) or environ_proxies(*a, **k),
    )
    http = client([])  # as every connector asks: HttpClient on make_session()
    for page in range(3):
        assert http.request("GET", f"http://shop.invalid/orders?page={page}", check) == {"ok": True}
    assert script.paths == [f"http://shop.invalid/orders?page={page}" for page in range(3)]  # via the proxy
    assert len(reads) == 1  # the environment read at the host's first request only
    # another host is looked up afresh: exempted by no_proxy, it is asked directly
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert http.request("GET", f"{proxy}direct", check) == {"ok": True}
    assert script.paths[-1] == "/direct"
    assert len(reads) == 2
    # a plain requests call (stream not asked for) is merged with the environment too
    assert make_session().get("http://shop.invalid/plain", timeout=5).json() == {"ok": True}
    assert script.paths[-1] == "http://shop.invalid/plain"


def test_a_body_cut_short_or_stalling_is_retried_and_a_whole_one_read(body_faults):
    # the client reads bodies itself in one piece (read_body): urllib3's errors must still become
    # the ones it retries
    url, faults = body_faults
    faults += ["cut", "stall"]
    sleeps: list[float] = []
    http = client(sleeps, read_timeout=0.5)
    answer = http.request("GET", url, check)
    assert answer["ok"] is True and len(answer["pad"]) == 200_000
    assert http.stats.retries == 2 and http.stats.requests == 3
    assert http.stats.bytes == len(b'{"ok": true, "pad": "') + 200_000 + len(b'"}')  # the whole answer only
