"""Youzan 有赞 orders and members for the brand's mini-program store (channel-protocols.md §6).

Both come from update-time windowed, numbered-page list APIs, so both use the windowed machinery
(connectors/common/windowed.py: windows, backward paging, re-paging, de-duplication): orders from
`youzan.trades.sold.get` (newest-updated first), members from `youzan.scrm.customer.search`. The
base class pulls one kind of record; `pull` sets which API the page fetch and the record readers
use, as the JD connector does for its two order APIs.

Orders: the buyer key is `yz_open_id` (with the WeChat `outer_user_id` and `union_id`, kept for
identity resolution); every `$…$1$` ciphertext (nickname, phone, receiver name, phone and address)
is dropped before landing. Members arrive with a plain mobile (the merchant's own member data):
it is hashed and masked with the shared PiiHasher, never landed plain.

Unverified and kept as constants: the API versions, `start_update`/`end_update` (inclusive, one
second resolution; the members API taken to use the same names), the one-day window cap, the
100 page-size cap, the members API itself and its `items` list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.pii import PiiHasher, scrub_fields
from connectors.common.timeutil import format_cst, parse_cst
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig
from connectors.youzan.client import YouzanClient

MAX_WINDOW = timedelta(days=1)  # unverified
MAX_PAGE_SIZE = 100  # unverified
DROPPED_BUYER_FIELDS = ("fans_nickname", "buyer_phone")
DROPPED_ADDRESS_FIELDS = ("receiver_name", "receiver_tel", "delivery_address")


@dataclass(frozen=True)
class ListApi:
    method: str
    list_key: str


APIS = {
    "orders": ListApi("youzan.trades.sold.get/4.0.4", "full_order_info_list"),
    "customers": ListApi("youzan.scrm.customer.search/3.0.0", "items"),
}


class YouzanSource(WindowedOrderSource):
    entities = ("orders", "customers")
    max_window = MAX_WINDOW
    max_page_size = MAX_PAGE_SIZE
    default_page_size = MAX_PAGE_SIZE

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = YouzanClient(shop, self.http)
        self.entity = "orders"

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        self.entity = entity
        yield from super().pull(entity, start, end)

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        api = APIS[self.entity]
        data = self.client.call(
            api.method,
            {
                "start_update": format_cst(start),
                "end_update": format_cst(end),
                "page_no": page,
                "page_size": self.page_size,
            },
        )
        items = list(data.get(api.list_key) or [])
        if self.entity == "orders":
            items = [item["full_order_info"] for item in items]
        return Page(items, int(data.get("total_results") or 0))

    def identify(self, record: dict[str, Any]) -> Identity:
        if self.entity == "customers":
            return Identity(str(record["yz_open_id"]), parse_cst(record["updated_at"]), None)
        info = record["order_info"]
        return Identity(str(info["tid"]), parse_cst(info["update_time"]), info.get("status"))

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.entity == "customers":
            return scrub_fields(dict(record), self.pii, phones=("mobile",))
        return {
            **record,
            "buyer_info": scrub_fields(
                dict(record.get("buyer_info") or {}), self.pii, drop=DROPPED_BUYER_FIELDS
            ),
            "address_info": scrub_fields(
                dict(record.get("address_info") or {}), self.pii, drop=DROPPED_ADDRESS_FIELDS
            ),
        }
