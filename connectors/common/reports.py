"""Daily reports (traffic, ad spend) in the landing shape.

A report row describes a calendar day, not a moment: its landing `modified_at` is 00:00 China time
of the day it reports on, so it lands in that day's partition whatever zone the platform reports
in (a GA4 property in Los Angeles reports Los Angeles days; day D lands in partition D). A re-pull
of a day replaces the day: staging keeps the rows of the latest extraction of each (shop, day),
because platforms revise recent days and a row missing from a newer report is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.records import decimals_as_text, dumps_record, landing_page
from connectors.common.timeutil import china_date, china_day_start

CHINA_TIME_ZONE = "Asia/Shanghai"  # the Chinese platforms report China days
# The keys every landed traffic record carries, null where its source does not have them: staging
# (transforms/staging/stg_traffic__reports.sql) reads exactly these.
TRAFFIC_KEYS = (
    "report",  # day_total | by_source | ads
    "report_date",
    "source",
    "medium",
    "campaign",
    "visitors",
    "new_visitors",
    "sessions",
    "page_views",
    "converted_sessions",
    "ad_impressions",
    "ad_clicks",
    "ad_conversions",
    "ad_spend_cny",
    "time_zone",
)


def traffic_record(
    report: str, day: date, time_zone: str, platform: Mapping[str, Any], **values: Any
) -> dict[str, Any]:
    """A landed traffic record: every canonical key (null unless given), a source's own extra keys,
    and `platform`, the row as the platform sent it. Decimals become their exact text."""
    record: dict[str, Any] = dict.fromkeys(TRAFFIC_KEYS)
    record.update(values, report=report, report_date=day.isoformat(), time_zone=time_zone)
    record["platform"] = dict(platform)
    return dict(decimals_as_text(record))


def report_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The China days [first, last] a pull window [start, end) covers; windows are whole days."""
    first, last = china_date(start), china_date(end - timedelta(microseconds=1))
    if china_day_start(first) != start or china_day_start(last + timedelta(days=1)) != end:
        raise ValueError(f"report pulls take whole China days, got [{start.isoformat()}, {end.isoformat()})")
    return first, last


def report_page(
    rows: Sequence[tuple[str, date, dict[str, Any]]], extracted_at: datetime, status: str | None = None
) -> pa.Table:
    """Landing rows from (record id, report day, record). The record id must be unique per
    (shop, day), e.g. the day plus the report's dimension values."""
    return landing_page(
        [record_id for record_id, _, _ in rows],
        [china_day_start(day) for _, day, _ in rows],
        [status] * len(rows),
        [dumps_record(record) for _, _, record in rows],
        extracted_at,
    )
