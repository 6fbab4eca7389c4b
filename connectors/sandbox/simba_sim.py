"""Taobao 直通车 simulator: `taobao.simba.rpt.custbase.get`, the ad account's daily base report.

Served by the TOP gateway (`top_sim.py`), which checks app key, signature, timestamp, version,
format and session (and throttles) for every method alike, then calls `SimbaReport` with the
session's shop. What it enforces, after channel-protocols.md §12.4 and
`fields/taobao_simba_rpt_custbase_get.txt`: `subway_token` required and the session shop's own;
a shop with no 直通车 account is an error; `nick` optional, but if given the shop's; `start_time` /
`end_time` as `yyyy-mm-dd`, end not before start; `source` `SUMMARY` alone, or `1` (站内), `2`
(站外) or `1,2`; `page_no` from 1, `page_size` capped. The answer's `rpt_cust_base_list` is JSON
*text* (a JSON array inside a string), to be parsed again: one row per day (and source), oldest
first. With source 1 and 2 each day's totals are split into 站内 and 站外 parts that add up exactly.

Unverified choices, kept as module constants: the window cap, the page size default and cap, the
row field names, `cost` in 分 (fen), numbers as text, ctr in percent, the 站内 share, and the error
codes for a wrong subway_token, a shop without an account and a nick that is not the shop's.
"""

from __future__ import annotations

import json
import zlib
from datetime import date, datetime
from typing import Any

from connectors.sandbox.credentials import simba_subway_token
from connectors.sandbox.pdd_sim import money
from connectors.sandbox.server import SandboxSettings
from connectors.sandbox.simkit import yuan
from connectors.sandbox.top_sim import TopError
from connectors.sandbox.traffic import AD_SHOPS, AdDay
from connectors.sandbox.world import World

METHOD = "taobao.simba.rpt.custbase.get"
RESPONSE_ROOT = "simba_rpt_custbase_get_response"
MAX_DAYS = 90  # days in one request, both ends included (unverified)
DEFAULT_PAGE_SIZE = 100  # unverified
MAX_PAGE_SIZE = 500  # unverified
SUMMARY = "SUMMARY"
SOURCES = ("1", "2")  # 站内, 站外
ROW_FIELDS = ("date", "source", "nick", "impression", "click", "cost", "ctr", "cpc")  # unverified names
COST_UNIT = "fen"  # "fen": cost and cpc in 分, as historical 直通车 reports give them; or "yuan" (unverified)
NUMBERS_AS_TEXT = True  # every value a string inside the JSON text (unverified)
INSITE_SHARE = (0.7, 0.95)  # the range of a day's 站内 share of impressions, clicks and cost (made up)
# Errors as (code, msg, sub_code, sub_msg), all unverified.
SUBWAY_TOKEN_INVALID = (15, "Remote service error", "isv.invalid-subway-token", "subway_token 无效或已过期")
NO_ACCOUNT = (15, "Remote service error", "isv.subway-account-not-exist", "该店铺未开通直通车")
NICK_MISMATCH = (15, "Remote service error", "isv.nick-not-match", "nick 与授权店铺不符")


def _invalid(detail: str) -> TopError:
    return TopError(41, "Invalid Arguments", "isv.invalid-parameter", detail)


def _day(params: dict[str, str], name: str) -> date:
    text = params.get(name)
    if not text:
        raise TopError(40, "Missing Required Arguments", "isv.missing-parameter", name)
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise _invalid(f"{name} must be yyyy-mm-dd") from None


def _sources(text: str | None) -> list[str]:
    """`SUMMARY` must be asked alone; `1` and `2` may be combined (`1,2`)."""
    if not text:
        raise TopError(40, "Missing Required Arguments", "isv.missing-parameter", "source")
    asked = [part.strip() for part in text.split(",")]
    if asked == [SUMMARY]:
        return asked
    if SUMMARY in asked:
        raise _invalid("source: SUMMARY must be asked alone")
    if not asked or len(set(asked)) != len(asked) or not set(asked) <= set(SOURCES):
        raise _invalid(f"source must be {SUMMARY}, or 1, 2 or 1,2; got {text}")
    return sorted(asked)


def _number(value: int) -> int | str:
    return str(value) if NUMBERS_AS_TEXT else value


def _decimal(value: float) -> float | str:
    return f"{value:.2f}" if NUMBERS_AS_TEXT else round(value, 2)


def _cost(fen: int) -> int | float | str:
    if COST_UNIT == "fen":
        return _number(fen)
    return yuan(fen) if NUMBERS_AS_TEXT else money(fen)


class SimbaReport:
    """`taobao.simba.rpt.custbase.get` for the shop a valid TOP session belongs to."""

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.world = world

    def __call__(self, shop_id: str, params: dict[str, str]) -> dict[str, Any]:
        token = params.get("subway_token")
        if not token:
            raise TopError(40, "Missing Required Arguments", "isv.missing-parameter", "subway_token")
        if AD_SHOPS.get(shop_id) != "simba":
            raise TopError(*NO_ACCOUNT)
        if token != simba_subway_token(shop_id):
            raise TopError(*SUBWAY_TOKEN_INVALID)
        nick = self.world.shop(shop_id).name
        if params.get("nick") and params["nick"] != nick:
            raise TopError(*NICK_MISMATCH)
        start, end = _day(params, "start_time"), _day(params, "end_time")
        if end < start:
            raise _invalid("end_time must not be before start_time")
        if (end - start).days + 1 > MAX_DAYS:
            raise _invalid(f"start_time to end_time spans more than {MAX_DAYS} days")
        sources = _sources(params.get("source"))
        try:
            page_no = int(params.get("page_no") or 1)
            page_size = int(params.get("page_size") or DEFAULT_PAGE_SIZE)
        except ValueError:
            raise _invalid("page_no/page_size must be integers") from None
        if page_no < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise _invalid(f"page_size must be 1-{MAX_PAGE_SIZE}, page_no >= 1")

        rows = [
            row
            for day in self.world.traffic.ad_days(shop_id)
            if start <= day.day <= end
            for row in self._rows(day, sources, nick)
        ]
        page = rows[(page_no - 1) * page_size : page_no * page_size]
        return {"rpt_cust_base_list": json.dumps(page, ensure_ascii=False, separators=(",", ":"))}

    def _rows(self, day: AdDay, sources: list[str], nick: str) -> list[dict[str, Any]]:
        totals = (day.impressions, day.clicks, day.cost_fen)
        parts: dict[str, tuple[int, ...]]
        if sources == [SUMMARY]:
            parts = {SUMMARY: totals}
        else:
            key = f"{self.world.seed}|simba|{day.shop_id}|{day.day.isoformat()}".encode()
            low, high = INSITE_SHARE
            share = low + (high - low) * zlib.crc32(key) / 2**32
            insite = tuple(round(total * share) for total in totals)
            parts = {"1": insite, "2": tuple(t - i for t, i in zip(totals, insite, strict=True))}
        return [self._row(day.day, source, nick, *parts[source]) for source in sources]

    @staticmethod
    def _row(
        day: date, source: str, nick: str, impressions: int, clicks: int, cost_fen: int
    ) -> dict[str, Any]:
        values = (
            day.isoformat(),
            source,
            nick,
            _number(impressions),
            _number(clicks),
            _cost(cost_fen),
            _decimal(clicks * 100 / impressions if impressions else 0.0),
            _decimal((cost_fen / clicks) * (1 if COST_UNIT == "fen" else 0.01) if clicks else 0.0),
        )
        return dict(zip(ROW_FIELDS, values, strict=True))
