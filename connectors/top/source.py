"""Tmall and Taobao trades over TOP's incremental API (`taobao.trades.sold.increment.get`).

Windows of at most one day (TOP's cap; `window_minutes` shortens them), paged backwards from the
last page (connectors/common/windowed.py says why). Receiver ciphertexts are dropped before
landing: without TOP's decrypt API they are useless, and `buyer_open_uid` is the buyer key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.common.pii import PiiHasher, scrub_fields
from connectors.common.timeutil import format_cst, parse_cst
from connectors.common.windowed import Identity, Page, WindowedOrderSource
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


def trades_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A missing `trades`, `{}` and `{"trade": []}` all mean an empty page; simplify=true gives a list."""
    trades = body.get("trades") or []
    if isinstance(trades, dict):
        trades = trades.get("trade") or []
    return list(trades)


class TopSource(WindowedOrderSource):
    max_window = timedelta(days=1)
    max_page_size = 100

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = TopClient(shop, self.http)

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        body = self.client.call(
            METHOD,
            {
                "fields": FIELDS,
                "start_modified": format_cst(start),
                "end_modified": format_cst(end),
                "page_no": page,
                "page_size": self.page_size,
                "use_has_next": "false",  # backward paging needs the total
            },
        )
        return Page(trades_of(body), int(body.get("total_results") or 0))

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(str(record["tid"]), parse_cst(record["modified"]), record.get("status"))

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        return scrub_fields(record, self.pii, drop=ENCRYPTED_FIELDS)
