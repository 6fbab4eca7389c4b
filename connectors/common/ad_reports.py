"""What every ad-spend report source shares: the canonical ad record, an option check, and
`AdReportSource` — windows of days, each paged to its end by the platform's rule, every day landed
once. Ocean Engine (`connectors/oceanengine/`) and 直通车 (`connectors/top/simba.py`) build on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from connectors.common.errors import FatalError, ProtocolError
from connectors.common.http import HttpClient, PullStats
from connectors.common.pii import PiiHasher
from connectors.common.reports import CHINA_TIME_ZONE, report_days, report_page, traffic_record
from connectors.common.timeutil import china_date, china_days_window, split_window, utc_now
from connectors.config import ShopConfig
from connectors.registry import TRAFFIC_ENTITY


def ads_record(
    day: date,
    spend_cny: Decimal,
    impressions: int,
    clicks: int,
    conversions: int | None,
    platform: dict[str, Any],
) -> dict[str, Any]:
    """One ad account's day with the canonical keys, and the row as the platform sent it."""
    return traffic_record(
        "ads",
        day,
        CHINA_TIME_ZONE,
        platform,
        ad_impressions=impressions,
        ad_clicks=clicks,
        ad_conversions=conversions,
        ad_spend_cny=spend_cny,
    )


def bounded_option(shop: ShopConfig, name: str, default: int, maximum: int) -> int:
    """An integer option in 1..maximum, or a FatalError naming it."""
    value = shop.option(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= maximum or isinstance(value, bool):
        raise FatalError(shop.channel, shop.shop_id, f"options: {name} must be a whole number in 1-{maximum}")
    return number


class AdReportSource:
    """An ad account's daily report, pulled in windows of days, each paged to its end by the
    platform's rule (`pages`); every row read into (record id, day, record) by `read`. Each day
    lands once: a day twice or outside the window asked for is a ProtocolError."""

    platform = ""  # how messages name the platform
    max_days = 30  # the platform's cap on days per request (option `window_days` shortens windows)
    max_page_size = 1000
    default_page_size = 1000
    # What reading a row may raise when the row is not what the platform documents.
    read_errors: tuple[type[Exception], ...] = (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        InvalidOperation,
    )

    def __init__(self, entry: ShopConfig, pii: PiiHasher) -> None:
        self.entry = entry
        self.pii = pii  # ad reports carry no personal data
        self.stats = PullStats()
        self.page_size = bounded_option(entry, "page_size", self.default_page_size, self.max_page_size)
        self.window_days = bounded_option(entry, "window_days", self.max_days, self.max_days)
        self.http = HttpClient(entry.channel, entry.shop_id, stats=self.stats)

    # --- what a platform supplies --------------------------------------------------------------

    def pages(self, first: date, last: date) -> Iterator[list[Any]]:
        """Every page of rows for the days [first, last]."""
        raise NotImplementedError

    def read(self, row: Any) -> tuple[str, date, dict[str, Any]]:
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------------------

    def protocol_error(self, message: str) -> ProtocolError:
        return ProtocolError(self.entry.channel, self.entry.shop_id, f"{self.platform}: {message}")

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        if entity != TRAFFIC_ENTITY:
            raise ValueError(
                f"[{self.entry.channel}/{self.entry.shop_id}] a traffic source has only the entity "
                f"'{TRAFFIC_ENTITY}', not '{entity}'"
            )
        first, last = report_days(start, end)
        for lo, hi in split_window(*china_days_window(first, last), timedelta(days=self.window_days)):
            window = (china_date(lo), china_date(hi - timedelta(microseconds=1)))
            seen: set[date] = set()
            for rows in self.pages(*window):
                self.stats.pages += 1
                if rows:
                    yield self._landed(rows, *window, seen)

    def _landed(self, rows: list[Any], first: date, last: date, seen: set[date]) -> pa.Table:
        landed = []
        for row in rows:
            try:
                record_id, day, record = self.read(row)
            except self.read_errors as exc:
                raise self.protocol_error(f"unreadable report row {row!r}: {exc!r}") from None
            if not first <= day <= last or day in seen:
                raise self.protocol_error(f"day {day} answered twice or outside the asked {first}..{last}")
            seen.add(day)
            landed.append((record_id, day, record))
        self.stats.rows += len(landed)
        return report_page(landed, utc_now())

    def close(self) -> None:
        self.http.session.close()
