"""1688 wholesale orders over `alibaba.trade.getSellerOrderList` (channel-protocols.md §9).

Modify-time windows (`modifyStartTime`/`modifyEndTime`, `yyyyMMddHHmmssSSS+0800`), pages counted
from 1, newest-modified first, paged backwards from the last page (connectors/common/windowed.py
says why); the end of data is `totalRecord`. The order id is `baseInfo.idOfStr`: 1688 ids are
64-bit and `baseInfo.id` is the same id as a JSON number, which a float-parsing reader corrupts,
so `id` and the line's `subItemID` are dropped before landing and only their string twins kept.

Buyers are businesses: the key is `buyerLoginId`. 1688 hands the seller the buyer's contact
(`buyerContact`) and the consignee (`nativeLogistics`) in plain text; those are a person's name,
phone and address, so they are hashed (phones also masked) before landing. `companyName` is hashed
as a name too: small shops are often named after their owner.

Money is yuan (strings in the sandbox; JSON numbers are parsed as Decimal and landed as exact text).

Unverified and kept as constants: the 31-day window cap and the 50-record page cap; that the
bounds are inclusive (the connector asks for [start, end] and keeps [start, end): 1688 times have
milliseconds, so asking up to end - 1 s could miss the last second); the error codes (client.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.alibaba_1688.client import Alibaba1688Client, format_time, parse_time
from connectors.common.errors import ProtocolError
from connectors.common.pii import PiiHasher, scrub_fields
from connectors.common.records import decimals_as_text
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig

METHOD = "alibaba.trade.getSellerOrderList"
MAX_WINDOW = timedelta(days=31)  # unverified: the reference gives no cap
MAX_PAGE_SIZE = 50  # unverified
NUMERIC_ID_FIELDS = ("id",)  # baseInfo.id: idOfStr carries it exactly
NUMERIC_LINE_ID_FIELDS = ("subItemID",)  # subItemIDString carries it exactly


class Alibaba1688Source(WindowedOrderSource):
    max_window = MAX_WINDOW
    max_page_size = MAX_PAGE_SIZE
    default_page_size = MAX_PAGE_SIZE
    first_page = 1
    inclusive_end = False  # see the module docstring

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = Alibaba1688Client(shop, self.http)

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        body = self.client.call(
            METHOD,
            {
                "modifyStartTime": format_time(start),
                "modifyEndTime": format_time(end),
                "page": page,
                "pageSize": self.page_size,
            },
        )
        if "totalRecord" not in body:
            raise ProtocolError(self.shop.channel, self.shop.shop_id, "1688 answer has no totalRecord")
        return Page(list(body.get("result") or []), int(body["totalRecord"]))

    def identify(self, record: dict[str, Any]) -> Identity:
        base = record.get("baseInfo") or {}
        order_id = base.get("idOfStr")
        if not isinstance(order_id, str) or not order_id:
            raise ProtocolError(self.shop.channel, self.shop.shop_id, "1688 order without baseInfo.idOfStr")
        try:
            modified = parse_time(base.get("modifyTime") or "")
        except ValueError as exc:
            raise ProtocolError(
                self.shop.channel, self.shop.shop_id, f"order {order_id} modifyTime: {exc}"
            ) from None
        return Identity(order_id, modified, base.get("status"))

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        scrubbed: dict[str, Any] = decimals_as_text(record)  # a deep copy: the scrubbing below is in place
        base = scrubbed.get("baseInfo") or {}
        for key in NUMERIC_ID_FIELDS:
            base.pop(key, None)
        contact = base.get("buyerContact")
        if isinstance(contact, dict):
            scrub_fields(contact, self.pii, phones=("phone", "mobile"), names=("name", "companyName"))
        logistics = scrubbed.get("nativeLogistics")
        if isinstance(logistics, dict):
            scrub_fields(
                logistics,
                self.pii,
                phones=("mobile", "telephone"),
                names=("contactPerson",),
                addresses=("address",),
            )
        for item in scrubbed.get("productItems") or []:
            for key in NUMERIC_LINE_ID_FIELDS:
                item.pop(key, None)
        return scrubbed
