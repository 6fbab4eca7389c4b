"""GA4 traffic: two `runReport` reports per pull, landed in the canonical traffic shape.

A pull of China days [first, last] asks GA4 for the property-zone days first..last (a GA4 property
reports its own days; day D lands in partition D, connectors/common/reports.py):
- `day_total`: by `date`, the property's whole day (totalUsers are the day's unique users);
- `by_source`: by date, sessionSource, sessionMedium, sessionCampaignName.
Each report is paged with offset/limit until `offset >= rowCount`; a page with no rows before that is
a protocol error (not an endless loop), and a report whose rowCount changes while it is paged (GA4
revising the day) is started again once.

Canonical keys: visitors = totalUsers, new_visitors = newUsers, sessions, page_views =
screenPageViews, converted_sessions = sessions x sessionKeyEventRate rounded half up (GA4's
sessions with a key event; `keyEvents` counts events and stays in the platform row), time_zone
from `metadata.timeZone`; the ad keys are null. Every metric string is parsed exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from connectors.common.errors import ConfigError, ProtocolError
from connectors.common.http import HttpClient, PullStats
from connectors.common.pii import PiiHasher
from connectors.common.reports import report_days, report_page, traffic_record
from connectors.common.timeutil import utc_now
from connectors.config import TrafficConfig
from connectors.ga4.client import Ga4Client

TRAFFIC = "traffic"
DEFAULT_PAGE_SIZE = 10_000
MAX_PAGE_SIZE = 250_000
INTEGER_METRICS = ("sessions", "totalUsers", "newUsers", "screenPageViews", "keyEvents")
RATE_METRIC = "sessionKeyEventRate"
METRICS = (*INTEGER_METRICS, RATE_METRIC)
SOURCE_DIMENSIONS = ("sessionSource", "sessionMedium", "sessionCampaignName")
REPORTS: dict[str, tuple[str, ...]] = {"day_total": ("date",), "by_source": ("date", *SOURCE_DIMENSIONS)}
# A standard property's hourly tokens (Analytics 360 has more: option tokens_per_hour); a pull notes
# when fewer than this share of them are left.
TOKENS_PER_HOUR = 40_000
LOW_HOURLY_SHARE = Decimal("0.10")


def _integer(text: Any) -> int:
    if not isinstance(text, str) or not text.lstrip("-").isdigit():
        raise ValueError(f"{text!r} is not an integer string")
    return int(text)


def _rate(text: Any) -> Decimal:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a number string")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _named(names: Sequence[str], cells: Any) -> dict[str, Any]:
    """A row's `[{"value": ...}, ...]` by its header names."""
    if not isinstance(cells, list) or len(cells) != len(names):
        raise ValueError(f"expected {len(names)} values, got {cells!r}")
    return {name: cell["value"] for name, cell in zip(names, cells, strict=True)}


class Ga4Source:
    entities = (TRAFFIC,)

    def __init__(self, entry: TrafficConfig, pii: PiiHasher) -> None:
        self.entry = entry
        self.stats = PullStats()
        self.page_size = int(entry.option("page_size", DEFAULT_PAGE_SIZE))
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ConfigError(
                f"traffic ga4 {entry.channel}/{entry.shop_id}: option page_size must be 1 to {MAX_PAGE_SIZE} "
                f"(got {self.page_size})"
            )
        self.tokens_per_hour = int(entry.option("tokens_per_hour", TOKENS_PER_HOUR))
        self.http = HttpClient(entry.channel, entry.shop_id, stats=self.stats)
        self.client = Ga4Client(entry, self.http)
        self._quota_noted = False

    def _fail(self, message: str) -> ProtocolError:
        return ProtocolError(
            self.entry.channel, self.entry.shop_id, f"GA4 property {self.client.property_id}: {message}"
        )

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        if entity not in self.entities:
            raise ValueError(f"the GA4 connector has no entity '{entity}' (it has {TRAFFIC})")
        first, last = report_days(start, end)
        self._quota_noted = False
        for report, dimensions in REPORTS.items():
            for answer in self._report(dimensions, first, last):
                rows = self._rows(report, dimensions, answer, first, last)
                self.stats.pages += 1
                self.stats.rows += len(rows)
                if rows:
                    yield report_page(rows, utc_now())

    # --- paging ------------------------------------------------------------------------------------

    def _report(self, dimensions: Sequence[str], first: date, last: date) -> list[dict[str, Any]]:
        """Every page of one report; started once more if its rowCount changes while paging."""
        for attempt in (1, 2):
            pages, counts = self._page_through(dimensions, first, last)
            if pages is not None:
                return pages
            if attempt == 1:
                self.stats.notes.append(
                    f"GA4 property {self.client.property_id}: the {'/'.join(dimensions)} report changed "
                    f"while it was paged (rowCount {counts[0]} -> {counts[1]}); pulled it again"
                )
        raise self._fail(f"rowCount keeps changing while the {'/'.join(dimensions)} report is paged")

    def _page_through(
        self, dimensions: Sequence[str], first: date, last: date
    ) -> tuple[list[dict[str, Any]] | None, tuple[int, int]]:
        """(pages, _) when the report was paged to its end; (None, (old, new)) if rowCount moved."""
        pages: list[dict[str, Any]] = []
        offset, row_count = 0, None
        while True:
            answer = self.client.run_report(
                {
                    "dateRanges": [{"startDate": first.isoformat(), "endDate": last.isoformat()}],
                    "dimensions": [{"name": name} for name in dimensions],
                    "metrics": [{"name": name} for name in METRICS],
                    "limit": self.page_size,
                    "offset": offset,
                    "returnPropertyQuota": True,
                }
            )
            self._watch_quota(answer)
            count = answer.get("rowCount", 0)  # proto3 JSON leaves out a zero count
            if not isinstance(count, int) or count < 0:
                raise self._fail(f"rowCount {count!r} is not a count")
            if row_count is not None and count != row_count:
                return None, (row_count, count)
            row_count = count
            rows = answer.get("rows", [])
            if not isinstance(rows, list):
                raise self._fail("rows is not a list")
            if not rows and offset < row_count:
                raise self._fail(f"an empty page at offset {offset} of {row_count} rows (paging cannot end)")
            pages.append(answer)
            offset += len(rows)
            if offset >= row_count:
                return pages, (row_count, row_count)

    def _watch_quota(self, answer: dict[str, Any]) -> None:
        quota = answer.get("propertyQuota")
        hourly = quota.get("tokensPerHour") if isinstance(quota, dict) else None
        if self._quota_noted or not isinstance(hourly, dict):
            return
        remaining = hourly.get("remaining", 0)  # a zero is left out
        if isinstance(remaining, int) and remaining < LOW_HOURLY_SHARE * self.tokens_per_hour:
            self._quota_noted = True
            self.stats.notes.append(
                f"GA4 property {self.client.property_id}: {remaining} of its {self.tokens_per_hour} tokens "
                "per hour left; more pulls of this property within the hour will be throttled"
            )

    # --- records -----------------------------------------------------------------------------------

    def _rows(
        self, report: str, dimensions: Sequence[str], answer: dict[str, Any], first: date, last: date
    ) -> list[tuple[str, date, dict[str, Any]]]:
        dimension_names = [h.get("name") for h in answer.get("dimensionHeaders") or []]
        metric_names = [h.get("name") for h in answer.get("metricHeaders") or []]
        if dimension_names != list(dimensions) or sorted(metric_names) != sorted(METRICS):
            raise self._fail(f"headers {dimension_names} / {metric_names} are not the {report} report's")
        metadata = answer.get("metadata")
        time_zone = metadata.get("timeZone") if isinstance(metadata, dict) else None
        if not isinstance(time_zone, str) or not time_zone:
            raise self._fail("the answer has no metadata.timeZone")
        out = []
        for index, row in enumerate(answer.get("rows", [])):
            try:
                platform = _named(dimension_names, row["dimensionValues"])
                platform.update(_named(metric_names, row["metricValues"]))
                day = datetime.strptime(platform["date"], "%Y%m%d").date()
                counts = {name: _integer(platform[name]) for name in INTEGER_METRICS}
                rate = _rate(platform[RATE_METRIC])
            except (KeyError, TypeError, ValueError) as exc:
                raise self._fail(f"{report} row {index} is unreadable: {exc}") from None
            if not first <= day <= last:
                raise self._fail(f"{report} row {index} reports {day}, outside the asked {first}..{last}")
            sources = [platform[name] for name in SOURCE_DIMENSIONS] if report == "by_source" else []
            record = traffic_record(
                report,
                day,
                time_zone,
                platform,
                source=sources[0] if sources else None,
                medium=sources[1] if sources else None,
                campaign=sources[2] if sources else None,
                visitors=counts["totalUsers"],
                new_visitors=counts["newUsers"],
                sessions=counts["sessions"],
                page_views=counts["screenPageViews"],
                converted_sessions=int((counts["sessions"] * rate).quantize(Decimal(1), ROUND_HALF_UP)),
            )
            out.append(("|".join([report, day.isoformat(), *sources]), day, record))
        return out

    def close(self) -> None:
        self.http.session.close()
