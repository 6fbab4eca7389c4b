"""Youzan 有赞 (mini-program store) connector against the Youzan simulator over real HTTP."""

from __future__ import annotations

import functools
import json
import re
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import requests

from connectors.common.errors import CredentialError, FatalError
from connectors.common.http import HttpClient
from connectors.common.timeutil import china_date, china_days_window, format_cst
from connectors.config import ShopConfig
from connectors.sandbox import youzan_sim
from connectors.sandbox.credentials import YOUZAN_CLIENT_ID, YOUZAN_CLIENT_SECRET, YOUZAN_KDT_ID
from connectors.sandbox.server import SandboxSettings
from connectors.sandbox.truth import truth_orders
from connectors.youzan.client import YouzanClient
from connectors.youzan.source import APIS, YouzanSource
from tests.conftest import TEST_WORLD
from tests.marketplace import (
    check_empty_and_repeated_pages,
    check_every_order_once,
    check_modified_while_paging,
    check_no_plain_pii,
    final_versions_modified_in,
    pull,
    records,
    whole_world,
)

SHOP = "youzan-mini"
ENV = {"client_id": "OMNI_TEST_YOUZAN_CLIENT_ID", "client_secret": "OMNI_TEST_YOUZAN_SECRET"}
TRADES = APIS["orders"].method
LIST = APIS["orders"].list_key
LIFECYCLES = {"created", "paid", "shipped", "completed", "cancelled", "refunded", "partially_refunded"}
CIPHERTEXT = re.compile(r"^\$[A-Za-z0-9+/=]+\$1\$$")


def shop_config(
    server, secret: str = YOUZAN_CLIENT_SECRET, kdt_id: str = YOUZAN_KDT_ID, **options
) -> ShopConfig:
    return ShopConfig(
        "mini_program",
        SHOP,
        {"base_url": f"{server.url}/youzan", "kdt_id": kdt_id, **options},
        {"client_id": YOUZAN_CLIENT_ID, "client_secret": secret},
        ENV,
    )


def make_source(server, pii=None, **options) -> YouzanSource:
    return YouzanSource(shop_config(server, **options), pii=pii)


def simulator(server) -> youzan_sim.YouzanSimulator:
    return next(s for s in server.simulators if isinstance(s, youzan_sim.YouzanSimulator))


def api_calls(source: YouzanSource) -> list[str]:
    """The list-API calls a source makes (token fetches aside), seen on the wire by a response hook."""
    calls: list[str] = []
    source.http.session.hooks["response"].append(
        lambda response, *args, **kwargs: calls.append(response.url) if "/api/" in response.url else None
    )
    return calls


def raw(server, api: str, token: str | None, method: str = "POST", **params: Any) -> dict[str, Any]:
    url = f"{server.url}/youzan/api/{api}"
    query = {"access_token": token} if token else {}
    if method == "GET":
        response = requests.get(url, params={**query, **params}, timeout=10)
    else:
        response = requests.post(url, params=query, json=params, timeout=10)
    assert response.status_code == 200, "errors too are HTTP 200"
    answer: dict[str, Any] = response.json()
    return answer


def token(server) -> str:
    client = YouzanClient(shop_config(server), HttpClient("mini_program", SHOP))
    client.fetch_token()
    assert client.access_token
    return client.access_token


@functools.cache
def busy_world() -> dict[str, Any]:
    """A larger, longer world than the shared one (which has no partial refund and rarely an
    unpaid order): the first seed whose mini-program store shows every lifecycle by its end.
    Searched, not fixed, so it survives changes to how worlds are made."""
    for seed in range(11, 61):
        overrides = {"seed": seed, "people": 2000, "end": date(2026, 11, 25)}
        world = SandboxSettings(**{**TEST_WORLD.__dict__, **overrides}).world()
        if set(truth_orders(world).query("shop_id == @SHOP")["status"]) == LIFECYCLES:
            return overrides
    raise AssertionError("no world with every lifecycle: widen the search")


def busiest_day(server) -> tuple[datetime, datetime]:
    """The China day (not the world's last) on which most orders were last modified."""
    as_of = server.world.as_of
    days = Counter(china_date(o.state(as_of).modified_at) for o in server.world.orders_for(SHOP))
    day = max((d for d in days if d < server.world.end), key=lambda d: (days[d], d))
    return china_days_window(day, day)


@pytest.fixture(params=["test-world", "busy-world"])
def any_world(request, sandbox, make_sandbox):
    return sandbox if request.param == "test-world" else make_sandbox(**busy_world())


def test_orders_equal_the_truth_with_exact_money(any_world):
    server = any_world
    table = check_every_order_once(server, make_source, SHOP)
    truth = truth_orders(server.world).set_index("order_id")
    for record in records(table):
        info, pay, lines = record["order_info"], record["pay_info"], record["orders"]
        expected = truth.loc[info["tid"]]
        assert all(re.fullmatch(r"\d+\.\d\d", pay[k]) for k in ("payment", "total_fee", "post_fee")), pay
        gmv = Decimal(pay["payment"])  # no platform-funded discount on the brand's own store
        assert gmv == Decimal(pay["total_fee"]) - Decimal(pay["discount_fee"]) + Decimal(pay["post_fee"])
        assert gmv == sum(Decimal(line["payment"]) for line in lines) + Decimal(pay["post_fee"])
        paid = gmv if info["pay_time"] else 0
        refunded_lines = [line for line in lines if line["refund_state"] == 2]
        if info["refund_state"] == 2 or (info["status"] == "TRADE_CLOSED" and info["pay_time"]):
            refunded, status = gmv, "refunded"
        elif info["refund_state"] == 1:
            refunded, status = sum(Decimal(line["payment"]) for line in refunded_lines), "partially_refunded"
        else:
            refunded, status = (
                0,
                {
                    "WAIT_BUYER_PAY": "created",
                    "WAIT_SELLER_SEND_GOODS": "paid",
                    "WAIT_BUYER_CONFIRM_GOODS": "shipped",
                    "TRADE_SUCCESS": "completed",
                    "TRADE_CLOSED": "cancelled",
                }[info["status"]],
            )
        assert (gmv, paid, refunded, status) == (
            expected["gmv_cny"],
            expected["paid_cny"],
            expected["refunded_cny"],
            expected["status"],
        ), info["tid"]
        assert expected["platform_discount_cny"] == 0
        assert record["buyer_info"]["yz_open_id"] == expected["account_id"]
    if server.world.seed == busy_world()["seed"] and server.world.people == busy_world()["people"]:
        assert set(truth[truth["shop_id"] == SHOP]["status"]) == LIFECYCLES


def test_token_is_fetched_once_and_refreshed_once_after_expiry(make_sandbox, monkeypatch):
    monkeypatch.setattr(youzan_sim, "TOKEN_TTL", 1.0)
    server = make_sandbox()
    sim = simulator(server)
    pages = make_source(server).pull("orders", *whole_world(server))
    first = next(pages)
    assert sim.issued == 1, "one token for the pull so far"
    time.sleep(1.2)  # the token expires mid-pull
    rest = list(pages)
    assert sim.issued == 2, "one fresh token after the expiry, then no more"
    ids = [i for page in (first, *rest) for i in page.column("record_id").to_pylist()]
    assert sorted(ids) == sorted(o.order_id for o in server.world.orders_for(SHOP)), "nothing lost"


def test_a_fresh_token_rejected_too_fails_without_looping(make_sandbox, monkeypatch):
    monkeypatch.setattr(youzan_sim, "TOKEN_TTL", -1.0)  # every token is dead on arrival
    server = make_sandbox()
    source = make_source(server)
    with pytest.raises(FatalError, match=r"\[mini_program/youzan-mini\] Youzan error 4203"):
        pull(source, *whole_world(server))
    assert simulator(server).issued == 2 and source.stats.requests == 4, "token, call, token, call"


def test_bad_credentials_are_fatal_and_name_the_variable(sandbox):
    source = make_source(sandbox, secret="wrong")
    with pytest.raises(CredentialError, match="OMNI_TEST_YOUZAN_SECRET"):
        pull(source, *whole_world(sandbox))
    assert source.stats.requests == 1, "not retried"
    with pytest.raises(FatalError, match=r"\[mini_program/youzan-mini\] Youzan error 40011") as caught:
        pull(make_source(sandbox, kdt_id="1"), *whole_world(sandbox))
    assert not isinstance(caught.value, CredentialError), "kdt_id is an option, not a credential"


def test_a_long_range_is_split_into_one_day_windows(sandbox):
    start, end = whole_world(sandbox)
    source = make_source(sandbox)
    calls = api_calls(source)
    table = pull(source, start - timedelta(days=3), end)
    assert len(calls) == 13, "13 China days, one call each (each fits in one page)"
    assert table.num_rows == len(sandbox.world.orders_for(SHOP))
    answer = raw(
        sandbox,
        TRADES,
        token(sandbox),
        start_update=format_cst(start),
        end_update=format_cst(start + timedelta(days=1, seconds=1)),
    )
    assert answer["success"] is False and answer["code"] == youzan_sim.PARAMETER_INVALID


def test_paging_edges(make_sandbox):
    """One day: a total filling one page costs one call; a short last page costs page 1 (for the
    total), pages n..2, then page 1 again; an empty day one call."""
    server = make_sandbox(**busy_world())
    start, end = busiest_day(server)
    total = pull(make_source(server), start, end).num_rows
    assert total >= 3, "pick a busier day"

    def landed_and_calls(page_size: int, lo=start, hi=end) -> tuple[int, list[int]]:
        """Rows landed and the page numbers asked for, in order (token fetches aside)."""
        source = make_source(server, page_size=page_size)
        asked: list[int] = []
        source.http.session.hooks["response"].append(
            lambda r, *a, **k: (
                asked.append(json.loads(r.request.body)["page_no"]) if "/api/" in r.url else None
            )
        )
        return pull(source, lo, hi).num_rows, asked

    assert landed_and_calls(total) == (total, [1])
    pages = -(-total // (total - 1))
    assert landed_and_calls(total - 1) == (total, [1, *range(pages, 1, -1), 1])
    before = start - timedelta(days=40)
    assert landed_and_calls(10, before, before + timedelta(days=1)) == (0, [1])


def test_orders_modified_while_paging_are_never_skipped(make_sandbox):
    def busy(**overrides: Any):
        return make_sandbox(**{**busy_world(), **overrides})

    server = busy()
    window = busiest_day(server)  # not the last day: a modified order's new time is outside
    check_modified_while_paging(server, busy, make_source, None, window, 2)


def test_throttling_is_retried_and_nothing_is_lost(make_sandbox, monkeypatch):
    monkeypatch.setattr(youzan_sim, "CALLS_PER_SECOND", 4.0)
    server = make_sandbox(rate_limits=True)
    start, end = whole_world(server)
    source = make_source(server, page_size=1)
    table = pull(source, start, end)
    assert source.stats.throttled >= 1
    ids = table.column("record_id").to_pylist()
    assert sorted(ids) == sorted(final_versions_modified_in(server, SHOP, start, end))


def test_ciphertexts_on_the_wire_none_landed(sandbox):
    start, end = whole_world(sandbox)
    day, _ = busiest_day(sandbox)
    answer = raw(
        sandbox,
        TRADES,
        token(sandbox),
        method="GET",
        start_update=format_cst(day),
        end_update=format_cst(day + timedelta(days=1) - timedelta(seconds=1)),
        page_no=1,
        page_size=100,
    )
    assert answer["success"] is True and answer["code"] == 200
    orders = [o["full_order_info"] for o in answer["data"]["full_order_info_list"]]
    assert len(orders) == answer["data"]["total_results"] >= 3, "GET with query parameters works too"
    updated = [o["order_info"]["update_time"] for o in orders]
    assert updated == sorted(updated, reverse=True), "newest-updated first"
    for order in orders:
        wire = [order["buyer_info"][k] for k in ("fans_nickname", "buyer_phone")]
        wire += [order["address_info"][k] for k in ("receiver_name", "receiver_tel", "delivery_address")]
        assert all(CIPHERTEXT.match(value) for value in wire), wire
    table = pull(make_source(sandbox), start, end)
    check_no_plain_pii(sandbox, table)
    blob = "\n".join(table.column("record").to_pylist())
    assert "$1$" not in blob, "no ciphertext landed"
    landed = records(table)
    assert all(r["buyer_info"]["yz_open_id"] and r["buyer_info"]["outer_user_id"] for r in landed)
    assert any(r["buyer_info"]["union_id"] for r in landed), "union ids kept for identity resolution"


def test_members_land_once_with_hashed_phones(any_world, pii):
    server = any_world
    accounts = {a.account_id: a for a in server.world.accounts_for("mini_program")}
    source = make_source(server, pii=pii)
    pages = list(source.pull("customers", *whole_world(server)))
    table = pa.concat_tables(pages)
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)) and set(ids) == set(accounts), "every mini_program account once"
    check_no_plain_pii(server, table)
    members = records(table)
    for member in members:
        person = server.world.people_by_id[accounts[member["yz_open_id"]].person_id]
        assert "mobile" not in member
        assert member["mobile_hash"] == pii.phone(person.phone)
        assert member["mobile_masked"] == f"{person.phone[:3]}****{person.phone[-4:]}"
        assert member["card_no"] == youzan_sim.card_no(person.person_id)
        assert member["union_id"] == (youzan_sim.union_id(person.person_id) or "")
    with_union = sum(bool(m["union_id"]) for m in members)
    assert 0 < with_union < len(members), "most, not all, members have a union id"
    answer = raw(
        server, APIS["customers"].method, token(server), page_size=101, start_update="", end_update=""
    )
    assert answer == {"success": False, "code": youzan_sim.PARAMETER_INVALID, "message": answer["message"]}


def test_error_envelopes_are_clear_errors_naming_channel_and_shop(sandbox, make_sandbox):
    start, _ = whole_world(sandbox)
    window = {"start_update": format_cst(start), "end_update": format_cst(start + timedelta(hours=1))}
    bad = raw(sandbox, TRADES, "not-a-token", **window)
    assert bad == {"success": False, "code": 4201, "message": bad["message"]} and bad["message"]
    assert raw(sandbox, TRADES, None, **window)["code"] == 4201, "no token, no data"
    client = YouzanClient(shop_config(sandbox), HttpClient("mini_program", SHOP))
    with pytest.raises(FatalError, match=r"^\[mini_program/youzan-mini\] Youzan error 141502 参数错误"):
        client.call(TRADES, {**window, "page_size": 101})
    busy = make_sandbox(**busy_world())
    client = YouzanClient(shop_config(busy), HttpClient("mini_program", SHOP))
    day = busiest_day(busy)
    window = {"start_update": format_cst(day[0]), "end_update": format_cst(day[1] - timedelta(seconds=1))}
    every = Counter(o["full_order_info"]["order_info"]["status"] for o in client.call(TRADES, window)[LIST])
    assert len(every) >= 2, "a day with orders in several states"
    for status, count in every.items():
        chosen = client.call(TRADES, {**window, "status": status})[LIST]
        assert [o["full_order_info"]["order_info"]["status"] for o in chosen] == [status] * count


def test_empty_and_repeated_pages_change_nothing(sandbox, make_sandbox):
    check_empty_and_repeated_pages(sandbox, make_sandbox, make_source, 3)
