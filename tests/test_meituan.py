"""Meituan O2O voucher connector (day-sequence pulls) against the Meituan simulator over real HTTP."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
import requests

from connectors.common.errors import CredentialError, FatalError
from connectors.common.http import HttpClient
from connectors.common.timeutil import china_date, china_day_start, china_days_window, utc_now
from connectors.config import ShopConfig
from connectors.meituan.client import MeituanClient
from connectors.meituan.signing import sign
from connectors.meituan.source import DAY_SEQ, DETAIL, ORDER_ID, MeituanSource
from connectors.sandbox import meituan_sim
from connectors.sandbox.catalog import MEITUAN_POI_CODES
from connectors.sandbox.credentials import MEITUAN_APP_ID, MEITUAN_APP_SECRET
from connectors.sandbox.truth import fen_to_cny, truth_orders, truth_redemptions
from tests.marketplace import check_gateway_clock_ahead, check_no_plain_pii, pull, records

SHOP = "meituan-o2o"
ENV = {"app_id": "OMNI_TEST_MEITUAN_APP_ID", "app_secret": "OMNI_TEST_MEITUAN_SECRET"}
REFUNDED = ("refunded", "expired")
AFTER_EXPIRY = timedelta(days=40)  # every voucher of the world redeemed, refunded or expired


def shop_config(
    server, secret: str = MEITUAN_APP_SECRET, app_id: str = MEITUAN_APP_ID, **options
) -> ShopConfig:
    return ShopConfig(
        "meituan",
        SHOP,
        {"base_url": f"{server.url}/meituan/api/v1", "app_poi_codes": MEITUAN_POI_CODES, **options},
        {"app_id": app_id, "app_secret": secret},
        ENV,
    )


def make_source(server, **options) -> MeituanSource:
    return MeituanSource(shop_config(server, **options), pii=None)  # type: ignore[arg-type]


def until_now(server) -> tuple[Any, Any]:
    """Every China day from the world's first to the platform's 'now'."""
    now = server.settings.now or server.world.as_of
    return china_days_window(server.world.start, china_date(now) - timedelta(days=1))


def raw_get(server, api: str, params: dict[str, Any], signed_url: str | None = None, **system: str) -> Any:
    """One hand-built call, signed over `signed_url` (default: the URL it is really sent to)."""
    url = f"{server.url}/meituan/api/v1/{api}"
    query = {
        **{k: str(v) for k, v in params.items()},
        "app_id": MEITUAN_APP_ID,
        "timestamp": str(int(utc_now().timestamp())),
        **system,
    }
    query["sig"] = sign(signed_url or url, query, MEITUAN_APP_SECRET)
    response = requests.get(url, params=query, timeout=10)
    assert response.status_code == 200, "errors too are HTTP 200"
    return response.json()


def error_code(answer: Any) -> int | None:
    if answer.get("data") == "ng":
        return int(answer["error"]["code"])
    return None


@pytest.fixture(params=[timedelta(0), AFTER_EXPIRY], ids=["world-end", "after-expiry"])
def any_now(request, sandbox, make_sandbox):
    return sandbox if not request.param else make_sandbox(now=sandbox.world.as_of + request.param)


def test_the_signature_covers_the_url_actually_used(sandbox):
    params = {"app_poi_code": "mt_poi_21001", "date_time": 20261111}
    assert raw_get(sandbox, "order/getOrderDaySeq", params)["data"]["day_seq"] > 0
    other_path = f"{sandbox.url}/meituan/api/v1/order/getOrderDetail"
    other_host = f"{sandbox.url.replace('127.0.0.1', 'localhost')}/meituan/api/v1/order/getOrderDaySeq"
    for wrong in (other_path, other_host):
        answer = raw_get(sandbox, "order/getOrderDaySeq", params, signed_url=wrong)
        assert answer == {"data": "ng", "error": {"code": 703, "msg": answer["error"]["msg"]}}
    stale = str(int((utc_now() - timedelta(minutes=11)).timestamp()))
    assert error_code(raw_get(sandbox, "order/getOrderDaySeq", params, timestamp=stale)) == 705
    assert error_code(raw_get(sandbox, "order/getOrderDaySeq", params, app_id="999")) == 701


def test_the_simulator_enforces_its_parameters(sandbox):
    day = {"app_poi_code": "mt_poi_21001", "date_time": 20261111}
    for api, bad, code in (
        ("order/getOrderDaySeq", {**day, "app_poi_code": "nope"}, 700),
        ("order/getOrderDaySeq", {**day, "date_time": 20261131}, 700),
        ("order/getOrderIdByDaySeq", {**day, "day_seq": "x"}, 700),
        ("order/getOrderIdByDaySeq", {**day, "day_seq": 999}, 808),
        ("order/getOrderDetail", {"order_id": "1"}, 808),
    ):
        assert error_code(raw_get(sandbox, api, bad)) == code, (api, bad)
    before = {**day, "date_time": 20200101}
    assert raw_get(sandbox, "order/getOrderDaySeq", before) == {"data": {"day_seq": 0}}, "no orders: 0"
    order_id = raw_get(sandbox, "order/getOrderIdByDaySeq", {**day, "day_seq": 1})["data"]["order_id"]
    detail = raw_get(sandbox, "order/getOrderDetail", {"order_id": order_id})["data"]
    assert (
        detail["order_id"] == order_id and detail["day_seq"] == 1 and detail["app_poi_code"] == "mt_poi_21001"
    )
    phone = detail["recipient_phone"]
    assert phone.startswith("170") and "_" in phone, "a virtual relay number (隐私号)"
    with pytest.raises(FatalError, match=r"\[meituan/meituan-o2o\] Meituan error 808"):
        MeituanClient(shop_config(sandbox), HttpClient("meituan", SHOP)).call(DETAIL, {"order_id": "1"})


def test_every_order_once_with_money_equal_to_the_truth(any_now):
    server = any_now
    now = server.settings.now or server.world.as_of
    table = pull(make_source(server), *until_now(server))
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)) and set(ids) == {o.order_id for o in server.world.orders_for(SHOP)}
    truth = truth_orders(server.world, as_of=now).set_index("order_id")
    for record in records(table):
        expected = truth.loc[record["order_id"]]
        coupons = record["coupons"]
        assert all(type(record[f]) is int for f in ("total", "original_price", "ctime", "utime"))
        refunded = sum(c["price"] for c in coupons if c["status"] in REFUNDED)
        if all(c["status"] in REFUNDED for c in coupons):
            status = "refunded"
        elif refunded:
            status = "partially_refunded"
        elif all(c["status"] == "redeemed" for c in coupons):
            status = "completed"
        else:
            status = "paid"
        assert fen_to_cny(record["total"]) == expected["gmv_cny"] == expected["paid_cny"]
        assert fen_to_cny(refunded) == expected["refunded_cny"]
        assert status == expected["status"], record
        assert record["store_id"] == expected["store_id"] and record["user_id"] == expected["account_id"]
        assert record["status"] == {"refunded": 9, "completed": 8}.get(status, record["status"])
    statuses = Counter(truth[truth["channel"] == "meituan"]["status"])
    if now > server.world.as_of:
        assert statuses["refunded"] and statuses["partially_refunded"] and statuses["completed"]
        assert any(c["status"] == "expired" for r in records(table) for c in r["coupons"])
    else:
        assert statuses["paid"], "vouchers still open at the world's end"


def test_redemptions_equal_the_truth(make_sandbox, sandbox):
    server = make_sandbox(now=sandbox.world.as_of + AFTER_EXPIRY)
    table = pull(make_source(server), *until_now(server))
    landed = pd.DataFrame(
        [
            {
                "voucher_code": c["code"],
                "order_id": r["order_id"],
                "purchase_store_id": r["store_id"],
                "redeemed_store_id": c["use_store_id"],
                "redeemed_date": china_date(pd.Timestamp(c["use_time"], unit="s", tz="UTC").to_pydatetime()),
                "amount_cny": fen_to_cny(c["price"]),
            }
            for r in records(table)
            for c in r["coupons"]
            if c["status"] == "redeemed"
        ]
    )
    truth = truth_redemptions(server.world, as_of=server.settings.now)
    key = list(truth.columns)
    assert landed["voucher_code"].is_unique
    assert sorted(map(tuple, landed[key].to_numpy().tolist())) == sorted(
        map(tuple, truth.to_numpy().tolist())
    )
    assert (truth["purchase_store_id"] != truth["redeemed_store_id"]).any(), "some vouchers change store"


def test_pulling_the_last_day_lands_an_order_created_ten_days_earlier(sandbox, make_sandbox):
    late = [
        (china_date(v.redeemed_at), o)
        for o in sandbox.world.orders_for(SHOP)
        for v in o.vouchers
        if v.redeemed_at and (china_date(v.redeemed_at) - china_date(o.created_at)).days >= 10
    ]
    assert late, "the world needs a voucher redeemed ten days after purchase"
    day, order = late[0]
    server = make_sandbox(now=china_day_start(day + timedelta(days=1)))  # that day is the platform's last
    start, end = china_days_window(day, day)
    source = make_source(server)
    table = pull(source, start, end)
    assert order.order_id in table.column("record_id").to_pylist()
    assert all(start <= t < end for t in table.column("modified_at").to_pylist()), "the Source contract"
    landed = next(r for r in records(table) if r["order_id"] == order.order_id)
    assert any(c["status"] == "redeemed" and c["use_store_id"] for c in landed["coupons"])
    details = source.stats.requests - 3 * 32  # a day-sequence call per store and day (31 back + this)
    assert details == 2 * sum(
        1
        for o in server.world.orders_for(SHOP)
        if day - timedelta(days=31) <= china_date(o.created_at) <= day
    ), "each order's id and detail fetched once"
    short = pull(make_source(server, lookback_days=5), start, end)
    assert order.order_id not in short.column("record_id").to_pylist(), "without the lookback it is lost"


def test_each_order_detail_is_fetched_once_per_pull(sandbox):
    source = make_source(sandbox)
    asked: Counter[str] = Counter()
    source.http.session.hooks["response"].append(
        lambda response, *a, **k: asked.update(
            [response.request.path_url.split("?")[0].rsplit("/", 2)[-2:][1]]
        )
    )
    table = pull(source, *until_now(sandbox))
    orders = len(sandbox.world.orders_for(SHOP))
    days = (sandbox.world.end - sandbox.world.start).days + 1 + 31
    assert asked == {
        DAY_SEQ.split("/")[1]: 3 * days,
        ORDER_ID.split("/")[1]: orders,
        DETAIL.split("/")[1]: orders,
    }
    assert table.num_rows == orders


def test_bad_credentials_are_fatal_and_name_the_variable(sandbox):
    source = make_source(sandbox, secret="not-the-secret-4711")
    with pytest.raises(
        CredentialError, match=r"\[meituan/meituan-o2o\] Meituan error 703.*OMNI_TEST_MEITUAN_SECRET"
    ) as error:
        pull(source, *until_now(sandbox))
    assert "not-the-secret-4711" not in str(error.value) and source.stats.requests == 1, "not retried"
    source = make_source(sandbox, app_id="999")
    with pytest.raises(CredentialError, match=r"701.*OMNI_TEST_MEITUAN_APP_ID"):
        pull(source, *until_now(sandbox))
    assert source.stats.requests == 1
    with pytest.raises(FatalError, match="app_poi_codes"):
        make_source(sandbox, app_poi_codes={})


def test_throttling_is_retried_and_nothing_is_lost(sandbox, make_sandbox, monkeypatch):
    monkeypatch.setattr(meituan_sim, "CALLS_PER_SECOND", 8.0)
    server = make_sandbox(rate_limits=True)
    start, _ = until_now(server)
    window = (start, start + timedelta(days=3))
    source = make_source(server, lookback_days=1)
    table = pull(source, *window)
    assert source.stats.throttled >= 1, "more than 8 calls at once must be throttled"
    expected = pull(make_source(sandbox, lookback_days=1), *window)
    assert table.num_rows > 0 and sorted(table.column("record_id").to_pylist()) == sorted(
        expected.column("record_id").to_pylist()
    )


def test_no_plain_pii_and_the_virtual_number_is_dropped(sandbox):
    table = pull(make_source(sandbox), *until_now(sandbox))
    check_no_plain_pii(sandbox, table)
    for record in records(table):
        assert "recipient_phone" not in record and record["user_id"].startswith("me_")


def test_a_gateway_clock_ahead_of_ours_is_adopted_and_nothing_changes(sandbox, make_sandbox):
    check_gateway_clock_ahead(sandbox, make_sandbox, make_source)
