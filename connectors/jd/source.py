"""JD POP orders over JOS `jingdong.pop.order.enSearch` (channel-protocols.md §3).

Modified-time windows (dateType 0) of at most a month; pages of at most 50, paged backwards
from the last one (connectors/common/windowed.py). The buyer key is `open_id_buyer`; consignee
ciphertexts are dropped before landing, the masked `desen_mobile` is kept. JD sends every value as
a string, money as yuan strings and times as Beijing-time strings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.common.pii import PiiHasher
from connectors.common.timeutil import format_cst, parse_cst
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig
from connectors.jd.client import JdClient

METHOD = "jingdong.pop.order.enSearch"
OPTIONAL_FIELDS = (
    "orderId,venderId,orderType,payType,orderTotalPrice,orderSellerPrice,orderPayment,freightPrice,"
    "sellerDiscount,balanceUsed,orderState,orderStateRemark,orderStartTime,orderEndTime,"
    "paymentConfirmTime,modified,open_id_buyer,consigneeInfo,itemInfoList,couponDetailList,storeOrder,"
    "orderSource"
)
ENCRYPTED_CONSIGNEE_FIELDS = ("fullname", "telephone", "mobile", "fullAddress")


class JdSource(WindowedOrderSource):
    max_window = timedelta(days=28)  # "不得相差超过1个月": 28 days fits every calendar month
    max_page_size = 50
    default_page_size = 50

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = JdClient(shop, self.http)

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        body = self.client.call(
            METHOD,
            {
                "start_date": format_cst(start),
                "end_date": format_cst(end),
                "optional_fields": OPTIONAL_FIELDS,
                "page": page,
                "page_size": self.page_size,
                "dateType": 0,  # modified time
            },
        )
        result = body.get("searchorderinfo_result") or {}
        return Page(list(result.get("orderInfoList") or []), int(result.get("orderTotal") or 0))

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(str(record["orderId"]), parse_cst(record["modified"]), record.get("orderState"))

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        consignee = {
            k: v
            for k, v in (record.get("consigneeInfo") or {}).items()
            if k not in ENCRYPTED_CONSIGNEE_FIELDS
        }
        return {**record, "consigneeInfo": consignee}
