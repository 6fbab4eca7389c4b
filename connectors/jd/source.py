"""JD POP orders over JOS (channel-protocols.md §3): `jingdong.pop.order.enSearch` for the orders
the merchant ships (SOP), and, for a shop whose stock sits in JD's warehouses (option `fbp = true`),
`jingdong.pop.order.fbp.search` for the orders JD ships (FBP) — enSearch never lists those. The two
APIs take the same parameters under different names (snake_case vs camelCase).

Modified-time windows (dateType 0) of at most a month; pages of at most 50, paged backwards
from the last one (connectors/common/windowed.py). The buyer key is `open_id_buyer`; consignee
ciphertexts are dropped before landing, the masked `desen_mobile` is kept. JD sends every value as
a string, money as yuan strings and times as Beijing-time strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.pii import PiiHasher
from connectors.common.timeutil import format_cst, parse_cst
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig
from connectors.jd.client import JdClient

METHOD = "jingdong.pop.order.enSearch"
FBP_METHOD = "jingdong.pop.order.fbp.search"
# Each API's names for: window start, window end, fields, page size.
PARAMETER_NAMES = {
    METHOD: ("start_date", "end_date", "optional_fields", "page_size"),
    FBP_METHOD: ("startDate", "endDate", "optionalFields", "pageSize"),
}
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
        self.methods = (METHOD, FBP_METHOD) if shop.option("fbp", False) else (METHOD,)
        self.method = METHOD

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        for method in self.methods:  # the two APIs list disjoint orders
            self.method = method
            yield from super().pull(entity, start, end)

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        start_name, end_name, fields_name, page_size_name = PARAMETER_NAMES[self.method]
        body = self.client.call(
            self.method,
            {
                start_name: format_cst(start),
                end_name: format_cst(end),
                fields_name: OPTIONAL_FIELDS,
                "page": page,
                page_size_name: self.page_size,
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
