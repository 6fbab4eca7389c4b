"""Pinduoduo orders over `pdd.order.number.list.increment.get` (channel-protocols.md §4.3, §4.4).

Updated-time windows in epoch seconds of at most 30 minutes, pages of at most 100 counted from 1,
paged from the last page backwards as PDD's documentation requires (connectors/common/windowed.py
says why); `use_has_next=false` so every answer carries `total_count`, which backward paging needs.
PDD may not list a change for up to 3 minutes: a window is never asked for past now − 3 min (the
base class moves the end back and notes it). All statuses (order_status=5, refund_status=5,
is_lucky_flag=0) and both trade types are pulled.

Money arrives as JSON numbers in yuan; it is parsed as Decimal and landed as decimal strings.
There is no buyer id in the order list. The receiver ciphertexts are dropped before landing, and
so are the masked name and address (a masked name still holds the surname, a masked address the
street part); the masked phone, province/city/town and `open_address_id` are kept.

Unverified and kept as constants: that both window bounds are inclusive at one-second resolution,
and that `updated_at` is Beijing time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.common.errors import ProtocolError
from connectors.common.pii import PiiHasher
from connectors.common.records import decimals_as_text
from connectors.common.timeutil import parse_cst
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig
from connectors.pinduoduo.client import PinduoduoClient

METHOD = "pdd.order.number.list.increment.get"
DROPPED_FIELDS = (
    "receiver_name",
    "receiver_phone",
    "receiver_address",
    "address",
    "receiver_name_mask",
    "receiver_address_mask",
    "address_mask",
)


def platform_status(record: dict[str, Any]) -> str:
    """PDD has no single status: the three codes that decide the lifecycle, kept verbatim."""
    return ",".join(f"{k}={record.get(k)}" for k in ("order_status", "refund_status", "confirm_status"))


class PinduoduoSource(WindowedOrderSource):
    max_window = timedelta(minutes=30)
    max_page_size = 100
    default_page_size = 100
    first_page = 1
    inclusive_end = True
    settle_time = timedelta(minutes=3)
    calls_per_second = 50.0  # the shop-level quota: 3,000 calls per 60 s (§4.3)

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = PinduoduoClient(shop, self.http)

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        result = self.client.call(
            METHOD,
            {
                "start_updated_at": int(start.timestamp()),
                "end_updated_at": int(end.timestamp()),
                "is_lucky_flag": 0,
                "order_status": 5,
                "refund_status": 5,
                "page": page,
                "page_size": self.page_size,
                "use_has_next": False,  # total_count is what backward paging needs
            },
        )
        if "total_count" not in result:
            raise ProtocolError(self.shop.channel, self.shop.shop_id, "PDD answer has no total_count")
        return Page(list(result.get("order_sn_list") or []), int(result["total_count"]))

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(str(record["order_sn"]), parse_cst(record["updated_at"]), platform_status(record))

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in record.items() if k not in DROPPED_FIELDS}
        scrubbed: dict[str, Any] = decimals_as_text(kept)
        return scrubbed
