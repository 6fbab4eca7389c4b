"""Ocean Engine (巨量引擎) ad spend against the Ocean Engine simulator over real HTTP on loopback."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import requests

from connectors.common.errors import CredentialError, FatalError
from connectors.common.http import HttpClient
from connectors.common.reports import TRAFFIC_KEYS as CANONICAL_KEYS
from connectors.common.timeutil import china_day_start, china_days_window
from connectors.config import TrafficConfig, load_config
from connectors.oceanengine.client import REPORT, OceanEngineClient
from connectors.oceanengine.source import OceanEngineSource
from connectors.sandbox.credentials import OCEANENGINE_ACCESS_TOKEN
from connectors.sandbox.server import SandboxServer
from connectors.sandbox.traffic import AdDay

SHOP = "douyin-shop"
ADVERTISER = "1760000000000001"
AD_KEYS = ("ad_impressions", "ad_clicks", "ad_conversions", "ad_spend_cny")


def traffic_entry(server: SandboxServer, source: str, shop_id: str, **env: str) -> TrafficConfig:
    """The entry of config/sandbox.toml, pointed at this test server (env: more variables)."""
    config = load_config(env={"OMNI_SANDBOX_URL": server.url, **env})
    (entry,) = [t for t in config.traffic_for(source) if t.shop_id == shop_id]
    return entry


def with_options(entry: TrafficConfig, **options: Any) -> TrafficConfig:
    return dataclasses.replace(entry, options={**entry.options, **options})


def make_source(
    server: SandboxServer, env: dict[str, str] | None = None, **options: Any
) -> OceanEngineSource:
    entry = traffic_entry(server, "oceanengine", SHOP, **(env or {}))
    return OceanEngineSource(with_options(entry, **options), None)  # type: ignore[arg-type]


def pull_records(source: Any, first: date, last: date) -> dict[str, dict[str, Any]]:
    """record_id -> record of a pull over the China days [first, last]."""
    pages: list[pa.Table] = list(source.pull("traffic", *china_days_window(first, last)))
    table = pa.concat_tables(pages) if pages else None
    if table is None:
        return {}
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)), "every day once"
    days = [china_day_start(date.fromisoformat(i.rsplit("|", 1)[1])) for i in ids]
    assert table.column("modified_at").to_pylist() == days, "a day lands in its own partition"
    return dict(zip(ids, map(json.loads, table.column("record").to_pylist()), strict=True))


def check_ads(
    landed: dict[str, dict[str, Any]], truth: Iterable[AdDay], key: str, conversions: bool = True
) -> None:
    """Every day of the truth landed exactly: spend to the fen, impressions, clicks, conversions."""
    truth = list(truth)
    assert truth, "the check needs days"
    assert sorted(landed) == sorted(f"ads|{key}|{d.day.isoformat()}" for d in truth)
    for day in truth:
        record = landed[f"ads|{key}|{day.day.isoformat()}"]
        assert Decimal(record["ad_spend_cny"]) == Decimal(day.cost_fen).scaleb(-2)
        assert (record["ad_impressions"], record["ad_clicks"]) == (day.impressions, day.clicks)
        assert record["ad_conversions"] == (day.conversions if conversions else None)
        assert (record["report"], record["report_date"], record["time_zone"]) == (
            "ads",
            day.day.isoformat(),
            "Asia/Shanghai",
        )
        others = set(CANONICAL_KEYS) - {"report", "report_date", "time_zone", *AD_KEYS}
        assert all(record[k] is None for k in others), "no traffic keys in an ad report"
        assert set(record) == {*CANONICAL_KEYS, "platform"}


def world_days(server: SandboxServer) -> tuple[date, date]:
    return server.world.start, server.world.end


def test_every_day_equals_the_truth_over_several_windows_and_pages(sandbox):
    first, last = world_days(sandbox)
    assert (last - first).days + 1 == 10
    truth = sandbox.world.traffic.ad_days(SHOP)
    source = make_source(sandbox, window_days=4, page_size=3)
    landed = pull_records(source, first, last)
    check_ads(landed, truth, ADVERTISER)
    # windows of 4, 4 and 2 days, paged by 3: 2 + 2 + 1 pages
    assert (source.stats.requests, source.stats.pages, source.stats.rows) == (5, 5, 10)
    assert source.stats.bytes > 0
    default = make_source(sandbox)
    assert pull_records(default, first, last) == landed
    assert default.stats.requests == 1


def test_cost_lands_as_exact_yuan_text_and_the_platform_row_is_kept(sandbox):
    first, last = world_days(sandbox)
    landed = pull_records(make_source(sandbox), first, last)
    for record in landed.values():
        platform = record["platform"]
        assert set(platform) == {"stat_datetime", "cost", "show", "click", "convert"}
        assert platform["stat_datetime"] == f"{record['report_date']} 00:00:00"
        assert isinstance(record["ad_spend_cny"], str) and platform["cost"] == record["ad_spend_cny"]
        spend = Decimal(record["ad_spend_cny"])
        assert spend == spend.quantize(Decimal("0.01")), "yuan to the fen"


def test_a_part_of_the_world_and_days_without_data(sandbox):
    first, _ = world_days(sandbox)
    days = (first + timedelta(days=3), first + timedelta(days=5))
    truth = [d for d in sandbox.world.traffic.ad_days(SHOP) if days[0] <= d.day <= days[1]]
    check_ads(pull_records(make_source(sandbox), *days), truth, ADVERTISER)
    before = make_source(sandbox)
    assert pull_records(before, first - timedelta(days=40), first - timedelta(days=1)) == {}
    assert before.stats.requests == 2, "40 days are two windows, each an empty report"


def report(server: SandboxServer, token: str = OCEANENGINE_ACCESS_TOKEN, **params: Any) -> dict[str, Any]:
    first, _ = world_days(server)
    query = {"advertiser_id": ADVERTISER, "start_date": str(first), "end_date": str(first), **params}
    response = requests.get(
        f"{server.url}/oceanengine/open_api/{REPORT}",
        params=query,
        headers={"Access-Token": token},
        timeout=10,
    )
    assert response.status_code == 200, "errors come in an HTTP 200"
    body: dict[str, Any] = response.json()
    return body


def test_the_simulator_enforces_the_documented_limits(sandbox):
    first, _ = world_days(sandbox)
    ok = report(sandbox, end_date=str(first + timedelta(days=29)), page_size=1000)
    assert ok["code"] == 0 and ok["message"] == "OK" and ok["request_id"]
    assert ok["data"]["page_info"] == {"page": 1, "page_size": 1000, "total_number": 10, "total_page": 1}
    assert set(ok["data"]["list"][0]) == {
        "stat_datetime",
        "cost",
        "show",
        "click",
        "convert",
        "ctr",
        "avg_click_cost",
        "avg_show_cost",
        "convert_cost",
        "convert_rate",
    }, "no fields: every metric"
    paged = report(sandbox, end_date=str(first + timedelta(days=9)), fields='["click"]', page=4, page_size=3)
    assert paged["data"]["page_info"] == {"page": 4, "page_size": 3, "total_number": 10, "total_page": 4}
    assert [set(r) for r in paged["data"]["list"]] == [{"stat_datetime", "click"}]
    rejected = {
        "span": report(sandbox, end_date=str(first + timedelta(days=30))),
        "end before start": report(sandbox, end_date=str(first - timedelta(days=1))),
        "page_size": report(sandbox, page_size=1001),
        "page": report(sandbox, page=0),
        "fields": report(sandbox, fields='["cost","gmv"]'),
        "group_by": report(sandbox, group_by='["STAT_GROUP_BY_FIELD_ID"]'),
        "date": report(sandbox, start_date="2026/11/05"),
    }
    for what, body in rejected.items():
        assert (body["code"], "data" in body) == (40001, False), what
    assert "30 days" in rejected["span"]["message"] and "page_size" in rejected["page_size"]["message"]
    assert "gmv" in rejected["fields"]["message"]
    assert report(sandbox, token="wrong")["code"] == 40102
    assert report(sandbox, advertiser_id="1760000000000002")["code"] == 40002


def test_the_connector_never_asks_for_more_than_the_platform_allows(sandbox):
    for options in ({"window_days": 31}, {"page_size": 1001}, {"page_size": 0}, {"window_days": "x"}):
        with pytest.raises(FatalError, match=r"options: (window_days|page_size) must be"):
            make_source(sandbox, **options)
    entry = traffic_entry(sandbox, "oceanengine", SHOP)
    client = OceanEngineClient(entry, HttpClient(entry.channel, entry.shop_id))
    first, _ = world_days(sandbox)
    with pytest.raises(FatalError, match=r"\[douyin/douyin-shop\] Ocean Engine error 40001 .*30 days"):
        client.call(
            REPORT,
            {"advertiser_id": ADVERTISER, "start_date": first, "end_date": first + timedelta(days=30)},
        )
    with pytest.raises(ValueError, match="traffic"):
        next(make_source(sandbox).pull("orders", *china_days_window(first, first)))


def test_a_bad_token_is_a_credential_error_naming_the_variable(sandbox):
    source = make_source(sandbox, env={"OMNI_OCEANENGINE_ACCESS_TOKEN": "expired-token-4711"})
    with pytest.raises(
        CredentialError, match=r"Ocean Engine error 40102 .*OMNI_OCEANENGINE_ACCESS_TOKEN"
    ) as error:
        pull_records(source, *world_days(sandbox))
    assert "expired-token-4711" not in str(error.value) and "douyin/douyin-shop" in str(error.value)
    assert source.stats.requests == 1, "not retried"


def test_an_advertiser_the_token_cannot_read_is_fatal(sandbox):
    source = make_source(sandbox, advertiser_id="1760000000000999")
    with pytest.raises(FatalError, match=r"Ocean Engine error 40002 .*1760000000000999") as error:
        pull_records(source, *world_days(sandbox))
    assert not isinstance(error.value, CredentialError) and source.stats.requests == 1


def test_throttling_is_retried_and_nothing_is_lost(make_sandbox):
    server = make_sandbox(rate_limits=True, platform=(("oceanengine_sim.CALLS_PER_SECOND", 4.0),))
    source = make_source(server, window_days=5, page_size=1)
    check_ads(pull_records(source, *world_days(server)), server.world.traffic.ad_days(SHOP), ADVERTISER)
    assert source.stats.throttled >= 1, "10 pages at 4 calls/s must be throttled"
    assert source.stats.requests == 10 + source.stats.retries


def test_an_internal_error_is_retried(make_sandbox):
    server = make_sandbox(platform=(("oceanengine_sim.INTERNAL_ERROR_EVERY", 2),))
    source = make_source(server, page_size=5)
    check_ads(pull_records(source, *world_days(server)), server.world.traffic.ad_days(SHOP), ADVERTISER)
    assert (source.stats.retries, source.stats.throttled, source.stats.requests) == (1, 0, 3)
