"""Tmall and Taobao trades over TOP's incremental API (`taobao.trades.sold.increment.get`).

The range is split into windows of at most one day (TOP's cap; `window_hours` shortens them).
TOP's bounds are inclusive at one-second resolution, so each window asks for [start, end - 1 s].
Results come newest-modified first, and a trade modified while we page moves out of the window
and shifts every later page: paging from the last page backwards, as TOP's documentation
advises, can then repeat a trade but never skip one. Only a trade *entering* the window (possible
while the window is still open) pushes others onto pages already read, so if the total grew while
paging, the window is paged again. Versions are de-duplicated by (tid, modified).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.errors import FatalError, ProtocolError
from connectors.common.http import HttpClient, PullStats
from connectors.common.paging import last_page_number
from connectors.common.pii import PiiHasher, scrub_fields
from connectors.common.records import dumps_record, landing_page
from connectors.common.timeutil import format_cst, parse_cst, split_window, utc_now
from connectors.config import ShopConfig
from connectors.top.client import TopClient

METHOD = "taobao.trades.sold.increment.get"
FIELDS = (
    "tid,status,type,created,pay_time,consign_time,end_time,modified,total_fee,discount_fee,adjust_fee,"
    "post_fee,payment,received_payment,buyer_open_uid,buyer_nick,seller_nick,receiver_name,receiver_mobile,"
    "receiver_phone,receiver_address,receiver_state,receiver_city,receiver_district,oaid,trade_from,orders"
)
# Ciphertexts we cannot use without TOP's decrypt API: removed before landing.
ENCRYPTED_FIELDS = ("receiver_name", "receiver_mobile", "receiver_phone", "receiver_address")
MAX_REPAGES = 3
ONE_SECOND = timedelta(seconds=1)


def trades_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A missing `trades`, `{}` and `{"trade": []}` all mean an empty page; simplify=true gives a list."""
    trades = body.get("trades") or []
    if isinstance(trades, dict):
        trades = trades.get("trade") or []
    return list(trades)


class TopSource:
    entities = ("orders",)

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        self.shop = shop
        self.pii = pii
        self.stats = PullStats()
        self.page_size = int(shop.option("page_size", 100))
        hours = float(shop.option("window_hours", 24))
        if not 0 < hours <= 24 or not 1 <= self.page_size <= 100:
            raise FatalError(
                shop.channel, shop.shop_id, "options: window_hours must be in (0, 24], page_size 1-100"
            )
        self.window = timedelta(hours=hours)
        self.client = TopClient(shop, HttpClient(shop.channel, shop.shop_id, stats=self.stats))

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        if entity != "orders":
            raise ValueError(f"the TOP connector has no entity '{entity}' (it has orders)")
        seen: set[tuple[str, datetime]] = set()
        for window_start, window_end in split_window(start, end, self.window):
            yield from self._window(window_start, window_end, seen)

    def _page(self, window_start: datetime, window_end: datetime, page_no: int) -> dict[str, Any]:
        return self.client.call(
            METHOD,
            {
                "fields": FIELDS,
                "start_modified": format_cst(window_start),
                "end_modified": format_cst(window_end - ONE_SECOND),
                "page_no": page_no,
                "page_size": self.page_size,
                "use_has_next": "false",  # backward paging needs the total
            },
        )

    def _window(self, start: datetime, end: datetime, seen: set[tuple[str, datetime]]) -> Iterator[pa.Table]:
        for _ in range(MAX_REPAGES):
            first = self._page(start, end, 1)
            total = int(first.get("total_results") or 0)
            pages = last_page_number(total, self.page_size)
            if pages <= 1:
                yield from self._landed(trades_of(first), start, end, seen)
                return
            for page_no in range(pages, 1, -1):
                yield from self._landed(trades_of(self._page(start, end, page_no)), start, end, seen)
            last = self._page(start, end, 1)  # page 1 last: it also tells whether the total moved
            yield from self._landed(trades_of(last), start, end, seen)
            if int(last.get("total_results") or 0) <= total:  # trades only left: nothing was skipped
                return
            self.stats.notes.append(f"trades entered the window {format_cst(start)} while paging: re-paging")
        raise ProtocolError(
            self.shop.channel,
            self.shop.shop_id,
            f"trades kept entering the window starting {format_cst(start)} while paging",
        )

    def _landed(
        self, trades: list[dict[str, Any]], start: datetime, end: datetime, seen: set[tuple[str, datetime]]
    ) -> Iterator[pa.Table]:
        self.stats.pages += 1
        ids, modified, statuses, bodies = [], [], [], []
        for trade in trades:
            tid = str(trade["tid"])
            changed = parse_cst(trade["modified"])
            if not start <= changed < end or (tid, changed) in seen:
                continue
            seen.add((tid, changed))
            ids.append(tid)
            modified.append(changed)
            statuses.append(trade.get("status"))
            bodies.append(dumps_record(scrub_fields(trade, self.pii, drop=ENCRYPTED_FIELDS)))
        self.stats.rows += len(ids)
        if ids:
            yield landing_page(ids, modified, statuses, bodies, utc_now())

    def close(self) -> None:
        self.client.http.session.close()
