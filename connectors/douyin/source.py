"""Douyin shop (抖店) orders over `order.searchList` (channel-protocols.md §5).

Update-time windows (epoch seconds) of at most 90 days, pages counted from 0, paged backwards
from the last one newest-first (connectors/common/windowed.py says why). The buyer key is
`doudian_open_id`. Receiver ciphertexts are dropped before landing (decrypting them needs
`order.batchDecrypt`, which the pipeline does not call); the masked phone is kept, the masked name
dropped (a surname is still a fragment of a name). Money is integer fen, `order_id` a string
(ids exceed 2^53): it is landed as text and never parsed as a number.

All Douyin facts come from third-party clients. Unverified and kept as constants: the 90-day window
cap, that both window bounds are inclusive at one-second resolution, and the field names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.common.pii import PiiHasher
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig
from connectors.douyin.client import DouyinClient

METHOD = "order.searchList"
MAX_WINDOW = timedelta(days=90)  # one third-party client caps at ~90 days (unverified)
DROPPED_FIELDS = ("encrypt_post_receiver", "encrypt_post_tel", "mask_post_receiver")
DROPPED_ADDRESS_FIELDS = ("encrypt_detail",)


class DouyinSource(WindowedOrderSource):
    max_window = MAX_WINDOW
    max_page_size = 100
    default_page_size = 100
    first_page = 0
    inclusive_end = True  # update_time_start/_end taken as inclusive epoch seconds (unverified)

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = DouyinClient(shop, self.http)

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        data = self.client.call(
            METHOD,
            {
                "page": page,
                "size": self.page_size,
                "update_time_start": int(start.timestamp()),
                "update_time_end": int(end.timestamp()),
                "order_by": "update_time",
                "order_asc": False,  # newest first: backward paging relies on it
            },
        )
        return Page(list(data.get("shop_order_list") or []), int(data.get("total") or 0))

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(
            str(record["order_id"]),
            datetime.fromtimestamp(int(record["update_time"]), UTC),
            str(record.get("order_status")),
        )

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        scrubbed = {k: v for k, v in record.items() if k not in DROPPED_FIELDS}
        address = record.get("post_addr")
        if isinstance(address, dict):
            scrubbed["post_addr"] = {k: v for k, v in address.items() if k not in DROPPED_ADDRESS_FIELDS}
        return scrubbed
