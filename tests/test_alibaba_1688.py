"""1688 wholesale (alibaba.trade.getSellerOrderList) connector against the 1688 simulator over real
HTTP on loopback.

The test world has only a handful of 1688 orders (a few businesses buy there), none cancelled or
completed by its end, so some checks run on a bigger, longer world (LONG) or a busier one (BUSY)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from connectors.alibaba_1688.client import NAMESPACE, Alibaba1688Client, format_time, parse_time
from connectors.alibaba_1688.signing import sign, url_path
from connectors.alibaba_1688.source import METHOD, Alibaba1688Source
from connectors.common.errors import CredentialError, FatalError, ProtocolError
from connectors.common.http import HttpClient
from connectors.common.pii import PiiHasher
from connectors.config import ShopConfig
from connectors.sandbox import alibaba_1688_sim
from connectors.sandbox.credentials import ALIBABA_1688_APP_KEY, ALIBABA_1688_APP_SECRET, marketplace_token
from connectors.sandbox.truth import truth_orders
from tests.conftest import TEST_PII_KEY
from tests.marketplace import (
    check_empty_and_repeated_pages,
    check_every_order_once,
    check_modified_while_paging,
    check_no_plain_pii,
    check_paging_edges,
    final_versions_modified_in,
    pull,
    records,
    whole_world,
)

SHOP = "wholesale-1688"
ENV = {
    "app_key": "OMNI_TEST_1688_KEY",
    "app_secret": "OMNI_TEST_1688_SECRET",
    "access_token": "OMNI_TEST_1688_TOKEN",
}
LONG = {"people": 4000, "end": date(2026, 12, 20)}  # every lifecycle state, refunds included
BUSY = {"people": 4000}  # ~100 orders in the test world's ten days
# status -> common lifecycle, for an order with no refund
STATUSES = {
    "waitbuyerpay": "created",
    "waitsellersend": "paid",
    "waitbuyerreceive": "shipped",
    "success": "completed",
    "cancel": "cancelled",
}


def shop_config(
    server,
    secret: str = ALIBABA_1688_APP_SECRET,
    token: str | None = None,
    app_key: str = ALIBABA_1688_APP_KEY,
    **options,
) -> ShopConfig:
    return ShopConfig(
        "alibaba_1688",
        SHOP,
        {"base_url": f"{server.url}/1688/openapi", **options},
        {"app_key": app_key, "app_secret": secret, "access_token": token or marketplace_token(SHOP)},
        ENV,
    )


def make_source(server, **options) -> Alibaba1688Source:
    return Alibaba1688Source(shop_config(server, **options), PiiHasher(TEST_PII_KEY))


def client(server, **options) -> Alibaba1688Client:
    return Alibaba1688Client(shop_config(server, **options), HttpClient("alibaba_1688", SHOP))


def sent_forms(source: Alibaba1688Source) -> list[dict[str, str]]:
    """What the connector really puts on the wire (a response hook, not a mock)."""
    forms: list[dict[str, str]] = []
    source.http.session.hooks["response"].append(
        lambda response, *args, **kwargs: forms.append(dict(parse_qsl(response.request.body)))
    )
    return forms


def raw_post(server, params: dict[str, str], app_key: str = ALIBABA_1688_APP_KEY) -> requests.Response:
    path = url_path(NAMESPACE, METHOD, app_key)
    form = {"access_token": marketplace_token(SHOP), **params}
    form["_aop_signature"] = sign(path, form, ALIBABA_1688_APP_SECRET)
    return requests.post(f"{server.url}/1688/openapi/{path}", data=form, timeout=10)


def window_params(server, **extra: str) -> dict[str, str]:
    start, end = whole_world(server)
    return {"modifyStartTime": format_time(start), "modifyEndTime": format_time(end), **extra}


@pytest.fixture(params=[400, 200], ids=["errors-in-4xx", "errors-in-200"])
def error_status(request, monkeypatch) -> int:
    """The reference leaves the HTTP status of errors open: the connector must read both."""
    monkeypatch.setattr(alibaba_1688_sim, "ERROR_HTTP_STATUS", request.param)
    return int(request.param)


@pytest.fixture(params=["test-world", "long-world"])
def any_world(request, sandbox, make_sandbox):
    return sandbox if request.param == "test-world" else make_sandbox(**LONG)


def test_orders_equal_the_truth_with_exact_money(any_world):
    table = check_every_order_once(any_world, make_source, SHOP)
    truth = truth_orders(any_world.world).set_index("order_id")
    seen = Counter()
    for record in records(table):
        base = record["baseInfo"]
        expected = truth.loc[base["idOfStr"]]
        money = ("totalAmount", "sumProductPayment", "shippingFee", "discount", "refund")
        assert all(isinstance(base[f], str) for f in money), "yuan strings on the wire"
        total, refund = Decimal(base["totalAmount"]), Decimal(base["refund"])
        assert total == Decimal(base["sumProductPayment"]) - Decimal(base["discount"]) + Decimal(
            base["shippingFee"]
        )
        assert sum(Decimal(i["itemAmount"]) for i in record["productItems"]) == total - Decimal(
            base["shippingFee"]
        )
        paid = total if "payTime" in base else Decimal(0)
        status = STATUSES[base["status"]]
        if refund:
            status = "refunded" if refund >= paid else "partially_refunded"
        assert (total, paid, refund) == (expected["gmv_cny"], expected["paid_cny"], expected["refunded_cny"])
        assert expected["platform_discount_cny"] == 0
        assert status == expected["status"], base
        assert base["buyerLoginId"] == expected["account_id"] and expected["person_id"] is None
        seen[status] += 1
    assert seen["paid"] and seen["shipped"], seen
    if any_world.world.end == LONG["end"]:
        assert all(seen[s] for s in ("created", "completed", "cancelled", "refunded")), seen


def test_ids_come_from_id_of_str_even_though_id_is_a_json_number(sandbox):
    answer = raw_post(sandbox, window_params(sandbox, page="1", pageSize="50"))
    assert answer.status_code == 200
    as_floats = json.loads(answer.content, parse_int=float)["result"]
    exact = answer.json()["result"]
    assert all(type(o["baseInfo"]["id"]) is int for o in exact), "a JSON number on the wire"
    assert any(int(o["baseInfo"]["id"]) != int(o["baseInfo"]["idOfStr"]) for o in as_floats), (
        "a float-parsing client gets the ids wrong"
    )
    table = pull(make_source(sandbox), *whole_world(sandbox))
    ids = table.column("record_id").to_pylist()
    assert sorted(ids) == sorted(o["baseInfo"]["idOfStr"] for o in exact)
    assert all(int(i) > 2**53 for i in ids)
    landed = records(table)
    assert all("id" not in r["baseInfo"] for r in landed), "the unsafe number is not landed"
    items = [i for r in landed for i in r["productItems"]]
    assert all("subItemID" not in i and int(i["subItemIDString"]) > 2**53 for i in items)


def test_signature_end_to_end_and_tampering_is_rejected(sandbox):
    params = window_params(sandbox, page="1", pageSize="3")
    good = raw_post(sandbox, params)
    assert good.status_code == 200 and len(good.json()["result"]) == 3
    path = url_path(NAMESPACE, METHOD, ALIBABA_1688_APP_KEY)
    form = {"access_token": marketplace_token(SHOP), **params}
    form["_aop_signature"] = sign(path, form, ALIBABA_1688_APP_SECRET)
    tampered = requests.post(f"{sandbox.url}/1688/openapi/{path}", data={**form, "pageSize": "4"}, timeout=10)
    assert tampered.status_code == alibaba_1688_sim.ERROR_HTTP_STATUS
    assert tampered.json() == {"error_code": "gw.SignatureInvalid", "error_message": "Signature is invalid"}
    source = make_source(sandbox, page_size=5)
    forms = sent_forms(source)
    pull(source, *whole_world(sandbox))
    assert forms and all(
        f["_aop_signature"] == sign(path, f, ALIBABA_1688_APP_SECRET) and len(f["_aop_signature"]) == 40
        for f in forms
    )
    assert all(f["access_token"] == marketplace_token(SHOP) for f in forms), "the token goes in the form"


@pytest.mark.parametrize(
    ("options", "variable", "code"),
    [
        ({"app_key": "7654321"}, "OMNI_TEST_1688_KEY", "gw.AppKeyNotExist"),
        ({"secret": "not-the-secret-4711"}, "OMNI_TEST_1688_SECRET", "gw.SignatureInvalid"),
        ({"token": "never-issued"}, "OMNI_TEST_1688_TOKEN", "gw.InvalidAccessToken"),
    ],
)
def test_bad_credentials_are_fatal_and_name_the_variable(sandbox, error_status, options, variable, code):
    source = make_source(sandbox, **options)
    with pytest.raises(
        CredentialError, match=rf"\[alibaba_1688/{SHOP}\] 1688 error {code}.*{variable}"
    ) as error:
        pull(source, *whole_world(sandbox))
    assert "not-the-secret-4711" not in str(error.value) and marketplace_token(SHOP) not in str(error.value)
    assert source.stats.requests == 1, "not retried"


def test_the_app_key_in_the_url_must_be_the_tokens_app(sandbox, monkeypatch):
    """A known app whose URL and signature are right, but the token was issued to another app."""
    monkeypatch.setitem(alibaba_1688_sim.APPS, "7654321", "other-app-secret")
    source = make_source(sandbox, app_key="7654321", secret="other-app-secret")
    with pytest.raises(CredentialError, match=r"gw\.InvalidAccessToken.*OMNI_TEST_1688_TOKEN"):
        pull(source, *whole_world(sandbox))
    assert source.stats.requests == 1


def test_times_are_parsed_strictly():
    instant = datetime(2024, 5, 31, 16, 0, 0, 123000, tzinfo=UTC)
    assert format_time(instant) == "20240601000000123+0800"
    assert parse_time("20240601000000123+0800") == instant
    assert parse_time("20240601000000000+0000") == datetime(2024, 6, 1, tzinfo=UTC)
    for bad in (
        "2024-06-01 00:00:00",
        "20240601000000+0800",
        "20240601000000000",
        "20240601000000000+08:00",
        "",
    ):
        with pytest.raises(ValueError, match="yyyyMMddHHmmssSSS"):
            parse_time(bad)


def test_bad_time_formats_are_clear_errors(sandbox, error_status):
    start, end = whole_world(sandbox)
    gateway = client(sandbox)
    with pytest.raises(
        FatalError, match=rf"\[alibaba_1688/{SHOP}\] 1688 error gw.ParameterInvalid.*yyyyMMdd"
    ):
        gateway.call(
            METHOD,
            {
                "modifyStartTime": "2026-11-05 00:00:00",
                "modifyEndTime": format_time(end),
                "page": 1,
                "pageSize": 5,
            },
        )
    assert gateway.http.stats.requests == 1, "not retried"
    source = make_source(sandbox)
    record = {"baseInfo": {"idOfStr": "2400000000000000001", "modifyTime": "2026-11-05 00:00:00"}}
    with pytest.raises(ProtocolError, match=rf"\[alibaba_1688/{SHOP}\].*2400000000000000001 modifyTime"):
        source.identify(record)
    assert (
        source.identify({"baseInfo": {**record["baseInfo"], "modifyTime": format_time(start)}}).modified_at
        == start
    )


def test_over_long_windows_are_clear_errors(sandbox):
    with pytest.raises(FatalError, match=rf"\[alibaba_1688/{SHOP}\] options: window_minutes must be in"):
        make_source(sandbox, window_minutes=32 * 24 * 60)
    start, _ = whole_world(sandbox)
    gateway = client(sandbox)
    business = {"modifyStartTime": format_time(start), "page": 1, "pageSize": 5}
    ok = gateway.call(METHOD, {**business, "modifyEndTime": format_time(start + timedelta(days=31))})
    assert ok["totalRecord"] > 0
    with pytest.raises(FatalError, match=rf"\[alibaba_1688/{SHOP}\] 1688 error gw.ParameterInvalid.*31 days"):
        gateway.call(
            METHOD, {**business, "modifyEndTime": format_time(start + timedelta(days=31, seconds=1))}
        )


def test_a_long_range_is_split_into_windows_the_platform_accepts(sandbox):
    start, end = whole_world(sandbox)
    source = make_source(sandbox)
    forms = sent_forms(source)
    table = pull(source, start - timedelta(days=50), end)
    assert source.stats.requests == 2, "60 days = 31 + 29, one page each"
    windows = [(parse_time(f["modifyStartTime"]), parse_time(f["modifyEndTime"])) for f in forms]
    assert windows == [
        (start - timedelta(days=50), start - timedelta(days=19)),
        (start - timedelta(days=19), end),
    ], "contiguous, each at most 31 days; the shared instant lands once"
    assert sorted(table.column("record_id").to_pylist()) == sorted(
        o.order_id for o in sandbox.world.orders_for(SHOP)
    )


def test_pages_count_from_one_and_are_read_backwards(sandbox):
    total = len(sandbox.world.orders_for(SHOP))
    source = make_source(sandbox, page_size=3)
    forms = sent_forms(source)
    table = pull(source, *whole_world(sandbox))
    pages = [int(f["page"]) for f in forms]
    last = -(-total // 3)
    assert last >= 3, "the test needs several pages"
    assert pages == [1, *range(last, 0, -1)] and all(f["pageSize"] == "3" for f in forms)
    assert table.num_rows == total
    answer = raw_post(sandbox, window_params(sandbox, page="1", pageSize="51"))
    assert answer.json()["error_code"] == "gw.ParameterInvalid"
    assert raw_post(sandbox, window_params(sandbox, page="0", pageSize="5")).json()["error_code"] == (
        "gw.ParameterInvalid"
    )
    newest = raw_post(sandbox, window_params(sandbox, page="1", pageSize="50")).json()
    modified = [parse_time(o["baseInfo"]["modifyTime"]) for o in newest["result"]]
    assert modified == sorted(modified, reverse=True) and newest["totalRecord"] == total
    shipped = raw_post(
        sandbox, window_params(sandbox, page="1", pageSize="50", orderStatus="waitbuyerreceive")
    )
    statuses = {o["baseInfo"]["status"] for o in shipped.json()["result"]}
    assert statuses == {"waitbuyerreceive"} and 0 < shipped.json()["totalRecord"] < total


def test_paging_edges(sandbox):
    check_paging_edges(sandbox, make_source, *whole_world(sandbox))


def test_orders_modified_while_paging_are_never_skipped(make_sandbox):
    busy = make_sandbox(**BUSY)
    start, end = whole_world(busy)
    window = (start, end - timedelta(days=1))  # a modified order's new time (the world's end) is outside
    check_modified_while_paging(
        busy, lambda **kw: make_sandbox(**BUSY, **kw), make_source, None, window, page_size=10
    )


@pytest.mark.usefixtures("error_status")
def test_throttling_is_retried_and_nothing_is_lost(make_sandbox, monkeypatch):
    monkeypatch.setattr(alibaba_1688_sim, "CALLS_PER_SECOND", 4.0)
    server = make_sandbox(rate_limits=True)
    start, end = whole_world(server)
    source = make_source(server, window_minutes=24 * 60, page_size=2)
    table = pull(source, start, end)
    assert source.stats.throttled >= 1, "dozens of calls at 4 calls/s must be throttled"
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids))
    assert set(ids) == final_versions_modified_in(server, SHOP, start, end)


def test_no_plain_pii_contacts_hashed(sandbox):
    table = pull(make_source(sandbox), *whole_world(sandbox))
    check_no_plain_pii(sandbox, table)
    blob = "\n".join(table.column("record").to_pylist())
    businesses = sandbox.world.businesses
    assert businesses
    for business in businesses:  # the buyers' contact people, not in world.people
        for value in (business.contact_name, business.contact_phone, business.address, business.name):
            assert value not in blob, value
    pii = PiiHasher(TEST_PII_KEY)
    orders = {o.order_id: o for o in sandbox.world.orders_for(SHOP)}
    for record in records(table):
        order: Any = orders[record["baseInfo"]["idOfStr"]]
        contact, logistics = record["baseInfo"]["buyerContact"], record["nativeLogistics"]
        assert contact["mobile_hash"] == pii.phone(order.receiver_phone), "joinable across channels"
        assert (
            contact["name_hash"] == logistics["contactPerson_hash"] == pii.text(order.receiver_name, "name")
        )
        assert logistics["address_hash"] == pii.text(order.receiver_address, "address")
        assert logistics["mobile_masked"].count("*") == 4 and logistics["city"] == order.receiver_city


def test_empty_and_repeated_pages_change_nothing(sandbox, make_sandbox):
    check_empty_and_repeated_pages(sandbox, make_sandbox, make_source, 3)
