"""Taobao 直通车 ad spend over TOP: `taobao.simba.rpt.custbase.get` (channel-protocols.md §12.4).

A TOP call like any other (signed, with the shop's session) plus 直通车's own `subway_token`. The
China days of a pull are asked for in windows (option `window_days`, at most `MAX_DAYS`) with
`source=SUMMARY` (站内 and 站外 together), paged from `page_no` 1 until a short page. The answer's
`rpt_cust_base_list` is JSON *text*: it is parsed again, exactly (numbers as Decimals). `cost` is in
分 (fen) by default (option `cost_unit` = "yuan" if an account reports yuan) and lands as exact yuan
text. custbase has no conversions: `ad_conversions` is null. Record id `ads|<shop>|<date>`.

Unverified, kept as constants: the window and page-size caps, the row field names, the unit of
`cost`, and the sub_code of a rejected subway_token (named so the error names its variable).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.common.ad_reports import AdReportSource, ads_record
from connectors.common.errors import FatalError
from connectors.common.gateway import json_exact
from connectors.common.pii import PiiHasher
from connectors.config import ShopConfig
from connectors.top.client import TopClient

METHOD = "taobao.simba.rpt.custbase.get"
SUMMARY = "SUMMARY"  # 站内 and 站外 together; "1" / "2" would split them
MAX_DAYS = 90  # days in one request (unverified)
MAX_PAGE_SIZE = 500  # unverified
DEFAULT_PAGE_SIZE = 100
COST_UNITS = {"fen": -2, "yuan": 0}  # option cost_unit -> the power of ten that makes yuan
DEFAULT_COST_UNIT = "fen"  # historical 直通车 reports give cost in 分 (unverified)
SUBWAY_TOKEN_REJECTED = "isv.invalid-subway-token"  # noqa: S105 - the sub_code (unverified), not a secret


class SimbaClient(TopClient):
    """TOP, plus: a rejected subway_token is a credential error naming its variable."""

    codes = dataclasses.replace(
        TopClient.codes, credentials={**TopClient.codes.credentials, SUBWAY_TOKEN_REJECTED: "subway_token"}
    )


class SimbaSource(AdReportSource):
    platform = "直通车"
    max_days = MAX_DAYS
    max_page_size = MAX_PAGE_SIZE
    default_page_size = DEFAULT_PAGE_SIZE

    def __init__(self, entry: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(entry, pii)
        self.subway_token = entry.credential("subway_token")
        self.nick = entry.option("nick")
        cost_unit = entry.option("cost_unit", DEFAULT_COST_UNIT)
        if cost_unit not in COST_UNITS:
            raise FatalError(
                entry.channel, entry.shop_id, f"options: cost_unit must be one of {', '.join(COST_UNITS)}"
            )
        self.cost_exponent = COST_UNITS[cost_unit]
        self.client = SimbaClient(entry, self.http)

    def pages(self, first: date, last: date) -> Iterator[list[Any]]:
        """Pages from 1 until a short one."""
        page_no = 1
        while True:
            business: dict[str, Any] = {
                "subway_token": self.subway_token,
                "start_time": first.isoformat(),
                "end_time": last.isoformat(),
                "source": SUMMARY,
                "page_no": page_no,
                "page_size": self.page_size,
            }
            if self.nick:
                business["nick"] = self.nick
            rows = self._rows(self.client.call(METHOD, business))
            yield rows
            if len(rows) < self.page_size:
                return
            page_no += 1

    def _rows(self, body: dict[str, Any]) -> list[Any]:
        """`rpt_cust_base_list` is JSON text, parsed again exactly; absent or empty: no rows."""
        text = body.get("rpt_cust_base_list")
        try:
            rows = json_exact(text.encode("utf-8")) if isinstance(text, str) and text.strip() else text or []
        except ValueError as exc:
            raise self.protocol_error(f"rpt_cust_base_list is not JSON: {exc}") from None
        if not isinstance(rows, list):
            raise self.protocol_error(f"rpt_cust_base_list is a {type(rows).__name__}, not a list")
        return rows

    def read(self, row: Any) -> tuple[str, date, dict[str, Any]]:
        day = date.fromisoformat(row["date"])
        if str(row.get("source", SUMMARY)) != SUMMARY:
            raise self.protocol_error(f"asked for {SUMMARY}, got a row of source {row['source']}")
        spend = Decimal(str(row["cost"])).scaleb(self.cost_exponent)
        # custbase has no conversions
        record = ads_record(day, spend, int(row["impression"]), int(row["click"]), None, row)
        return f"ads|{self.entry.shop_id}|{day.isoformat()}", day, record
