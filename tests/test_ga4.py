"""GA4 Data API connector against the GA4 simulator over real HTTP on loopback."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
import requests

from connectors.common.errors import CredentialError, FatalError, ProtocolError, RetriableError
from connectors.common.http import RetryPolicy
from connectors.common.timeutil import china_date, china_day_start, china_days_window
from connectors.config import DEFAULT_CONFIG, TrafficConfig, load_config
from connectors.ga4.source import Ga4Source
from connectors.sandbox.catalog import GA4_PROPERTIES
from connectors.sandbox.credentials import GA4_ACCESS_TOKEN

PROPERTIES = sorted(GA4_PROPERTIES.items())  # (property id, shop id)
METRICS = ["sessions", "totalUsers", "newUsers", "screenPageViews", "keyEvents", "sessionKeyEventRate"]


def entries(server, **env: str) -> dict[str, TrafficConfig]:
    """The GA4 `[[traffic]]` entries of the sandbox config, pointed at `server`."""
    config = load_config(DEFAULT_CONFIG, env={"OMNI_SANDBOX_URL": server.url, **env})
    return {entry.shop_id: entry for entry in config.traffic_for("ga4")}


def make_source(server, shop_id: str, pii, env: dict[str, str] | None = None, **options: Any) -> Ga4Source:
    entry = entries(server, **(env or {}))[shop_id]
    return Ga4Source(replace(entry, options={**entry.options, **options}), pii)


def pull(source: Ga4Source, server) -> pa.Table:
    pages = list(source.pull("traffic", *china_days_window(server.world.start, server.world.end)))
    return pa.concat_tables(pages) if pages else pa.table({"record_id": pa.array([], pa.string())})


def by_id(table: pa.Table) -> dict[str, dict[str, Any]]:
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)), "record ids are unique"
    return dict(zip(ids, map(json.loads, table.column("record").to_pylist()), strict=True))


def landed(table: pa.Table) -> set[tuple[str, datetime, str]]:
    return set(
        zip(
            table.column("record_id").to_pylist(),
            table.column("modified_at").to_pylist(),
            table.column("record").to_pylist(),
            strict=True,
        )
    )


def run_report(server, body: dict[str, Any], prop: str = "412000001", token: str = GA4_ACCESS_TOKEN):
    return requests.post(
        f"{server.url}/ga4/v1beta/properties/{prop}:runReport",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def world_range(server) -> list[dict[str, str]]:
    return [{"startDate": server.world.start.isoformat(), "endDate": server.world.end.isoformat()}]


def error_of(response: requests.Response) -> tuple[int, int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["status"], error["message"]


# --- the reports equal the world's truth -------------------------------------------------------------


@pytest.mark.parametrize(("prop", "shop_id"), PROPERTIES)
def test_reports_equal_the_truth(sandbox, pii, prop, shop_id):
    world = sandbox.world
    zone = world.shop(shop_id).timezone
    source = make_source(sandbox, shop_id, pii)
    table = pull(source, sandbox)
    records = by_id(table)
    truth = world.traffic.ga4_rows(shop_id)
    assert truth, "the test world has GA4 traffic"

    expected_by_source = {
        f"by_source|{r.day}|{r.source}|{r.medium}|{r.campaign}": {
            "report": "by_source",
            "report_date": r.day.isoformat(),
            "source": r.source,
            "medium": r.medium,
            "campaign": r.campaign,
            "visitors": r.users,
            "new_visitors": r.new_users,
            "sessions": r.sessions,
            "page_views": r.page_views,
            "converted_sessions": r.converted_sessions,
        }
        for r in truth
    }
    days = sorted({r.day for r in truth})
    expected_day_total = {
        f"day_total|{day}": {
            "report": "day_total",
            "report_date": day.isoformat(),
            "source": None,
            "medium": None,
            "campaign": None,
            "visitors": world.traffic.ga4_day_users(shop_id, day),
            "new_visitors": sum(r.new_users for r in truth if r.day == day),
            "sessions": sum(r.sessions for r in truth if r.day == day),
            "page_views": sum(r.page_views for r in truth if r.day == day),
            "converted_sessions": sum(r.converted_sessions for r in truth if r.day == day),
        }
        for day in days
    }
    expected = {**expected_by_source, **expected_day_total}
    assert set(records) == set(expected)
    for record_id, record in records.items():
        canonical = {k: v for k, v in record.items() if k not in ("platform", "time_zone") and "ad_" not in k}
        assert canonical == expected[record_id], record_id
        assert record["time_zone"] == zone
        assert [record[k] for k in ("ad_impressions", "ad_clicks", "ad_conversions", "ad_spend_cny")] == [
            None
        ] * 4
        platform = record["platform"]
        assert platform["date"] == record["report_date"].replace("-", "")
        assert int(platform["keyEvents"]) == record["converted_sessions"]  # one purchase event per session
        assert all(isinstance(value, str) for value in platform.values()), "GA4 sends strings"
    # Each row lands in the partition of the day it reports on (00:00 China time of that day).
    for record_id, modified in zip(
        table.column("record_id").to_pylist(), table.column("modified_at").to_pylist(), strict=True
    ):
        assert modified == china_day_start(date.fromisoformat(record_id.split("|")[1]))

    users_below_sum = 0
    for day in days:
        total = records[f"day_total|{day}"]
        parts = [
            r for r in records.values() if r["report"] == "by_source" and r["report_date"] == day.isoformat()
        ]
        assert sum(p["sessions"] for p in parts) == total["sessions"]
        assert sum(p["converted_sessions"] for p in parts) == total["converted_sessions"]
        assert total["visitors"] <= sum(p["visitors"] for p in parts)
        users_below_sum += total["visitors"] < sum(p["visitors"] for p in parts)
    assert users_below_sum >= 1, "a day's unique users are fewer than its per-source users summed"
    assert sum(r["converted_sessions"] for r in records.values() if r["report"] == "day_total") > 0
    assert source.stats.rows == len(records) and source.stats.requests == source.stats.pages == 2
    assert source.stats.notes == []


def test_shop_time_zone_days(sandbox, pii):
    """shopify-intl's property reports Los Angeles days: a day's converted sessions are the orders
    created that day in Los Angeles, not that China day."""
    world, zone = sandbox.world, ZoneInfo("America/Los_Angeles")
    records = by_id(pull(make_source(sandbox, "shopify-intl", pii), sandbox))
    orders = world.orders_for("shopify-intl")
    la_days = Counter(o.created_at.astimezone(zone).date() for o in orders)
    china_days = Counter(china_date(o.created_at) for o in orders)
    totals = {r["report_date"]: r for r in records.values() if r["report"] == "day_total"}
    assert {r["time_zone"] for r in records.values()} == {"America/Los_Angeles"}
    for day in (world.start + timedelta(days=n) for n in range((world.end - world.start).days + 1)):
        assert totals[day.isoformat()]["converted_sessions"] == la_days[day], day
    assert any(la_days[d] != china_days[d] for d in la_days), "Los Angeles and China days differ"


# --- paging --------------------------------------------------------------------------------------------


def test_small_pages_give_the_same_records(sandbox, pii):
    default = make_source(sandbox, "shopify-intl", pii)
    whole = pull(default, sandbox)
    small = make_source(sandbox, "shopify-intl", pii, page_size=7)
    paged = pull(small, sandbox)
    assert landed(paged) == landed(whole)
    reports = Counter(record_id.split("|")[0] for record_id in whole.column("record_id").to_pylist())
    pages = math.ceil(reports["day_total"] / 7) + math.ceil(reports["by_source"] / 7)
    assert default.stats.requests == 2
    assert small.stats.requests == small.stats.pages == pages > 2


def test_a_report_revised_while_paged_is_pulled_again(sandbox, make_sandbox, pii):
    server = make_sandbox(faults=frozenset({"modify_while_paging"}))
    source = make_source(server, "shopify-intl", pii, page_size=7)
    table = pull(source, server)
    assert landed(table) == landed(pull(make_source(sandbox, "shopify-intl", pii), sandbox))
    reports = Counter(record_id.split("|")[0] for record_id in table.column("record_id").to_pylist())
    # Each report: a stale first page, a second page whose rowCount moved, then the report again.
    assert source.stats.requests == sum(2 + math.ceil(n / 7) for n in reports.values())
    assert len(source.stats.notes) == 2 and all("pulled it again" in note for note in source.stats.notes)


def test_an_empty_page_before_the_end_is_an_error_not_a_loop(make_sandbox, pii):
    server = make_sandbox(faults=frozenset({"empty_pages"}))
    source = make_source(server, "shopify-intl", pii, page_size=7)
    with pytest.raises(ProtocolError, match=r"GA4 property 412000001: an empty page at offset 7 of \d+ rows"):
        pull(source, server)
    assert source.stats.requests == 2


# --- quota ---------------------------------------------------------------------------------------------


def test_hourly_quota_is_waited_out(sandbox, make_sandbox, pii):
    server = make_sandbox(
        rate_limits=True, platform=(("ga4_sim.TOKENS_PER_HOUR", 20), ("ga4_sim.QUOTA_HOUR_SECONDS", 0.5))
    )
    source = make_source(server, "youzan-mini", pii, page_size=7)
    table = pull(source, server)
    assert landed(table) == landed(pull(make_source(sandbox, "youzan-mini", pii), sandbox))
    assert source.stats.throttled > 0 and source.stats.retries == source.stats.throttled
    assert any("tokens per hour left" in note for note in source.stats.notes)


def test_spent_daily_quota_fails_at_once(make_sandbox, pii):
    server = make_sandbox(rate_limits=True, platform=(("ga4_sim.TOKENS_PER_DAY", 20),))
    source = make_source(server, "shopify-eu", pii, page_size=7)
    with pytest.raises(
        FatalError, match=r"GA4 property 412000002: the property's daily token quota is spent"
    ) as e:
        pull(source, server)
    assert "429 RESOURCE_EXHAUSTED" in str(e.value) and "resets at midnight America/Los_Angeles" in str(
        e.value
    )
    assert source.stats.requests == 3 and source.stats.retries == 0, (
        "two pages served, the third refused once"
    )


def test_concurrent_request_quota_is_retried(make_sandbox, pii):
    server = make_sandbox(rate_limits=True, platform=(("ga4_sim.CONCURRENT_REQUESTS", 0),))
    answer = run_report(server, {"dateRanges": world_range(server), "metrics": [{"name": "sessions"}]})
    assert error_of(answer)[:3] == (429, 429, "RESOURCE_EXHAUSTED")
    assert "concurrent requests" in error_of(answer)[3]
    source = make_source(server, "shopify-eu", pii)
    source.http.retry = RetryPolicy(max_attempts=3, base_delay=0.01)
    with pytest.raises(RetriableError, match=r"gave up after 3 attempts.*concurrent requests"):
        pull(source, server)
    assert source.stats.throttled == 3 and source.stats.requests == 3


def test_property_quota_is_returned_on_request(make_sandbox):
    server = make_sandbox(rate_limits=True)
    body = {"dateRanges": world_range(server), "metrics": [{"name": "sessions"}], "returnPropertyQuota": True}
    first, second = run_report(server, body).json(), run_report(server, body).json()
    assert second["propertyQuota"]["tokensPerDay"] == {"consumed": 10, "remaining": 200_000 - 20}
    assert second["propertyQuota"]["tokensPerHour"]["consumed"] == 10
    assert 40_000 - 20 <= second["propertyQuota"]["tokensPerHour"]["remaining"] <= 40_000
    assert second["propertyQuota"]["concurrentRequests"] == {"consumed": 0, "remaining": 10}
    assert first["propertyQuota"]["tokensPerDay"]["remaining"] == 200_000 - 10
    assert "propertyQuota" not in run_report(server, {**body, "returnPropertyQuota": False}).json()


# --- errors --------------------------------------------------------------------------------------------


def test_a_bad_token_names_the_variable(sandbox, pii):
    source = make_source(
        sandbox, "shopify-intl", pii, env={"OMNI_GA4_ACCESS_TOKEN": "ya29.not-the-token-4711"}
    )
    with pytest.raises(
        CredentialError, match=r"refused the access token.*UNAUTHENTICATED.*OMNI_GA4_ACCESS_TOKEN"
    ) as e:
        pull(source, sandbox)
    assert "not-the-token-4711" not in str(e.value) and source.stats.requests == 1
    status, code, name, _ = error_of(run_report(sandbox, {"dateRanges": world_range(sandbox)}, token="nope"))
    assert (status, code, name) == (401, 401, "UNAUTHENTICATED")


def test_an_unknown_property_is_a_clear_error(sandbox, pii):
    source = make_source(sandbox, "shopify-intl", pii, property_id="412999999")
    with pytest.raises(
        CredentialError, match=r"GA4 property 412999999 is not readable.*PERMISSION_DENIED.*property_id"
    ):
        pull(source, sandbox)
    assert source.stats.requests == 1
    answer = run_report(sandbox, {"dateRanges": world_range(sandbox)}, prop="412999999")
    assert error_of(answer)[:3] == (403, 403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrics": [{"name": "sessionz"}]}, "Field sessionz is not a valid metric"),
        (
            {"metrics": [{"name": "conversions"}]},
            "Field conversions is not a valid metric: it was renamed keyEvents",
        ),
        ({"metrics": [{"name": "eventCount"}]}, "eventCount is a GA4 metric that the sandbox does not serve"),
        (
            {"dimensions": [{"name": "deviceCategory"}]},
            "deviceCategory is a GA4 dimension that the sandbox does not",
        ),
        ({"dimensions": [{"name": "dat"}]}, "Field dat is not a valid dimension"),
        ({"dimensions": [{"name": "date"}] * 10}, "limited to 9 dimensions"),
        ({"metrics": [{"name": "sessions"}] * 11}, "limited to 10 metrics"),
        ({"metrics": [{"name": "sessions"}] * 2}, "Duplicate metric name 'sessions'"),
        ({"limit": 250_001}, "limit must be at most 250000"),
        ({"limit": -1}, "limit must be positive"),
        ({"offset": -5}, "offset must be non-negative"),
        ({"dateRanges": []}, "dateRanges is required"),
        (
            {"dateRanges": [{"startDate": "2026-11-10", "endDate": "2026-11-09"}]},
            "startDate 2026-11-10 is after",
        ),
        (
            {"dateRanges": [{"startDate": "2026-11-31", "endDate": "today"}]},
            "Invalid dateRanges[0].startDate",
        ),
        (
            {"dateRanges": [{"startDate": "99999999daysAgo", "endDate": "today"}]},
            "Invalid dateRanges[0].startDate",
        ),
        (
            {"orderBys": [{"dimension": {"dimensionName": "date"}}]},
            "'orderBys' is a GA4 request field the sandbox",
        ),
        ({"dimensionz": []}, 'Unknown name "dimensionz"'),
    ],
)
def test_the_simulator_rejects_bad_requests(sandbox, change, message):
    body = {
        "dateRanges": world_range(sandbox),
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": "sessions"}],
    }
    status, code, name, text = error_of(run_report(sandbox, {**body, **change}))
    assert (status, code, name) == (400, 400, "INVALID_ARGUMENT")
    assert message in text


def test_the_simulator_answers_in_ga4_shape(sandbox):
    world = sandbox.world
    body = {
        "dateRanges": world_range(sandbox),
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": name} for name in METRICS],
        "limit": "250000",  # proto3 JSON: int64 as a string
    }
    answer = run_report(sandbox, body).json()
    assert answer["kind"] == "analyticsData#runReport"
    assert answer["dimensionHeaders"] == [{"name": "date"}]
    assert [h["type"] for h in answer["metricHeaders"]] == ["TYPE_INTEGER"] * 5 + ["TYPE_FLOAT"]
    assert answer["metadata"] == {"currencyCode": "USD", "timeZone": "America/Los_Angeles"}
    days = (world.end - world.start).days + 1
    assert answer["rowCount"] == len(answer["rows"]) == days
    assert [r["dimensionValues"][0]["value"] for r in answer["rows"]] == [
        (world.start + timedelta(days=n)).strftime("%Y%m%d") for n in range(days)
    ]
    # Relative dates: the sandbox's today is the day after the world's end.
    relative = {"startDate": f"{days}daysAgo", "endDate": "yesterday"}
    assert run_report(sandbox, {**body, "dateRanges": [relative]}).json() == answer
    # Past the last row: rowCount stays, rows is absent; no data at all: neither.
    past = run_report(sandbox, {**body, "offset": days}).json()
    assert past["rowCount"] == days and "rows" not in past
    empty = run_report(
        sandbox, {**body, "dateRanges": [{"startDate": "2020-01-01", "endDate": "2020-01-31"}]}
    )
    assert empty.status_code == 200 and "rows" not in empty.json() and "rowCount" not in empty.json()
    assert (
        run_report(sandbox, {**body, "dateRanges": [{"startDate": "today", "endDate": "today"}]})
        .json()
        .get("rows")
        is None
    )
    # A rate is a fraction with ten places.
    rate = answer["rows"][-1]["metricValues"][-1]["value"]
    assert len(rate.split(".")[1]) == 10 and 0 <= float(rate) < 1
