"""Meituan O2O voucher orders by day-sequence enumeration (channel-protocols.md §8).

Meituan has no modified-time order list (orders are pushed to callbacks), so WindowedOrderSource
does not apply. To pull orders *changed* in [start, end), per configured store (`app_poi_codes`:
store_id -> app_poi_code) and per China creation day, `order/getOrderDaySeq` gives the day's last
sequence number, `order/getOrderIdByDaySeq` each order id and `order/getOrderDetail` the order,
fetched once per pull. A voucher order changes long after its creation day: redeemed up to 20
days later, refunded automatically when it expires after 30 days. So creation days are enumerated
from `start - lookback_days` (option, default 31 = validity + 1) to the day of `end`, and only
versions whose `utime` is in [start, end) are landed. That costs one call per store and day of
the lookback plus two per order created in it, every run: expensive by design, the price of a
platform that only pushes changes. (A push-callback receiver would make it incremental.)

The landed record is the order detail plus `store_id` (the purchase store) and, per redeemed
voucher, `use_store_id` (the redeeming store): both mapped back from app_poi_code through the
shop's own `app_poi_codes` option (configuration, not PII), because staging cannot read config.
A poi code missing from the option maps to null and is noted in the pull stats.
`recipient_phone` is a virtual relay number (隐私号) that still reaches the buyer for a while: it is
dropped. The buyer key is the app-scoped `user_id`.

Unverified, as constants: the field names, `date_time` on getOrderDaySeq, and that a day without
orders answers day_seq 0 (see connectors/sandbox/meituan_sim.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.errors import FatalError
from connectors.common.http import HttpClient, PullStats
from connectors.common.pii import PiiHasher
from connectors.common.records import LandingRows, dumps_record
from connectors.common.timeutil import china_date, iter_days, utc_now
from connectors.config import ShopConfig
from connectors.meituan.client import MeituanClient

DAY_SEQ = "order/getOrderDaySeq"
ORDER_ID = "order/getOrderIdByDaySeq"
DETAIL = "order/getOrderDetail"
DEFAULT_LOOKBACK_DAYS = 31  # voucher validity (30 days) + 1: nothing changes after expiry
# Meituan's call frequency limit (error 711) is per app and unpublished: 50/s is the sandbox's.
# Override with the shop option `calls_per_second` (0: no pacing); every shop of one app_id, in any
# process, shares it.
DEFAULT_CALLS_PER_SECOND = 50.0
DROPPED_FIELDS = ("recipient_phone", "recipient_name", "recipient_address")


def day_number(day: date) -> int:
    """The `date_time` parameter: yyyymmdd as an integer."""
    return day.year * 10_000 + day.month * 100 + day.day


class MeituanSource:
    entities = ("orders",)

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        self.shop = shop
        self.pii = pii
        self.stats = PullStats()
        codes = shop.require("app_poi_codes")
        self.lookback = timedelta(days=int(shop.option("lookback_days", DEFAULT_LOOKBACK_DAYS)))
        if not isinstance(codes, dict) or not codes or self.lookback < timedelta(0):
            raise FatalError(
                shop.channel,
                shop.shop_id,
                "options: app_poi_codes must be a table store_id -> app_poi_code, lookback_days >= 0",
            )
        self.poi_codes = {str(store): str(poi) for store, poi in codes.items()}
        self.stores = {poi: store for store, poi in self.poi_codes.items()}
        app = f"meituan|{shop.require('base_url')}|{shop.credential('app_id')}"
        self.http = HttpClient.for_quota(shop, self.stats, DEFAULT_CALLS_PER_SECOND, app)
        self.client = MeituanClient(shop, self.http)

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        if entity not in self.entities:
            raise ValueError(f"the {self.shop.channel} connector has no entity '{entity}' (it has orders)")
        if end <= start:
            return
        first = china_date(start - self.lookback)
        last = china_date(end - timedelta(microseconds=1))
        seen: set[str] = set()
        for poi in self.poi_codes.values():
            for day in iter_days(first, last):
                yield from self._day(poi, day, start, end, seen)

    def _day(self, poi: str, day: date, start: datetime, end: datetime, seen: set[str]) -> Iterator[pa.Table]:
        self.stats.pages += 1
        params = {"app_poi_code": poi, "date_time": day_number(day)}
        count = int(self.client.call(DAY_SEQ, params).get("day_seq") or 0)
        rows = LandingRows()
        for seq in range(1, count + 1):
            order_id = str(self.client.call(ORDER_ID, {**params, "day_seq": seq})["order_id"])
            if order_id in seen:
                continue
            seen.add(order_id)
            record = self.client.call(DETAIL, {"order_id": order_id})
            utime = datetime.fromtimestamp(int(record["utime"]), UTC)
            if not start <= utime < end:
                continue
            rows.append(
                str(record["order_id"]), utime, str(record.get("status")), dumps_record(self.scrub(record))
            )
        self.stats.rows += len(rows.record_ids)
        if rows.record_ids:
            yield rows.page(utc_now())

    def _store(self, poi: Any) -> str | None:
        store = self.stores.get(str(poi or ""))
        if store is None and poi:
            note = f"app_poi_code {poi} is not in the app_poi_codes option: its store_id is null"
            if note not in self.stats.notes:
                self.stats.notes.append(note)
        return store

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        scrubbed = {k: v for k, v in record.items() if k not in DROPPED_FIELDS}
        scrubbed["store_id"] = self._store(record.get("app_poi_code"))
        scrubbed["coupons"] = [
            {**coupon, "use_store_id": self._store(coupon.get("use_poi_code"))}
            for coupon in record.get("coupons") or []
        ]
        return scrubbed

    def close(self) -> None:
        self.http.session.close()
