"""Ocean Engine (巨量引擎) simulator: the advertiser daily report, `GET /open_api/2/report/advertiser/get/`.

What it enforces, after channel-protocols.md §12.3: the `Access-Token` header; `advertiser_id` one
the token may read; `start_date` / `end_date` as `YYYY-MM-DD`, end not before start, at most 30
days; `fields` a JSON array of metric names (default: every metric served); `group_by` a JSON array
(default `["STAT_GROUP_BY_FIELD_STAT_TIME"]`, the only grouping served); `time_granularity`
`STAT_TIME_GRANULARITY_DAILY` (the only one served); `page` >= 1 (default 1), `page_size` 1-1000
(default 20). Rows, one per day with data, oldest first: `stat_datetime` "YYYY-MM-DD 00:00:00" and
only the requested metrics (`cost` a JSON number in yuan). Every answer is HTTP 200 in the
`{code, message, request_id, data}` envelope; `code` 0 is success, `data` then holds `list` and
`page_info` {page, page_size, total_number, total_page}.

Unverified choices, kept as module constants: every error code and message, whether the 30-day cap
counts days inclusively (here: at most 30 calendar days, both ends included), the unit of `cost`
(yuan), the derived metrics' definitions (ctr and convert_rate in percent, CPM per thousand shows),
the rate limit, and an optional injected internal error.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from connectors.sandbox.catalog import OCEANENGINE_ADVERTISERS
from connectors.sandbox.credentials import OCEANENGINE_ACCESS_TOKEN
from connectors.sandbox.pdd_sim import money
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import TokenBucket
from connectors.sandbox.traffic import AdDay
from connectors.sandbox.world import World

PATH = "/open_api/2/report/advertiser/get/"
MAX_DAYS = 30  # calendar days in one request, both ends included (inclusive reading unverified)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
GROUP_BY = "STAT_GROUP_BY_FIELD_STAT_TIME"
GRANULARITY = "STAT_TIME_GRANULARITY_DAILY"
CALLS_PER_SECOND = 10.0  # per access token, only with rate limits on (the real QPS quota is unverified)
# Every Nth request answers 50000 (0: never), to exercise retries of a passing platform fault.
INTERNAL_ERROR_EVERY = 0
# Error codes (all unverified): (code, message).
BAD_PARAMETER = (40001, "参数错误")
NO_PERMISSION = (40002, "没有权限进行相关操作")
TOO_MANY_REQUESTS = (40100, "请求过于频繁")
TOKEN_INVALID = (40102, "access_token无效或已过期")
INTERNAL_ERROR = (50000, "系统错误")


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float:
    return round(numerator * scale / denominator, 2) if denominator else 0.0


# The metrics served, each from one day of the world's ads (unit and definitions unverified).
METRICS: dict[str, Callable[[AdDay], float | int]] = {
    "cost": lambda d: money(d.cost_fen),  # yuan, a JSON number with at most two places
    "show": lambda d: d.impressions,
    "click": lambda d: d.clicks,
    "convert": lambda d: d.conversions,
    "ctr": lambda d: _ratio(d.clicks, d.impressions, 100),  # percent
    "avg_click_cost": lambda d: _ratio(d.cost_fen, d.clicks, 0.01),
    "avg_show_cost": lambda d: _ratio(d.cost_fen, d.impressions, 10),  # per thousand shows (CPM)
    "convert_cost": lambda d: _ratio(d.cost_fen, d.conversions, 0.01),
    "convert_rate": lambda d: _ratio(d.conversions, d.clicks, 100),  # percent
}


class OceanError(Exception):
    def __init__(self, error: tuple[int, str], detail: str = "") -> None:
        self.code, message = error
        self.message = f"{message}: {detail}" if detail else message
        super().__init__(self.message)


def _json_array(params: dict[str, str], name: str, default: list[str]) -> list[str]:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = json.loads(text)
    except ValueError:
        raise OceanError(BAD_PARAMETER, f"{name} must be a JSON array") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OceanError(BAD_PARAMETER, f"{name} must be a JSON array of strings")
    return value


def _date(params: dict[str, str], name: str) -> date:
    text = params.get(name)
    if not text:
        raise OceanError(BAD_PARAMETER, f"{name} is required")
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise OceanError(BAD_PARAMETER, f"{name} must be YYYY-MM-DD, got {text}") from None


def _int(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise OceanError(BAD_PARAMETER, f"{name} must be an integer") from None


class OceanEngineSimulator:
    prefix = "/oceanengine"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.world = world
        self.settings = settings
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        self.calls = itertools.count(1)
        self.lock = threading.Lock()

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != PATH:
            return SimResponse.json({"code": 40400, "message": "Not Found"}, status=404)
        if request.method != "GET":
            return SimResponse.json({"code": 40500, "message": "Method Not Allowed"}, status=405)
        request_id = uuid.uuid4().hex
        try:
            data = self._report(request)
        except OceanError as exc:
            return SimResponse.json({"code": exc.code, "message": exc.message, "request_id": request_id})
        return SimResponse.json({"code": 0, "message": "OK", "request_id": request_id, "data": data})

    def _report(self, request: SimRequest) -> dict[str, Any]:
        if request.headers.get("access-token") != OCEANENGINE_ACCESS_TOKEN:
            raise OceanError(TOKEN_INVALID)
        if self.settings.rate_limits and not self.bucket.take():
            raise OceanError(TOO_MANY_REQUESTS)
        with self.lock:
            call = next(self.calls)
        if INTERNAL_ERROR_EVERY and call % INTERNAL_ERROR_EVERY == 0:
            raise OceanError(INTERNAL_ERROR)
        params = request.query
        advertiser = params.get("advertiser_id", "")
        if not advertiser.isdigit():
            raise OceanError(BAD_PARAMETER, "advertiser_id is required and must be a number")
        shop_id = OCEANENGINE_ADVERTISERS.get(advertiser)
        if shop_id is None:
            raise OceanError(NO_PERMISSION, f"advertiser_id {advertiser} is not authorised for this token")
        start, end = _date(params, "start_date"), _date(params, "end_date")
        if end < start:
            raise OceanError(BAD_PARAMETER, "end_date must not be before start_date")
        if (end - start).days + 1 > MAX_DAYS:
            raise OceanError(BAD_PARAMETER, f"start_date to end_date spans more than {MAX_DAYS} days")
        fields = _json_array(params, "fields", list(METRICS))
        unknown = [f for f in fields if f not in METRICS]
        if unknown:
            raise OceanError(BAD_PARAMETER, f"fields: unknown or not served by the sandbox: {unknown}")
        if _json_array(params, "group_by", [GROUP_BY]) != [GROUP_BY]:
            raise OceanError(BAD_PARAMETER, f"group_by: the sandbox serves only [{GROUP_BY}]")
        if params.get("time_granularity", GRANULARITY) != GRANULARITY:
            raise OceanError(BAD_PARAMETER, f"time_granularity: the sandbox serves only {GRANULARITY}")
        page = _int(params, "page", 1)
        page_size = _int(params, "page_size", DEFAULT_PAGE_SIZE)
        if page < 1:
            raise OceanError(BAD_PARAMETER, "page must be >= 1")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise OceanError(BAD_PARAMETER, f"page_size must be 1-{MAX_PAGE_SIZE}")

        days = [d for d in self.world.traffic.ad_days(shop_id) if start <= d.day <= end]
        rows = [self._row(d, fields) for d in days[(page - 1) * page_size : page * page_size]]
        return {
            "list": rows,
            "page_info": {
                "page": page,
                "page_size": page_size,
                "total_number": len(days),
                "total_page": math.ceil(len(days) / page_size),
            },
        }

    @staticmethod
    def _row(day: AdDay, fields: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"stat_datetime": f"{day.day.isoformat()} 00:00:00"}
        row.update({name: METRICS[name](day) for name in fields})
        return row
