"""GA4 Data API simulator: `runReport` for the sandbox's GA4 properties (channel-protocols.md §12.1).

`POST /ga4/v1beta/properties/{propertyId}:runReport` with a JSON body and `Authorization: Bearer
<token>`. Errors are real HTTP statuses with `{"error": {"code", "message", "status"}}`: 401
UNAUTHENTICATED (token), 403 PERMISSION_DENIED (a property the token cannot read), 400
INVALID_ARGUMENT (the request), 429 RESOURCE_EXHAUSTED (quota), 404 NOT_FOUND (path).

Served: one date range (`YYYY-MM-DD`, `today`, `yesterday`, `NdaysAgo`; the sandbox's "today" is
the day after the world's end), the dimensions `date`, `sessionSource`, `sessionMedium`,
`sessionCampaignName` and the metrics in `METRIC_TYPES`, at most 9 dimensions and 10 metrics,
`limit` (default 10,000, at most 250,000) and `offset`. Rows are the world's GA4 traffic
(`world.traffic.ga4_rows`, days in the property's zone) grouped by the requested dimensions, in a
fixed order (date, then the dimension values); every value is a string, `date` is `YYYYMMDD`;
`rowCount` counts the rows before `offset`/`limit`; there is no `rows` key when a page is empty.

Metrics of a group: sessions, newUsers, screenPageViews and keyEvents (one purchase key event per
converted session) add up. totalUsers / activeUsers are unique users, which do not add up: a
group of one report row has that row's users; a group within one day has at most the day's
unique users (`ga4_day_users`), so a `date`-only report gives exactly those; a group spanning
several days is the sum (an approximation: GA4 would count a user who came back on two days once).
sessionKeyEventRate is converted sessions / sessions as a fraction.

Switchable faults (`settings.faults`): `modify_while_paging` - GA4 revises each report once while it
is paged: its first page is answered from the report before the revision (its last row not yet
there), later pages from the revised one, so `rowCount` changes between pages; `empty_pages` -
pages after the first come back with no rows although `rowCount` says there are more.

With `settings.rate_limits`, each property keeps GA4's quota books: tokens per day, tokens per hour
(refilled continuously) and concurrent requests; a request costs `TOKENS_PER_REQUEST` tokens, and
`returnPropertyQuota: true` returns the books as `propertyQuota`.

Unverified choices, kept as module constants: the error messages, whether the retired metric name
`conversions` is still accepted, whether a `limit` over the cap is an error or served capped,
omitting a zero `rowCount`, the token cost of a request, when the daily quota resets, and the
real GA4 names a request may use that the sandbox does not serve.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from connectors.sandbox.catalog import GA4_PROPERTIES, ShopSpec
from connectors.sandbox.credentials import GA4_ACCESS_TOKEN
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.traffic import Ga4Row
from connectors.sandbox.world import World

_PATH = re.compile(r"^/v1beta/properties/([^/:]+):runReport$")
KIND = "analyticsData#runReport"
DIMENSIONS = ("date", "sessionSource", "sessionMedium", "sessionCampaignName")
METRIC_TYPES = {
    "sessions": "TYPE_INTEGER",
    "totalUsers": "TYPE_INTEGER",
    "newUsers": "TYPE_INTEGER",
    "activeUsers": "TYPE_INTEGER",
    "screenPageViews": "TYPE_INTEGER",
    "keyEvents": "TYPE_INTEGER",
    "sessionKeyEventRate": "TYPE_FLOAT",
}
# Real GA4 API names the sandbox does not serve: a request naming one is told it is a GA4 name the
# sandbox lacks, rather than an invalid one.
OTHER_GA4_DIMENSIONS = (
    "sessionDefaultChannelGroup",
    "sessionSourceMedium",
    "firstUserSource",
    "deviceCategory",
    "country",
    "city",
    "pagePath",
    "landingPage",
    "eventName",
    "dateHour",
    "week",
    "month",
    "year",
)
OTHER_GA4_METRICS = (
    "eventCount",
    "totalRevenue",
    "purchaseRevenue",
    "advertiserAdCost",
    "averageSessionDuration",
    "bounceRate",
    "engagementRate",
    "engagedSessions",
    "ecommercePurchases",
    "transactions",
    "sessionConversionRate",
)
# `conversions` was renamed `keyEvents` in 2024 (reference); whether the old name is still accepted
# is unverified: the sandbox rejects it, naming the replacement, unless ACCEPT_RENAMED_METRICS.
RENAMED_METRICS = {"conversions": "keyEvents"}
ACCEPT_RENAMED_METRICS = False
MAX_DIMENSIONS = 9  # weak source
MAX_METRICS = 10  # weak source
MAX_DATE_RANGES = 1  # the sandbox's own limit: real GA4 takes up to 4 and adds a dateRange dimension
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 250_000
REJECT_LIMIT_ABOVE_MAX = True  # unverified: Google's docs also read as "serves at most 250,000 rows"
RATE_PLACES = 10  # decimal places of a rate metric (real GA4 sends a float's digits)
OMIT_ZERO_ROW_COUNT = True  # proto3 JSON leaves out a zero rowCount (unverified for this API)
# Request fields the sandbox accepts; the others of GA4's RunReportRequest are refused as not served.
SERVED_FIELDS = frozenset(
    {
        "property",
        "dateRanges",
        "dimensions",
        "metrics",
        "limit",
        "offset",
        "keepEmptyRows",
        "returnPropertyQuota",
        "currencyCode",
    }
)
OTHER_REQUEST_FIELDS = frozenset(
    {"dimensionFilter", "metricFilter", "orderBys", "metricAggregations", "cohortSpec", "comparisons"}
)

# Quotas of a standard property (reference), and the sandbox's choices around them.
TOKENS_PER_DAY = 200_000
TOKENS_PER_HOUR = 40_000
CONCURRENT_REQUESTS = 10
TOKENS_PER_REQUEST = 10  # unverified: real GA4 charges by the request's complexity
QUOTA_HOUR_SECONDS = 3600.0  # the hourly bucket refills fully over this long (tests shrink it)
DAILY_RESET_ZONE = "America/Los_Angeles"  # unverified: when "per day" starts again (midnight here)

UNAUTHENTICATED_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential."
)
PERMISSION_DENIED_MESSAGE = (
    "User does not have sufficient permissions for this property. To learn more about Property ID, "
    "see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id."
)
AUTH_REALM = "https://accounts.google.com/"
SCHEMA_URL = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
QUOTA_DAY_MESSAGE = "Exhausted property tokens per day quota. The quota resets at midnight {zone}."
QUOTA_HOUR_MESSAGE = "Exhausted property tokens per hour quota. Tokens replenish continuously over the hour."
QUOTA_CONCURRENT_MESSAGE = "Exhausted concurrent requests quota. Wait for a running request to finish."

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAYS_AGO = re.compile(r"^(\d+)daysAgo$")
_INTEGER = re.compile(r"^-?\d+$")


class Ga4Error(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> SimResponse:
        headers = {"WWW-Authenticate": f'Bearer realm="{AUTH_REALM}"'} if self.status == 401 else {}
        body = {"error": {"code": self.status, "message": self.message, "status": _STATUS[self.status]}}
        return SimResponse.json(body, status=self.status, headers=headers)


def invalid(message: str) -> Ga4Error:
    return Ga4Error(400, message)


def _quota_day() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(DAILY_RESET_ZONE)).date()


class PropertyQuota:
    """One property's quota books: a daily token count, an hourly bucket refilled continuously,
    and the requests running now. Constants are read when the books are made and on every call,
    so a test may shrink them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.day = _quota_day()
        self.day_consumed = 0
        self.hour_tokens = float(TOKENS_PER_HOUR)
        self.updated = time.monotonic()
        self.running = 0

    def enter(self) -> None:
        with self.lock:
            if self.running >= CONCURRENT_REQUESTS:
                raise Ga4Error(429, QUOTA_CONCURRENT_MESSAGE)
            self.running += 1

    def leave(self) -> None:
        with self.lock:
            self.running -= 1

    def charge(self, tokens: int) -> dict[str, dict[str, int]]:
        """Take `tokens` from both buckets, or refuse naming the quota that is spent."""
        with self.lock:
            today = _quota_day()
            if today != self.day:
                self.day, self.day_consumed = today, 0
            now = time.monotonic()
            refill = (now - self.updated) * TOKENS_PER_HOUR / QUOTA_HOUR_SECONDS
            self.hour_tokens = min(float(TOKENS_PER_HOUR), self.hour_tokens + refill)
            self.updated = now
            if self.day_consumed + tokens > TOKENS_PER_DAY:
                raise Ga4Error(429, QUOTA_DAY_MESSAGE.format(zone=DAILY_RESET_ZONE))
            if self.hour_tokens < tokens:
                raise Ga4Error(429, QUOTA_HOUR_MESSAGE)
            self.day_consumed += tokens
            self.hour_tokens -= tokens
            return {
                "tokensPerDay": {"consumed": tokens, "remaining": TOKENS_PER_DAY - self.day_consumed},
                "tokensPerHour": {"consumed": tokens, "remaining": int(self.hour_tokens)},
                # a request's slot is back once it has answered
                "concurrentRequests": {"consumed": 0, "remaining": CONCURRENT_REQUESTS - (self.running - 1)},
            }


def _names(body: dict[str, Any], key: str, limit: int, kind: str) -> list[str]:
    items = body.get(key, [])
    if not isinstance(items, list):
        raise invalid(f"Invalid value at '{key}': expected a list of {{\"name\": ...}} objects.")
    if len(items) > limit:
        raise invalid(f"Requests are limited to {limit} {kind}s; this request has {len(items)}.")
    names = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise invalid(f"Invalid value at '{key}[{index}]': a {kind} needs a string 'name'.")
        extra = sorted(set(item) - {"name"})
        if extra:
            raise invalid(f"'{key}[{index}].{extra[0]}' is a GA4 field the sandbox does not serve.")
        if item["name"] in names:
            raise invalid(f"Duplicate {kind} name '{item['name']}' in '{key}'.")
        names.append(item["name"])
    return names


def _check_dimension(name: str) -> None:
    if name in DIMENSIONS:
        return
    if name in OTHER_GA4_DIMENSIONS:
        raise invalid(
            f"Field {name} is a GA4 dimension that the sandbox does not serve "
            f"(it serves: {', '.join(DIMENSIONS)})."
        )
    raise invalid(f"Field {name} is not a valid dimension. For a list of valid dimensions, see {SCHEMA_URL}")


def _check_metric(name: str) -> str:
    """The metric the sandbox computes for `name` (a renamed metric's new name, if accepted)."""
    if name in METRIC_TYPES:
        return name
    if name in RENAMED_METRICS:
        if ACCEPT_RENAMED_METRICS:
            return RENAMED_METRICS[name]
        raise invalid(
            f"Field {name} is not a valid metric: it was renamed {RENAMED_METRICS[name]} in 2024. "
            f"Use {RENAMED_METRICS[name]}."
        )
    if name in OTHER_GA4_METRICS:
        raise invalid(
            f"Field {name} is a GA4 metric that the sandbox does not serve "
            f"(it serves: {', '.join(METRIC_TYPES)})."
        )
    raise invalid(f"Field {name} is not a valid metric. For a list of valid metrics, see {SCHEMA_URL}")


def _integer(body: dict[str, Any], key: str, default: int) -> int:
    """An int64 field: a JSON number or (proto3 JSON) a string of digits; zero means unset."""
    value = body.get(key, default)
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and _INTEGER.match(value))
    ):
        raise invalid(f"Invalid value at '{key}' ({value!r}): expected an integer.")
    return int(value) or default


def resolve_date(text: Any, today: date, where: str) -> date:
    """`YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`, relative to the property's today."""
    if isinstance(text, str):
        if text == "today":
            return today
        if text == "yesterday":
            return today - timedelta(days=1)
        ago = _DAYS_AGO.match(text)
        try:
            if ago:
                return today - timedelta(days=int(ago.group(1)))
            if _ISO_DATE.match(text):
                return date.fromisoformat(text)
        except (ValueError, OverflowError):
            pass
    raise invalid(f"Invalid {where} '{text}': use YYYY-MM-DD, NdaysAgo, yesterday, or today.")


def _dimension_value(row: Ga4Row, name: str) -> str:
    if name == "date":
        return row.day.strftime("%Y%m%d")
    if name == "sessionSource":
        return row.source
    if name == "sessionMedium":
        return row.medium
    return row.campaign


class Ga4Simulator:
    prefix = "/ga4"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.world = world
        self.settings = settings
        self.shops = {prop: world.shop(shop_id) for prop, shop_id in GA4_PROPERTIES.items()}
        self.quotas = {prop: PropertyQuota() for prop in GA4_PROPERTIES}
        self._reports: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._revised: set[tuple[Any, ...]] = set()  # reports the modify_while_paging fault has revised
        self._lock = threading.Lock()

    def today(self, spec: ShopSpec) -> date:
        """The property's today: the day after the world's end, or the configured clock's day in
        the property's zone."""
        if self.settings.now is not None:
            return self.settings.now.astimezone(ZoneInfo(spec.timezone)).date()
        return self.world.end + timedelta(days=1)

    def handle(self, request: SimRequest) -> SimResponse:
        try:
            return self._run_report(request)
        except Ga4Error as error:
            return error.response()

    def _run_report(self, request: SimRequest) -> SimResponse:
        match = _PATH.match(unquote(request.path))
        if request.method != "POST" or not match:
            raise Ga4Error(404, f"Method not found: {request.method} {request.path}")
        if request.headers.get("authorization") != f"Bearer {GA4_ACCESS_TOKEN}":
            raise Ga4Error(401, UNAUTHENTICATED_MESSAGE)
        property_id = match.group(1)
        spec = self.shops.get(property_id)
        if spec is None:
            raise Ga4Error(403, PERMISSION_DENIED_MESSAGE)
        try:
            body = request.json() or {}
        except ValueError:
            raise invalid("Invalid JSON payload received.") from None
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received: expected an object.")
        query = self._parse(body, spec)
        if not self.settings.rate_limits:
            return SimResponse.json(self._answer(spec, query, None))
        quota = self.quotas[property_id]
        quota.enter()
        try:
            books = quota.charge(TOKENS_PER_REQUEST)
            return SimResponse.json(self._answer(spec, query, books))
        finally:
            quota.leave()

    def _parse(self, body: dict[str, Any], spec: ShopSpec) -> dict[str, Any]:
        for key in sorted(set(body) - SERVED_FIELDS):
            if key in OTHER_REQUEST_FIELDS:
                raise invalid(f"'{key}' is a GA4 request field the sandbox does not serve.")
            raise invalid(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
        ranges = body.get("dateRanges")
        if not isinstance(ranges, list) or not ranges:
            raise invalid("dateRanges is required: give at least one {startDate, endDate}.")
        if len(ranges) > MAX_DATE_RANGES:
            raise invalid(f"The sandbox serves {MAX_DATE_RANGES} dateRange per request (got {len(ranges)}).")
        if not isinstance(ranges[0], dict):
            raise invalid("Invalid value at 'dateRanges[0]': expected {startDate, endDate}.")
        today = self.today(spec)
        start = resolve_date(ranges[0].get("startDate"), today, "dateRanges[0].startDate")
        end = resolve_date(ranges[0].get("endDate"), today, "dateRanges[0].endDate")
        if start > end:
            raise invalid(f"Invalid dateRange: startDate {start} is after endDate {end}.")
        dimensions = _names(body, "dimensions", MAX_DIMENSIONS, "dimension")
        metrics = _names(body, "metrics", MAX_METRICS, "metric")
        for name in dimensions:
            _check_dimension(name)
        computed = [_check_metric(name) for name in metrics]
        limit = _integer(body, "limit", DEFAULT_LIMIT)
        offset = _integer(body, "offset", 0)
        if limit < 0:
            raise invalid(f"limit must be positive (got {limit}).")
        if limit > MAX_LIMIT:
            if REJECT_LIMIT_ABOVE_MAX:
                raise invalid(f"limit must be at most {MAX_LIMIT} (got {limit}).")
            limit = MAX_LIMIT
        if offset < 0:
            raise invalid(f"offset must be non-negative (got {offset}).")
        currency = body.get("currencyCode") or spec.presentment_currency
        if not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            raise invalid(f"Invalid currencyCode {currency!r}: expected an ISO 4217 code such as USD.")
        return {
            "start": start,
            "end": end,
            "dimensions": tuple(dimensions),
            "metrics": tuple(metrics),
            "computed": tuple(computed),
            "limit": limit,
            "offset": offset,
            "quota": body.get("returnPropertyQuota") is True,
            "currency": currency,
        }

    def _answer(
        self, spec: ShopSpec, query: dict[str, Any], books: dict[str, dict[str, int]] | None
    ) -> dict[str, Any]:
        key = (spec.shop_id, query["dimensions"], query["computed"], query["start"], query["end"])
        rows = self._report(*key)
        if "modify_while_paging" in self.settings.faults:
            with self._lock:
                stale = key not in self._revised
                self._revised.add(key)
            rows = rows[:-1] if stale else rows
        page = rows[query["offset"] : query["offset"] + query["limit"]]
        if "empty_pages" in self.settings.faults and query["offset"] > 0:
            page = []
        answer: dict[str, Any] = {
            "dimensionHeaders": [{"name": name} for name in query["dimensions"]],
            "metricHeaders": [
                {"name": name, "type": METRIC_TYPES[computed]}
                for name, computed in zip(query["metrics"], query["computed"], strict=True)
            ],
        }
        if page:
            answer["rows"] = page
        if rows or not OMIT_ZERO_ROW_COUNT:
            answer["rowCount"] = len(rows)
        answer["metadata"] = {"currencyCode": query["currency"], "timeZone": spec.timezone}
        if query["quota"] and books is not None:
            answer["propertyQuota"] = books
        answer["kind"] = KIND
        return answer

    def _report(
        self, shop_id: str, dimensions: tuple[str, ...], metrics: tuple[str, ...], start: date, end: date
    ) -> list[dict[str, Any]]:
        """Every row of a report, in order (cached: a connector pages through the same report)."""
        key = (shop_id, dimensions, metrics, start, end)
        cached = self._reports.get(key)
        if cached is not None:
            return cached
        groups: dict[tuple[str, ...], list[Ga4Row]] = {}
        for row in self.world.traffic.ga4_rows(shop_id):
            if start <= row.day <= end:
                groups.setdefault(tuple(_dimension_value(row, d) for d in dimensions), []).append(row)
        at = dimensions.index("date") if "date" in dimensions else None
        order = sorted(groups, key=lambda values: (values[at] if at is not None else "", values))
        rows = [
            {
                "dimensionValues": [{"value": value} for value in values],
                "metricValues": [
                    {"value": self._metric(shop_id, name, groups[values], at is not None)} for name in metrics
                ],
            }
            for values in order
        ]
        self._reports[key] = rows
        return rows

    def _metric(self, shop_id: str, name: str, rows: Sequence[Ga4Row], one_day: bool) -> str:
        if name in ("totalUsers", "activeUsers"):
            users = sum(r.users for r in rows)
            if len(rows) == 1:
                return str(users)
            if one_day:  # a part of a day has at most the day's unique users
                return str(min(users, self.world.traffic.ga4_day_users(shop_id, rows[0].day)))
            return str(users)  # several days: the sum (approximation, see the module doc)
        sessions = sum(r.sessions for r in rows)
        converted = sum(r.converted_sessions for r in rows)
        if name == "sessionKeyEventRate":
            rate = Decimal(converted) / Decimal(sessions) if sessions else Decimal(0)
            return f"{rate:.{RATE_PLACES}f}"
        if name == "sessions":
            return str(sessions)
        if name == "keyEvents":
            return str(converted)
        if name == "newUsers":
            return str(sum(r.new_users for r in rows))
        return str(sum(r.page_views for r in rows))  # screenPageViews
