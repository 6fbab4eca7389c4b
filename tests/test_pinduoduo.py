"""Pinduoduo (pdd.order.number.list.increment.get) connector against the PDD simulator over real HTTP.

The test world has only ~35 Pinduoduo orders and never more than two updated in one 30-minute
window, so the paging checks that need a busier platform window run on a bigger world (BUSY)."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import requests

from connectors.common.errors import CredentialError, FatalError
from connectors.common.gateway import json_exact
from connectors.common.http import HttpClient
from connectors.common.signing import sign
from connectors.common.timeutil import china_day_start, split_window, utc_now
from connectors.config import ShopConfig
from connectors.pinduoduo.client import PinduoduoClient
from connectors.pinduoduo.source import METHOD, PinduoduoSource
from connectors.sandbox import pdd_sim
from connectors.sandbox.credentials import PDD_CLIENT_ID, PDD_CLIENT_SECRET, marketplace_token
from connectors.sandbox.generate import cached_world
from connectors.sandbox.server import SandboxServer
from connectors.sandbox.truth import truth_orders
from tests.conftest import TEST_WORLD
from tests.marketplace import (
    busiest_window,
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

SHOP = "pdd-store"
ENV = {
    "client_id": "OMNI_TEST_PDD_CLIENT_ID",
    "client_secret": "OMNI_TEST_PDD_SECRET",
    "access_token": "OMNI_TEST_PDD_TOKEN",
}
BUSY = {"people": 4000}  # the test world's population x10
BUSY_WINDOW = busiest_window(
    cached_world(TEST_WORLD.seed, BUSY["people"], TEST_WORLD.start, TEST_WORLD.end),
    SHOP,
    timedelta(minutes=30),
)
AMOUNTS = ("goods_amount", "seller_discount", "platform_discount", "discount_amount", "postage", "pay_amount")


def shop_config(server, secret: str = PDD_CLIENT_SECRET, token: str | None = None, **options) -> ShopConfig:
    return ShopConfig(
        "pinduoduo",
        SHOP,
        {"gateway_url": f"{server.url}/pdd/api/router", **options},
        {
            "client_id": PDD_CLIENT_ID,
            "client_secret": secret,
            "access_token": token or marketplace_token(SHOP),
        },
        ENV,
    )


def make_source(server, **options) -> PinduoduoSource:
    secret = options.pop("secret", PDD_CLIENT_SECRET)
    token = options.pop("token", None)
    return PinduoduoSource(shop_config(server, secret, token, **options), pii=None)  # type: ignore[arg-type]


def client(server, **options) -> PinduoduoClient:
    return PinduoduoClient(shop_config(server, **options), HttpClient("pinduoduo", SHOP))


def sent_forms(source: PinduoduoSource) -> list[dict[str, str]]:
    """Records every form the source's client sends (the real request still goes out)."""
    forms: list[dict[str, str]] = []
    prepare = source.client.prepare

    def recording(method: str, business: Any) -> dict[str, Any]:
        kwargs = prepare(method, business)
        forms.append(kwargs["data"])
        return kwargs

    source.client.prepare = recording  # type: ignore[method-assign]
    return forms


def business(start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "start_updated_at": int(start.timestamp()),
        "end_updated_at": int(end.timestamp()),
        "is_lucky_flag": 0,
        "order_status": 5,
        "refund_status": 5,
        **extra,
    }


def raw_post(server, params: dict[str, Any], *, timestamp: int | None = None, as_json: bool = False):
    """A signed call made by hand, to see the wire format. A JSON body keeps numbers and booleans
    typed, as the JavaScript SDK sends them; the signature covers their text forms."""
    typed = {
        "type": METHOD,
        "client_id": PDD_CLIENT_ID,
        "access_token": marketplace_token(SHOP),
        "timestamp": timestamp if timestamp is not None else int(time.time()),
        "data_type": "JSON",
        **params,
    }
    form = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in typed.items()}
    form["sign"] = sign(form, PDD_CLIENT_SECRET)
    url = f"{server.url}/pdd/api/router"
    if as_json:
        response = requests.post(url, json={**typed, "sign": form["sign"]}, timeout=10)
    else:
        response = requests.post(url, data=form, timeout=10)
    assert response.status_code == 200
    return response


def lifecycle(record: dict[str, Any]) -> str:
    """The staging model's status rule, applied to a landed record."""
    if record["confirm_status"] == 2:
        return "cancelled"
    if record["refund_status"] == 4:
        return "refunded"
    return {3: "completed", 2: "shipped", 1: "paid"}[record["order_status"]]


def merchant_money(record: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """gmv, paid, refunded from a landed record, as the staging model computes them."""
    gmv = Decimal(record["pay_amount"]) + Decimal(record["platform_discount"])
    step = record.get("step_order_info")
    paid = (
        Decimal(step["advanced_paid_fee"])
        if record["trade_type"] == 1 and step["step_trade_status"] < 2
        else gmv
    )
    return gmv, paid, gmv if record["refund_status"] == 4 else Decimal(0)


def check_money(table, truth) -> list[dict[str, Any]]:
    landed = records(table)
    for record in landed:
        expected = truth.loc[record["order_sn"]]
        assert all(isinstance(record[k], str) for k in AMOUNTS), "amounts land as decimal strings"
        gmv, paid, refunded = merchant_money(record)
        assert (gmv, paid, refunded) == (expected["gmv_cny"], expected["paid_cny"], expected["refunded_cny"])
        assert Decimal(record["platform_discount"]) == expected["platform_discount_cny"]
        assert lifecycle(record) == expected["status"], record["order_sn"]
        assert "buyer_id" not in record and expected["account_id"] is None
    return landed


@pytest.fixture(scope="module")
def richer() -> Iterator[SandboxServer]:
    """The test world with 600 people: enough Pinduoduo orders for a forfeited pre-sale deposit."""
    with SandboxServer(dataclasses.replace(TEST_WORLD, people=600)) as server:
        yield server


@pytest.fixture(scope="module")
def world_table(richer) -> pa.Table:
    """The whole world pulled once (480 windows: the slowest thing here)."""
    return check_every_order_once(richer, make_source, SHOP)


def test_orders_equal_the_truth_with_exact_money(richer, world_table):
    landed = check_money(world_table, truth_orders(richer.world).set_index("order_id"))
    assert {r["trade_type"] for r in landed} == {0, 1}, "group buys and pre-sales occur"
    assert {r.get("group_status") for r in landed} >= {1, 2}, "formed and failed groups occur"
    assert any(r["confirm_status"] == 2 for r in landed), "a forfeited pre-sale (paid = its deposit)"
    assert any(Decimal(r["platform_discount"]) > 0 for r in landed)


def test_an_earlier_clock_shows_a_deposit_awaiting_its_balance(make_sandbox):
    """At 2026-11-11 00:00 CST a pre-sale placed on 11-06 awaits its balance: paid = its deposit,
    step_trade_status 1, not yet 成交."""
    now = china_day_start(datetime(2026, 11, 11).date())
    server = make_sandbox(now=now)
    day = china_day_start(datetime(2026, 11, 6).date())
    table = pull(make_source(server), day, day + timedelta(days=1))
    truth = truth_orders(server.world, as_of=now).set_index("order_id")
    expected = {
        o.order_id
        for o in server.world.orders_for(SHOP)
        if (st := o.state(now)) and day <= st.modified_at < day + timedelta(days=1)
    }
    assert sorted(table.column("record_id").to_pylist()) == sorted(expected)
    landed = check_money(table, truth)
    waiting = [r for r in landed if r["trade_type"] == 1 and r["step_order_info"]["step_trade_status"] == 1]
    assert waiting and all(r["confirm_status"] == 0 and r["confirm_time"] == "" for r in waiting)


def test_amounts_are_json_numbers_on_the_wire_and_exact_strings_landed(sandbox):
    order = next(o for o in sandbox.world.orders_for(SHOP) if o.platform_discount_fen)
    modified = order.state(sandbox.world.as_of).modified_at
    window = (modified, modified + timedelta(minutes=1))
    response = raw_post(sandbox, business(*window, page_size=5))
    wire = response.json()[pdd_sim.ROOT]["order_sn_list"][0]
    assert wire["order_sn"] == order.order_id
    for name in AMOUNTS:
        assert isinstance(wire[name], (int, float)) and not isinstance(wire[name], bool), name
    assert isinstance(wire["item_list"][0]["goods_price"], (int, float))
    assert re.search(r'"pay_amount":\d+(\.\d{1,2})?[,}]', response.text), "a bare number, at most two places"
    exact = json_exact(response.content)[pdd_sim.ROOT]["order_sn_list"][0]
    assert Decimal(exact["pay_amount"]) == Decimal(order.buyer_pays_fen).scaleb(-2)
    landed = records(pull(make_source(sandbox), *window))[0]
    assert landed["pay_amount"] == str(exact["pay_amount"])
    gmv = Decimal(landed["pay_amount"]) + Decimal(landed["platform_discount"])
    assert gmv == Decimal(order.total_fen).scaleb(-2)
    assert isinstance(landed["item_list"][0]["goods_price"], str)


def test_receiver_ciphertext_only_while_awaiting_shipment_and_masks_always(sandbox):
    pdd, as_of = client(sandbox), sandbox.world.as_of
    wire: list[dict[str, Any]] = []
    for modified in sorted({o.state(as_of).modified_at for o in sandbox.world.orders_for(SHOP)}):
        body = pdd.call(METHOD, business(modified, modified + timedelta(seconds=1)))
        wire += [r for r in body["order_sn_list"] if r["order_sn"] not in {w["order_sn"] for w in wire}]
    assert len(wire) == len(sandbox.world.orders_for(SHOP))
    assert {r["order_status"] for r in wire} == {1, 2, 3}
    for record in wire:
        awaiting = record["order_status"] == 1
        for name in ("receiver_name", "receiver_phone", "receiver_address"):
            assert bool(record[name]) == awaiting, (name, record["order_status"])
        assert re.fullmatch(r"1\d{6}\*{4}", record["receiver_phone_mask"])
        assert record["receiver_name_mask"] and record["address_mask"] and record["open_address_id"]
    people = sandbox.world.people
    blob = json.dumps(wire, ensure_ascii=False, default=str)
    assert not any(p.phone in blob or p.address in blob for p in people), "ciphertext, never plain"


def test_no_plain_pii_landed_ciphertexts_and_masked_names_dropped(richer, world_table):
    check_no_plain_pii(richer, world_table)
    for record in records(world_table):
        assert not {"receiver_name", "receiver_phone", "receiver_address", "receiver_name_mask"} & set(record)
        assert not {"receiver_address_mask", "address_mask"} & set(record)
        assert re.fullmatch(r"1\d{6}\*{4}", record["receiver_phone_mask"])
        assert record["open_address_id"] and record["city"]


def test_a_long_range_is_split_into_30_minute_windows(sandbox):
    start, _ = whole_world(sandbox)
    source = make_source(sandbox)
    forms = sent_forms(source)
    pull(source, start, start + timedelta(hours=2))
    assert source.stats.requests >= 4, "two hours = four 30-minute windows"
    spans = [int(f["end_updated_at"]) - int(f["start_updated_at"]) for f in forms]
    assert spans and max(spans) <= 30 * 60
    assert int(forms[0]["start_updated_at"]) == int(start.timestamp())
    assert int(forms[-1]["end_updated_at"]) == int((start + timedelta(hours=2)).timestamp()) - 1
    with pytest.raises(FatalError, match="PDD error 50001"):
        client(sandbox).call(METHOD, business(start, start + timedelta(minutes=31)))
    with pytest.raises(FatalError, match="options"):
        make_source(sandbox, window_minutes=31)


def test_the_simulator_enforces_the_reference(sandbox):
    pdd = client(sandbox)
    start, _ = whole_world(sandbox)
    end = start + timedelta(minutes=30)
    assert "total_count" in pdd.call(METHOD, business(start, end))
    for bad, code in (
        (business(start, start), "50001"),
        (business(start, end, page_size=101), "10000"),
        (business(start, end, page=0), "10000"),
        (business(start, end, order_status=4), "10000"),
        ({k: v for k, v in business(start, end).items() if k != "refund_status"}, "10000"),
    ):
        with pytest.raises(FatalError, match=f"PDD error {code}"):
            pdd.call(METHOD, bad)
    with pytest.raises(FatalError, match="PDD error 10017"):
        pdd.call("pdd.order.list.get", business(start, end))
    with pytest.raises(CredentialError, match="OMNI_TEST_PDD_TOKEN"):
        client(sandbox, token="not-a-token").call(METHOD, business(start, end))
    bad_client = ShopConfig(
        "pinduoduo",
        SHOP,
        {"gateway_url": f"{sandbox.url}/pdd/api/router"},
        {"client_id": "nobody", "client_secret": PDD_CLIENT_SECRET, "access_token": marketplace_token(SHOP)},
        ENV,
    )
    with pytest.raises(CredentialError, match=r"10016.*OMNI_TEST_PDD_CLIENT_ID"):
        PinduoduoClient(bad_client, HttpClient("pinduoduo", SHOP)).call(METHOD, business(start, end))


def test_json_bodies_timestamps_and_error_envelopes(sandbox):
    start, _ = whole_world(sandbox)
    params = business(start, start + timedelta(minutes=30))
    ok = raw_post(sandbox, {**params, "use_has_next": True}, as_json=True).json()
    assert "has_next" in ok["order_sn_increment_get_response"], "a typed JSON body is accepted"
    now = int(time.time())
    for stale in (now - 11 * 60, now + 11 * 60):
        error = raw_post(sandbox, params, timestamp=stale).json()["error_response"]
        assert error["error_code"] == 10001
        assert set(error) == {"error_code", "error_msg", "sub_code", "sub_msg", "request_id"}
    assert "order_sn_increment_get_response" in raw_post(sandbox, params, timestamp=now - 9 * 60).json()
    form = {"type": METHOD, "client_id": PDD_CLIENT_ID, "access_token": marketplace_token(SHOP)}
    form |= {"timestamp": str(now), **{k: str(v) for k, v in params.items()}, "sign": "0" * 32}
    bad = requests.post(f"{sandbox.url}/pdd/api/router", data=form, timeout=10)
    assert bad.status_code == 200 and bad.json()["error_response"]["error_code"] == 20004


def test_use_has_next_replaces_the_total(make_sandbox):
    server = make_sandbox(**BUSY)
    pdd = client(server)
    total = pdd.call(METHOD, business(*BUSY_WINDOW, page_size=2))["total_count"]
    assert total >= 3
    seen = []
    for page in range(1, total + 1):
        body = pdd.call(METHOD, business(*BUSY_WINDOW, page=page, page_size=2, use_has_next=True))
        assert "total_count" not in body
        seen += [r["order_sn"] for r in body["order_sn_list"]]
        if not body["has_next"]:
            break
    assert page == -(-total // 2) and len(set(seen)) == total


def test_paging_edges(make_sandbox):
    check_paging_edges(make_sandbox(**BUSY), make_source, *BUSY_WINDOW)


def test_orders_modified_while_paging_are_never_skipped(make_sandbox):
    """Needs a 30-minute window with more than page_size + 1 orders (BUSY): with one order per page the
    order a forward pager skips is always the next one the fault moves, which proves nothing."""
    busy = make_sandbox(**BUSY)
    window = (
        BUSY_WINDOW[0] - timedelta(hours=2),
        BUSY_WINDOW[1] + timedelta(hours=1),
    )  # ends before the world

    def forward_paging(server, lo: datetime, hi: datetime) -> set[str]:
        """A naive client: pages 1, 2, ... of each 30-minute window, while orders change under it."""
        pdd, ids = client(server), set()
        for a, b in split_window(lo, hi, timedelta(minutes=30)):
            page, has_next = 1, True
            while has_next:
                body = pdd.call(
                    METHOD, business(a, b - timedelta(seconds=1), page=page, page_size=2, use_has_next=True)
                )
                ids |= {r["order_sn"] for r in body["order_sn_list"]}
                page, has_next = page + 1, body["has_next"]
        return ids

    check_modified_while_paging(
        busy, lambda **kw: make_sandbox(**BUSY, **kw), make_source, forward_paging, window, 2
    )


def test_bad_credentials_are_fatal_and_name_the_variable(sandbox):
    source = make_source(sandbox, secret="wrong")
    with pytest.raises(CredentialError, match=r"PDD error 20004.*OMNI_TEST_PDD_SECRET") as error:
        pull(source, *whole_world(sandbox))
    assert "wrong" not in str(error.value)
    assert source.stats.requests == 1, "not retried"
    expired = make_source(sandbox, token=marketplace_token(SHOP) + pdd_sim.EXPIRED_SUFFIX)
    with pytest.raises(CredentialError, match=r"PDD error 10019.*OMNI_TEST_PDD_TOKEN"):
        pull(expired, *whole_world(sandbox))
    assert expired.stats.requests == 1, "not retried"


@pytest.mark.parametrize("throttle", [pdd_sim.THROTTLED_API, pdd_sim.CALLS_TOO_OFTEN])
def test_throttling_is_retried_and_nothing_is_lost(make_sandbox, monkeypatch, throttle):
    monkeypatch.setattr(pdd_sim, "CALLS_PER_SECOND", 5.0)
    monkeypatch.setattr(pdd_sim, "THROTTLE_ERROR", throttle)
    server = make_sandbox(rate_limits=True, **BUSY)
    start = BUSY_WINDOW[0] - timedelta(hours=3)
    end = BUSY_WINDOW[1] + timedelta(hours=3)
    source = make_source(server, page_size=1)
    table = pull(source, start, end)
    assert source.stats.throttled >= 1, f"{source.stats.requests} calls at 5/s must hit {throttle[0]}"
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)) and set(ids) == final_versions_modified_in(server, SHOP, start, end)
    assert len(ids) >= 3


def test_never_asks_for_the_last_three_minutes(sandbox):
    now = utc_now()
    source = make_source(sandbox)
    forms = sent_forms(source)
    pull(source, now - timedelta(hours=1), now + timedelta(hours=1))
    assert forms and max(int(f["end_updated_at"]) for f in forms) <= int(
        (now - timedelta(minutes=3)).timestamp()
    )
    assert any("0:03:00" in note for note in source.stats.notes)
    settled = make_source(sandbox)
    pull(settled, now - timedelta(hours=2), now - timedelta(hours=1))
    assert settled.stats.notes == []


def test_pacing_at_the_documented_quota_avoids_throttling(make_sandbox):
    """96 windows (two days) in a burst overrun the simulator's 50 calls/s bucket; spaced at the
    documented 3,000 / 60 s, the same pull is never throttled."""
    server = make_sandbox(rate_limits=True)
    start = china_day_start(datetime(2026, 11, 10).date())
    end = start + timedelta(days=2)
    unpaced = make_source(server, calls_per_second=0)
    pull(unpaced, start, end)
    assert unpaced.stats.requests >= 96 and unpaced.stats.throttled >= 1
    time.sleep(1.5)  # let the bucket refill
    paced = make_source(server)
    landed = pull(paced, start, end)
    assert paced.stats.throttled == 0, paced.stats
    assert set(landed.column("record_id").to_pylist()) == final_versions_modified_in(server, SHOP, start, end)


def test_empty_and_repeated_pages_change_nothing(make_sandbox):
    check_empty_and_repeated_pages(make_sandbox(**BUSY), make_sandbox, make_source, 3, BUSY_WINDOW, **BUSY)


def test_a_gateway_clock_ahead_of_ours_is_adopted_and_nothing_changes(make_sandbox):
    check_gateway_clock_ahead(make_sandbox(**BUSY), make_sandbox, make_source, BUSY_WINDOW, **BUSY)
