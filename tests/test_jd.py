"""JD (JOS enSearch) connector against the JD simulator over real HTTP on loopback."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
import requests

from connectors.common.errors import CredentialError, FatalError
from connectors.common.http import HttpClient
from connectors.common.signing import sign
from connectors.common.timeutil import format_cst, parse_cst, utc_now
from connectors.config import ShopConfig
from connectors.jd.client import JdClient
from connectors.jd.source import METHOD, JdSource
from connectors.sandbox import jd_sim
from connectors.sandbox.credentials import JD_APP_KEY, JD_APP_SECRET, marketplace_token
from connectors.sandbox.truth import truth_orders
from tests.marketplace import (
    check_empty_and_repeated_pages,
    check_every_order_once,
    check_gateway_clock_ahead,
    check_modified_while_paging,
    check_no_plain_pii,
    check_paging_edges,
    final_versions_modified_in,
    pull,
    records,
    whole_world,
)

SHOP = "jd-pop"
ENV = {
    "app_key": "OMNI_TEST_JD_KEY",
    "app_secret": "OMNI_TEST_JD_SECRET",
    "access_token": "OMNI_TEST_JD_TOKEN",
}


def shop_config(server, secret: str = JD_APP_SECRET, token: str | None = None, **options) -> ShopConfig:
    return ShopConfig(
        "jd",
        SHOP,
        {"gateway_url": f"{server.url}/jd/routerjson", "fbp": True, **options},
        {"app_key": JD_APP_KEY, "app_secret": secret, "access_token": token or marketplace_token(SHOP)},
        ENV,
    )


def make_source(server, **options) -> JdSource:
    secret = options.pop("secret", JD_APP_SECRET)
    token = options.pop("token", None)
    return JdSource(shop_config(server, secret, token, **options), pii=None)  # type: ignore[arg-type]


def client(server) -> JdClient:
    return JdClient(shop_config(server), HttpClient("jd", SHOP))


def test_orders_equal_the_truth_with_exact_money(sandbox):
    table = check_every_order_once(sandbox, make_source, SHOP)
    truth = truth_orders(sandbox.world).set_index("order_id")
    for record in records(table):
        expected = truth.loc[record["orderId"]]
        assert all(isinstance(v, str) for k, v in record.items() if not isinstance(v, (list, dict))), record
        merchant_total = Decimal(record["orderSellerPrice"]) + Decimal(record["freightPrice"])
        assert merchant_total == expected["gmv_cny"] == expected["paid_cny"]
        assert merchant_total - Decimal(record["orderPayment"]) == expected["platform_discount_cny"]
        cancelled_after_payment = record["orderState"] == "TRADE_CANCELED" and record["paymentConfirmTime"]
        assert (merchant_total if cancelled_after_payment else 0) == expected["refunded_cny"]
        assert record["open_id_buyer"] == expected["account_id"]
    assert {r["orderType"] for r in records(table)} == {"21", "22"}, "SOP and FBP orders both land"


def test_no_plain_pii_ciphertexts_dropped_masks_kept(sandbox):
    table = pull(make_source(sandbox), *whole_world(sandbox))
    check_no_plain_pii(sandbox, table)
    consignee = records(table)[0]["consigneeInfo"]
    assert "mobile" not in consignee and "fullname" not in consignee and "fullAddress" not in consignee
    assert consignee["desen_mobile"].count("*") == 4


def sop_only(server, **options) -> JdSource:
    """The connector with enSearch alone: one API, so call counts are the paging's own."""
    return make_source(server, fbp=False, **options)


def test_paging_edges(sandbox):
    check_paging_edges(sandbox, sop_only, *whole_world(sandbox))


def test_fbp_orders_come_only_from_fbp_search(sandbox):
    both = pull(make_source(sandbox), *whole_world(sandbox))
    sop = pull(sop_only(sandbox), *whole_world(sandbox))
    fbp = {r["orderId"] for r in records(both) if r["orderType"] == "21"}
    assert fbp and not fbp & set(sop.column("record_id").to_pylist()), "enSearch never lists FBP orders"
    assert set(sop.column("record_id").to_pylist()) | fbp == set(both.column("record_id").to_pylist())


def test_orders_modified_while_paging_are_never_skipped(sandbox, make_sandbox):
    start, end = whole_world(sandbox)
    window = (start, end - timedelta(days=1))  # a modified order's new time (the world's end) is outside
    check_modified_while_paging(sandbox, make_sandbox, sop_only, None, window, 2)


def test_the_simulator_enforces_the_reference(sandbox):
    jd = client(sandbox)
    start, _ = whole_world(sandbox)
    base = {
        "optional_fields": "orderId,modified",
        "page": 1,
        "page_size": 50,
        "start_date": format_cst(start),
    }
    ok = jd.call(METHOD, {**base, "end_date": format_cst(start + timedelta(days=28))})
    result = ok["searchorderinfo_result"]
    assert ok["code"] == "0" and result["apiResult"]["success"] is True
    assert all(set(o) == {"orderId", "modified"} for o in result["orderInfoList"])
    modified = [parse_cst(o["modified"]) for o in result["orderInfoList"]]
    assert modified == sorted(modified, reverse=True), "newest first"
    for bad, why in (
        ({"end_date": format_cst(start + timedelta(days=32))}, "one month"),
        ({"end_date": format_cst(start + timedelta(days=1)), "page_size": 51}, "page_size"),
        ({"end_date": format_cst(start + timedelta(days=1)), "optional_fields": ""}, "optional_fields"),
    ):
        with pytest.raises(FatalError, match="JOS error apiResult"):
            jd.call(METHOD, {**base, **bad})
        assert why


def test_raw_envelopes_string_values_and_both_timestamp_forms(sandbox):
    """Straight HTTP: the `_responce` root, numbers accepted inside 360buy_param_json, the C# SDK's
    timestamp form, and the gateway's error_response shape."""
    start, end = whole_world(sandbox)
    business = {
        "start_date": format_cst(start),
        "end_date": format_cst(end),
        "optional_fields": "orderId,orderPayment",
        "page": 1,
        "page_size": 3,
    }
    stamp = utc_now().astimezone(jd_sim.CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S.000+0800")
    form = {
        "method": METHOD,
        "app_key": JD_APP_KEY,
        "access_token": marketplace_token(SHOP),
        "timestamp": stamp,
        "v": "2.0",
        "360buy_param_json": orjson.dumps(business).decode(),
    }
    form["sign"] = sign(form, JD_APP_SECRET)
    body = requests.post(f"{sandbox.url}/jd/routerjson", data=form, timeout=10).json()
    orders = body["jingdong_pop_order_enSearch_responce"]["searchorderinfo_result"]["orderInfoList"]
    assert len(orders) == 3 and all(isinstance(o["orderPayment"], str) for o in orders)
    bad = requests.post(f"{sandbox.url}/jd/routerjson", data={**form, "sign": "0" * 32}, timeout=10)
    assert bad.status_code == 200
    assert set(bad.json()["error_response"]) == {"code", "zh_desc", "en_desc"}


def test_bad_credentials_are_fatal_and_name_the_variable(sandbox):
    source = make_source(sandbox, secret="wrong")
    with pytest.raises(CredentialError, match="OMNI_TEST_JD_SECRET"):
        pull(source, *whole_world(sandbox))
    assert source.stats.requests == 1, "not retried"
    with pytest.raises(CredentialError, match="OMNI_TEST_JD_TOKEN"):
        pull(make_source(sandbox, token="expired"), *whole_world(sandbox))


def test_throttling_is_retried_and_nothing_is_lost(make_sandbox, monkeypatch):
    monkeypatch.setattr(jd_sim, "CALLS_PER_SECOND", 4.0)
    server = make_sandbox(rate_limits=True)
    start, _ = whole_world(server)
    source = make_source(server, window_minutes=180, page_size=5)
    table = pull(source, start, start + timedelta(days=2))
    assert source.stats.throttled >= 1
    assert set(table.column("record_id").to_pylist()) == final_versions_modified_in(
        server, SHOP, start, start + timedelta(days=2)
    )


def test_a_long_range_is_split_into_windows_the_platform_accepts(sandbox):
    """Two months cannot go in one call (the simulator rejects more than a calendar month): the
    connector asks for 28-day windows, one call each when a window fits in one page."""
    start, end = whole_world(sandbox)
    source = make_source(sandbox)
    table = pull(source, start - timedelta(days=50), end)
    assert source.stats.requests == 2 * 3, "60 days = 28 + 28 + 4, once per API"
    assert table.num_rows == len(sandbox.world.orders_for(SHOP))


def test_empty_and_repeated_pages_change_nothing(sandbox, make_sandbox):
    check_empty_and_repeated_pages(sandbox, make_sandbox, make_source, 3)


def test_a_gateway_clock_ahead_of_ours_is_adopted_and_nothing_changes(sandbox, make_sandbox):
    check_gateway_clock_ahead(sandbox, make_sandbox, make_source)
