"""One HTTP client for every platform: timeouts always, retries on throttling and passing faults.

A platform module supplies `check(response)`, which turns its envelope (an error body in an HTTP
200, a 429, a 401) into the typed errors of `errors.py` and returns the parsed body. Everything
about *when* to retry lives here: `RetriableError` and transport failures are retried with
exponential backoff (honouring Retry-After), anything else propagates at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from connectors.common.errors import ConnectorError, ProtocolError, RateLimited, RetriableError
from connectors.config import ShopConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT = (5.0, 60.0)  # connect, read (seconds)
READ_TIMEOUT_ENV = "OMNI_HTTP_READ_TIMEOUT"  # seconds: overrides the read timeout of every client
# "off": no client-side quota pacing at all, for servers that have no limits (a sandbox started
# with its rate limits off, as the tests' worlds are); throttle answers are still retried.
PACING_ENV = "OMNI_HTTP_PACING"


def default_timeout() -> tuple[float, float]:
    read = os.environ.get(READ_TIMEOUT_ENV)
    return (DEFAULT_TIMEOUT[0], float(read)) if read else DEFAULT_TIMEOUT


_QUERY = re.compile(r"\?[^\s'\"]*")


def without_query(text: str) -> str:
    """Transport errors quote the URL; a query string may carry tokens, so it never reaches a log."""
    return _QUERY.sub("?…", text)


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = self.base_delay * (2 ** (attempt - 1))
        return min(backoff * (0.5 + random.random()), self.max_delay)


@dataclass
class PullStats:
    """Counters a pull reports as materialization metadata."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    pages: int = 0
    rows: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "notes": list(self.notes),
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "pages": self.pages,
            "rows": self.rows,
            "bytes": self.bytes,
        }

    def add(self, other: PullStats) -> None:
        """Count `other`'s calls and notes in these too (a page worker's, in its pull's)."""
        self.requests += other.requests
        self.retries += other.retries
        self.throttled += other.throttled
        self.pages += other.pages
        self.rows += other.rows
        self.bytes += other.bytes
        self.notes.extend(other.notes)


class Pacer:
    """Spaces calls at most `rate` per second, so a client stays under a platform's documented
    quota instead of running into its throttle errors and backing off."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.sleep = sleep
        self.next_slot = 0.0

    def _reserve(self, pause: float = 0.0) -> float:
        """Take the next free slot (after `pause` seconds from now, if longer); its time."""
        now = time.monotonic()
        slot = max(now + pause, self.next_slot)
        self.next_slot = slot + self.interval
        return slot - now

    def wait(self) -> None:
        if self.interval:
            delay = self._reserve()
            if delay > 0:
                self.sleep(delay)

    def hold(self, seconds: float) -> None:
        """The platform throttled us anyway: no call for `seconds`."""
        if self.interval:
            self.next_slot = max(self.next_slot, time.monotonic() + seconds)


class SharedPacer(Pacer):
    """A Pacer whose schedule every process pacing against the same quota shares: a platform's
    per-app quota covers all the app's shops, and Dagster lands channels in parallel processes
    (Tmall's and Taobao's shops use one TOP app key). The next free slot is a wall-clock time in a
    small file under the temp folder (its name a hash of `scope`), read and moved under an exclusive
    lock; a throttle answer holds every sharer back, not just the one that got it."""

    def __init__(
        self,
        scope: str,
        rate: float | None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,  # wall-clock seconds: the schedule spans processes
    ) -> None:
        super().__init__(rate, sleep)
        self.clock = clock
        folder = Path(tempfile.gettempdir()) / f"omni-pacing-{os.getuid()}"  # one user's processes
        folder.mkdir(exist_ok=True)
        self.path = folder / f"{hashlib.sha256(scope.encode()).hexdigest()[:20]}.slot"

    def _shared(self, pause: float, reserve: bool) -> float:
        with self.path.open("a+", encoding="ascii") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes
            handle.seek(0)
            try:
                next_slot = float(handle.read().strip() or 0)
            except ValueError:  # a torn or foreign file: start afresh
                next_slot = 0.0
            now = self.clock()
            slot = max(now + pause, next_slot)
            handle.seek(0)
            handle.truncate()
            handle.write(repr(slot + self.interval if reserve else slot))
        return slot - now

    def _reserve(self, pause: float = 0.0) -> float:
        return self._shared(pause, reserve=True)

    def hold(self, seconds: float) -> None:
        if self.interval:
            self._shared(seconds, reserve=False)


class Session(requests.Session):
    """A requests.Session that reads the environment's settings for a host (its proxy and no_proxy
    variables, the CA bundle) at the host's first request, not at every request: requests scans
    the whole environment for them on each call, 0.19 ms a call measured, about a tenth of the CPU
    of fetching a 130 KB TOP page here. A variable changed during a pull applies to the next one."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[object, ...], Any] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        # what is merged with the environment is this call's and this session's own settings: they
        # are in the key (HttpClient asks with stream=True)
        key = (
            parts.scheme,
            parts.netloc,
            stream,
            str(verify),
            str(cert),
            tuple(sorted(self.proxies.items())),
            self.stream,
            str(self.verify),
            str(self.cert),
        )
        settings = self._environment.get(key)
        if settings is None:
            settings = self._environment[key] = super().merge_environment_settings(
                url, {}, stream, verify, cert
            )
        return {**settings, "proxies": dict(settings["proxies"])}  # a copy: the caller's to change


def read_body(response: requests.Response) -> bytes:
    """The body of a response asked for with `stream=True`, read in one piece and kept as its
    `content`. requests reads a body it was not told to stream 10 KB at a time through three layers
    of generators: 5 ms of CPU for a 1.1 MB body here (a Shopify page), against 1.7 ms in one read.
    urllib3's errors become requests' own, as `content` makes them."""
    if response._content is False:  # not read yet (a response hook may have given it already)
        try:
            response._content = response.raw.read(decode_content=True)
        except urllib3.exceptions.ProtocolError as error:  # cut short, reset
            raise requests.exceptions.ChunkedEncodingError(error) from error
        except urllib3.exceptions.DecodeError as error:
            raise requests.exceptions.ContentDecodingError(error) from error
        except urllib3.exceptions.ReadTimeoutError as error:
            raise requests.ConnectionError(error) from error
        except urllib3.exceptions.SSLError as error:
            raise requests.exceptions.SSLError(error) from error
        response._content_consumed = True
    return response.content


def make_session(user_agent: str = "omni-platform/0.1") -> requests.Session:
    session = Session()
    session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"})
    return session


class HttpClient:
    """Sends requests for one channel/shop and retries what is worth retrying."""

    def __init__(
        self,
        channel: str,
        shop_id: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] | None = None,
        retry: RetryPolicy | None = None,
        stats: PullStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        calls_per_second: float | None = None,
        quota_scope: str | None = None,
    ) -> None:
        self.channel = channel
        self.shop_id = shop_id
        self.session = session or make_session()
        self.timeout = timeout or default_timeout()
        self.retry = retry or RetryPolicy()
        self.stats = stats or PullStats()
        self.sleep = sleep
        if os.environ.get(PACING_ENV, "on").strip().lower() == "off":
            calls_per_second = None
        # quota_scope: the calls_per_second quota is shared with every client naming the same scope
        # seconds the last answer took to arrive, read whole (no pacing, no retry's wait in it)
        self.answered_in = 0.0
        self.pacer = (
            SharedPacer(quota_scope, calls_per_second, sleep)
            if quota_scope
            else Pacer(calls_per_second, sleep)
        )

    @classmethod
    def for_quota(
        cls, shop: ShopConfig, stats: PullStats, default_rate: float | None, quota_scope: str | None = None
    ) -> HttpClient:
        """A shop's client paced to its platform's quota: `default_rate` calls per second unless the
        shop option `calls_per_second` says otherwise (0: no pacing); `quota_scope` shares the quota
        with every client naming the same scope (see SharedPacer)."""
        rate = float(shop.option("calls_per_second", default_rate or 0))
        return cls(
            shop.channel, shop.shop_id, stats=stats, calls_per_second=rate or None, quota_scope=quota_scope
        )

    def request(
        self,
        method: str,
        url: str,
        check: Callable[[requests.Response], T],
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        prepare: Callable[[], dict[str, Any]] | None = None,
    ) -> T:
        """Send and check, retrying. `prepare()` (if given) is called before every attempt and
        returns fresh keyword overrides, so signed requests get a new timestamp and signature."""
        attempt = 0
        while True:
            attempt += 1
            kwargs: dict[str, Any] = {"params": params, "data": data, "json": json, "headers": headers}
            if prepare is not None:
                kwargs.update(prepare())
            self.pacer.wait()
            try:
                self.stats.requests += 1
                sent_at = time.monotonic()
                response = self.session.request(method, url, timeout=self.timeout, stream=True, **kwargs)
                self.stats.bytes += len(read_body(response))
                self.answered_in = time.monotonic() - sent_at
                return check(response)
            except RetriableError as exc:
                error: ConnectorError = exc
                retry_after = exc.retry_after
                if isinstance(exc, RateLimited):
                    self.stats.throttled += 1
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                error = RetriableError(
                    self.channel, self.shop_id, f"{type(exc).__name__}: {without_query(str(exc))}"
                )
                retry_after = None
            except ConnectorError:
                raise
            except ValueError as exc:  # a body that does not parse: treat as a passing fault
                error = ProtocolError(
                    self.channel, self.shop_id, f"unreadable response from {without_query(url)}: {exc}"
                )
                retry_after = None
            if attempt >= self.retry.max_attempts:
                raise RetriableError(
                    self.channel, self.shop_id, f"gave up after {attempt} attempts: {error.detail}"
                ) from None
            delay = self.retry.delay(attempt, retry_after)
            if isinstance(error, RateLimited):  # throttled despite pacing: every sharer waits it out
                self.pacer.hold(delay)
            self.stats.retries += 1
            log.warning("%s (attempt %d); retrying in %.1fs", error, attempt, delay)
            self.sleep(delay)
