"""Ocean Engine (巨量引擎) ad spend: the advertiser daily report (channel-protocols.md §12.3).

The China days of a pull are asked for in windows of at most 30 days (Ocean Engine's cap; option
`window_days` shortens them), each paged completely by `page_info.total_page` (option `page_size`,
1-1000, default 1000). One landed record per advertiser and day: report "ads", the spend in exact
yuan text (`cost` is a JSON number, parsed as a Decimal, never a float), impressions (`show`),
clicks and conversions (`convert`), record id `ads|<advertiser>|<date>`.

The windows, paging and landing every ad report shares are `connectors/common/ad_reports.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.common.ad_reports import AdReportSource, ads_record
from connectors.common.pii import PiiHasher
from connectors.common.timeutil import CST_FORMAT
from connectors.config import ShopConfig
from connectors.oceanengine.client import REPORT, OceanEngineClient

MAX_DAYS = 30  # days in one report request (channel-protocols.md §12.3)
MAX_PAGE_SIZE = 1000
FIELDS = ["cost", "show", "click", "convert"]
GROUP_BY = ["STAT_GROUP_BY_FIELD_STAT_TIME"]
GRANULARITY = "STAT_TIME_GRANULARITY_DAILY"


class OceanEngineSource(AdReportSource):
    platform = "Ocean Engine"
    max_days = MAX_DAYS
    max_page_size = default_page_size = MAX_PAGE_SIZE

    def __init__(self, entry: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(entry, pii)
        self.advertiser_id = str(entry.require("advertiser_id"))
        self.client = OceanEngineClient(entry, self.http)

    def pages(self, first: date, last: date) -> Iterator[list[Any]]:
        """Pages 1..`page_info.total_page`."""
        page = 1
        while True:
            data = self.client.call(
                REPORT,
                {
                    "advertiser_id": self.advertiser_id,
                    "start_date": first.isoformat(),
                    "end_date": last.isoformat(),
                    "fields": FIELDS,
                    "group_by": GROUP_BY,
                    "time_granularity": GRANULARITY,
                    "page": page,
                    "page_size": self.page_size,
                },
            )
            rows = list(data.get("list") or [])
            total_pages = int((data.get("page_info") or {}).get("total_page") or 0)
            yield rows
            if page >= total_pages:
                return
            if not rows:
                raise self.protocol_error(f"page {page} of {total_pages} for {first}..{last} is empty")
            page += 1

    def read(self, row: Any) -> tuple[str, date, dict[str, Any]]:
        day = datetime.strptime(row["stat_datetime"], CST_FORMAT).date()
        spend = Decimal(row["cost"])  # json_exact: a Decimal (or an int), never a float
        record = ads_record(day, spend, int(row["show"]), int(row["click"]), int(row["convert"]), row)
        return f"ads|{self.advertiser_id}|{day.isoformat()}", day, record
