"""What the marketplace simulators share: the order feed they page through (newest-modified first,
with orders changing between page requests on demand), a token bucket, and how platforms write
money, ciphertexts and masked phone numbers."""

from __future__ import annotations

import base64
import bisect
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.sandbox.faults import clock_skew
from connectors.sandbox.server import SandboxSettings
from connectors.sandbox.world import Order, OrderState, World, visible_orders

Record = dict[str, Any]


def yuan(fen: int) -> str:
    """Yuan as a decimal string with two places: "200.07"."""
    return f"{Decimal(fen).scaleb(-2):.2f}"


def cipher(value: str | None, salt: str, style: str = "~{}~1~") -> str | None:
    """Opaque ciphertext in a platform's style; the plain value cannot be read back from it."""
    if not value:
        return None
    digest = hashlib.sha256(f"{salt}|{value}".encode()).digest()
    return style.format(base64.b64encode(digest).decode()[:24])


def masked_phone(phone: str | None) -> str | None:
    """Platforms' masked twin of a mobile number: `138****5678`."""
    return f"{phone[:3]}****{phone[-4:]}" if phone else None


def masked_name(name: str | None) -> str | None:
    return f"{name[0]}**" if name else None


# Every gateway here rejects a request whose timestamp is more than 10 minutes off its clock.
MAX_CLOCK_SKEW = timedelta(minutes=10)


class PlatformClock:
    """A gateway's clock, and its check of a request's timestamp; counts what the skew rejected."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.skew = clock_skew(settings.faults)
        self.injected: Counter[str] = Counter()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew

    def rejects(self, sent: datetime) -> bool:
        off = abs(self.now() - sent) > MAX_CLOCK_SKEW
        if off and self.skew:
            self.injected["clock_skew"] += 1
        return off


def stage(state: OrderState) -> str:
    """Where an order stands, in the terms every platform's status enum distinguishes: cancelled
    (never paid), refunded (in full), completed, shipped, paid or unpaid. Each simulator maps these
    to its own codes."""
    if state.status in ("cancelled", "refunded"):
        return state.status
    if state.completed_at:
        return "completed"
    if state.shipped_at:
        return "shipped"
    return "paid" if state.paid_at else "unpaid"


class TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class OrderFeed:
    """One platform's orders as its list API pages them: per shop, newest-modified first.

    `render(order, state)` gives the platform's record; `restamp(record, modified)` the same record
    modified again. With the `modify_while_paging` fault, every page served modifies the newest
    order in the window once more, right after the page was cut: it leaves the window (its new
    time is just before the platform's "now") and every later order moves up one place, so a
    connector paging forwards skips one and a connector paging backwards may see one twice.

    `empty_page_once`: every page with records comes back empty (the total unchanged) the first time
    it is asked for, as an overloaded platform sometimes answers; asked again, it is whole.
    `empty_pages`: every page after the first comes back empty, however often it is asked for.
    `duplicate_across_pages`: every page but the last also carries the next page's first record,
    as an unstable sort between two requests serves it.
    """

    def __init__(
        self,
        world: World,
        settings: SandboxSettings,
        shop_ids: Iterable[str],
        render: Callable[[Order, OrderState], Record],
        restamp: Callable[[Record, datetime], Record],
        history: timedelta | None = None,
    ) -> None:
        self.now = settings.now or world.as_of
        self.modify_while_paging = "modify_while_paging" in settings.faults
        self.empty_page_once = "empty_page_once" in settings.faults
        self.empty_pages = "empty_pages" in settings.faults
        self.duplicate_across_pages = "duplicate_across_pages" in settings.faults
        self.emptied: set[tuple[object, ...]] = set()  # pages served empty once
        self.injected: Counter[str] = Counter()
        self.restamp = restamp
        self.lock = threading.Lock()
        self.modified_again: dict[tuple[str, str], datetime] = {}  # (shop, order id) -> new modified
        self.rows: dict[str, list[tuple[datetime, str, Record]]] = {}
        self.times: dict[str, list[datetime]] = {}
        for shop_id in shop_ids:
            rows = [
                (state.modified_at, order.order_id, render(order, state))
                for order, state in visible_orders(world.orders_for(shop_id), self.now)
                if history is None or order.created_at >= self.now - history
            ]
            rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
            self.rows[shop_id] = rows
            self.times[shop_id] = [row[0] for row in reversed(rows)]  # ascending, to bisect

    def _window(self, shop_id: str, start: datetime, end: datetime) -> list[tuple[datetime, str, Record]]:
        """The slice of a shop's rows (newest first) modified in [start, end]: a bisection, not a
        scan, so a world of years answers each page as fast as a world of a month."""
        rows, times = self.rows.get(shop_id, []), self.times.get(shop_id, [])
        first, last = bisect.bisect_left(times, start), bisect.bisect_right(times, end)
        return rows[len(rows) - last : len(rows) - first]

    def _matching(self, shop_id: str, start: datetime, end: datetime) -> list[tuple[datetime, str, Record]]:
        """Orders whose current modified time is in [start, end], newest first."""
        rows = self.rows.get(shop_id, [])
        if not self.modified_again:
            return self._window(shop_id, start, end)
        current = []
        for modified, order_id, record in rows:
            again = self.modified_again.get((shop_id, order_id))
            if again is not None:
                modified, record = again, self.restamp(record, again)
            if start <= modified <= end:
                current.append((modified, order_id, record))
        current.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return current

    def moved(self) -> set[str]:
        """Ids of the orders the `modify_while_paging` fault has modified again."""
        return {order_id for _, order_id in self.modified_again}

    def page(
        self,
        shop_id: str,
        start: datetime,
        end: datetime,
        offset: int,
        size: int,
        *,
        ascending: bool = False,
        where: Callable[[Record], bool] | None = None,
    ) -> tuple[list[Record], int]:
        """Records [offset, offset + size) of the window (inclusive bounds) that pass `where`, and
        how many there are in all."""
        with self.lock:
            matching = self._matching(shop_id, start, end)
            if where is not None:
                matching = [row for row in matching if where(row[2])]
            ordered = matching[::-1] if ascending else matching
            page = [record for _, _, record in ordered[offset : offset + size]]
            if self.duplicate_across_pages and offset + size < len(ordered):
                page.append(ordered[offset + size][2])
                self.injected["duplicate_across_pages"] += 1
            key = (shop_id, start, end, offset, ascending)
            if self.empty_page_once and page and key not in self.emptied:
                self.emptied.add(key)
                self.injected["empty_page_once"] += 1
                page = []
            if self.empty_pages and offset > 0:
                page = []
            if self.modify_while_paging and matching:
                self.modified_again[(shop_id, matching[0][1])] = self.now - timedelta(seconds=1)
        return page, len(matching)
