"""Shopify connector against the Shopify simulator over real HTTP on loopback."""

from __future__ import annotations

import base64
import itertools
import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
import requests

from connectors.common.errors import CredentialError
from connectors.common.timeutil import china_date, china_days_window, utc_now
from connectors.config import ShopConfig
from connectors.sandbox.credentials import shopify_token
from connectors.sandbox.faults import TRANSPORT_FAULT_RATES
from connectors.sandbox.truth import truth_accounts, truth_orders
from connectors.shopify.source import ShopifySource

SHOP_TZ = {"shopify-intl": ZoneInfo("America/Los_Angeles"), "shopify-eu": ZoneInfo("Europe/Berlin")}


def shop_config(server, shop_id: str, token: str | None = None, **options) -> ShopConfig:
    return ShopConfig(
        "shopify",
        shop_id,
        {"base_url": f"{server.url}/shopify/{shop_id}", **options},
        {"access_token": token or shopify_token(shop_id)},
        {"access_token": "OMNI_SHOPIFY_TEST_TOKEN"},
    )


def pull_all(source: ShopifySource, entity: str, start: datetime, end: datetime) -> pa.Table:
    pages = list(source.pull(entity, start, end))
    return pa.concat_tables(pages) if pages else pa.table({"record_id": pa.array([], pa.string())})


def string_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for item in value for s in string_values(item)]
    return []


def whole_world(server) -> tuple[datetime, datetime]:
    return china_days_window(server.world.start, server.world.end)


@pytest.mark.parametrize("shop_id", ["shopify-intl", "shopify-eu"])
def test_orders_equal_the_truth(sandbox, pii, shop_id):
    table = pull_all(ShopifySource(shop_config(sandbox, shop_id), pii), "orders", *whole_world(sandbox))
    truth = truth_orders(sandbox.world)
    truth = truth[truth["shop_id"] == shop_id].set_index("order_id")
    ids = table.column("record_id").to_pylist()
    assert sorted(ids) == sorted(truth.index), "every order exactly once"
    for record in map(json.loads, table.column("record").to_pylist()):
        expected = truth.loc[str(record["id"])]
        assert record["currency"] == "CNY"
        assert Decimal(record["total_price"]) == expected["gmv_cny"]
        assert Decimal(record["total_price_set"]["shop_money"]["amount"]) == expected["gmv_cny"]
        created = datetime.fromisoformat(record["created_at"])
        assert created.utcoffset() == created.astimezone(SHOP_TZ[shop_id]).utcoffset(), "shop's own offset"
        assert china_date(created) == expected["created_date"]
        refunded = sum(Decimal(t["amount"]) for r in record["refunds"] for t in r["transactions"])
        assert refunded == expected["refunded_cny"]
        paid = record["financial_status"] in ("paid", "partially_refunded", "refunded")
        assert (expected["gmv_cny"] if paid else 0) == expected["paid_cny"]


@pytest.mark.parametrize("shop_id", ["shopify-intl", "shopify-eu"])
def test_customers_equal_the_truth(sandbox, pii, shop_id):
    table = pull_all(ShopifySource(shop_config(sandbox, shop_id), pii), "customers", *whole_world(sandbox))
    accounts = truth_accounts(sandbox.world)
    accounts = accounts[(accounts["channel"] == "shopify") & (accounts["shop_id"] == shop_id)]
    assert sorted(table.column("record_id").to_pylist()) == sorted(accounts["account_id"])
    orders = truth_orders(sandbox.world)
    orders = orders[orders["shop_id"] == shop_id]
    people = sandbox.world.people_by_id
    for record in map(json.loads, table.column("record").to_pylist()):
        own = orders[orders["account_id"] == str(record["id"])]
        assert record["orders_count"] == len(own)
        assert Decimal(record["total_spent"]) == sum(own["paid_cny"] - own["refunded_cny"], Decimal(0))
        # the whole name, family name first, hashed as the other platforms' names are (for identity)
        person = people[accounts.loc[accounts["account_id"] == str(record["id"]), "person_id"].item()]
        assert record["name_hash"] == pii.text(person.name, "name")


def test_timestamps_keep_the_shop_offset_and_land_in_utc(sandbox, pii):
    table = pull_all(
        ShopifySource(shop_config(sandbox, "shopify-intl"), pii), "orders", *whole_world(sandbox)
    )
    record = json.loads(table.column("record")[0].as_py())
    assert record["updated_at"].endswith(("-08:00", "-07:00")), "America/Los_Angeles offset"
    landed = table.column("modified_at")[0].as_py()
    assert landed == datetime.fromisoformat(record["updated_at"]).astimezone(UTC)


def test_paging_edge_cases(sandbox, pii):
    start, end = whole_world(sandbox)
    total = len(pull_all(ShopifySource(shop_config(sandbox, "shopify-intl"), pii), "orders", start, end))
    assert total > 3

    def requests_for(page_size: int, lo: datetime = start, hi: datetime = end) -> tuple[int, int]:
        source = ShopifySource(shop_config(sandbox, "shopify-intl", page_size=page_size), pii)
        rows = len(pull_all(source, "orders", lo, hi))
        return rows, source.stats.requests

    assert requests_for(total) == (total, 1), "exactly one full page: no Link header, one request"
    assert requests_for(total - 1) == (total, 2), "last page short"
    assert requests_for(2) == (total, (total + 1) // 2), "many pages"
    empty = china_days_window(datetime(2020, 1, 1).date(), datetime(2020, 1, 2).date())
    assert requests_for(50, *empty) == (0, 1), "empty window"


def test_the_link_cursor_is_followed_verbatim(sandbox, pii):
    source = ShopifySource(shop_config(sandbox, "shopify-intl", page_size=2), pii)
    exchanges: list[tuple[str, str | None]] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        exchanges.append((response.url, response.links.get("next", {}).get("url")))

    source.client.http.session.hooks["response"].append(record)
    pull_all(source, "orders", *whole_world(sandbox))
    assert len(exchanges) > 2
    for (_, next_url), (url, _) in itertools.pairwise(exchanges):
        assert url == next_url
    assert exchanges[-1][1] is None, "the last page has no rel=next"


def test_the_simulator_enforces_shopify_rules(sandbox):
    base = f"{sandbox.url}/shopify/shopify-intl/admin/api/2024-10/orders.json"
    headers = {"X-Shopify-Access-Token": shopify_token("shopify-intl")}
    assert requests.get(base, params={"limit": 251}, headers=headers, timeout=10).status_code == 400
    unauthorised = requests.get(base, headers={"X-Shopify-Access-Token": "nope"}, timeout=10)
    assert unauthorised.status_code == 401 and "Invalid API key" in unauthorised.json()["errors"]
    first = requests.get(base, params={"limit": 1, "status": "any"}, headers=headers, timeout=10)
    next_url = first.links["next"]["url"]
    assert next_url.startswith(sandbox.url), "Link carries an absolute URL"
    mixed = requests.get(next_url, params={"status": "any"}, headers=headers, timeout=10)
    assert mixed.status_code == 400, "filters may not accompany page_info"
    default_open = requests.get(base, params={"limit": 250}, headers=headers, timeout=10).json()["orders"]
    assert all(o["closed_at"] is None and o["cancelled_at"] is None for o in default_open)
    unknown = requests.get(base.replace("shopify-intl", "no-such-shop"), headers=headers, timeout=10)
    assert unknown.status_code == 404 and unknown.json() == {"errors": "Not Found"}


def test_the_simulator_pages_both_ways_and_rejects_foreign_cursors(sandbox):
    base = f"{sandbox.url}/shopify/shopify-intl/admin/api/2024-10/orders.json"
    headers = {"X-Shopify-Access-Token": shopify_token("shopify-intl")}

    def get(url: str, **params: Any) -> requests.Response:
        return requests.get(url, params=params or None, headers=headers, timeout=10)

    pages = [get(base, limit=3, status="any")]
    assert "previous" not in pages[0].links
    for _ in range(2):
        pages.append(get(pages[-1].links["next"]["url"]))
    ids = [[o["id"] for o in page.json()["orders"]] for page in pages]
    back = get(pages[2].links["previous"]["url"])
    assert [o["id"] for o in back.json()["orders"]] == ids[1]
    first = get(back.links["previous"]["url"])
    assert [o["id"] for o in first.json()["orders"]] == ids[0] and "previous" not in first.links

    forged = base64.urlsafe_b64encode(json.dumps({"filters": [], "last": 5}).encode()).decode()
    for cursor in ("not-a-cursor", forged, ""):
        rejected = get(base, page_info=cursor)
        assert rejected.status_code == 400 and "page_info" in rejected.json()["errors"]


def test_a_rejected_token_names_the_environment_variable(sandbox, pii):
    source = ShopifySource(shop_config(sandbox, "shopify-intl", token="shpat_wrong"), pii)
    with pytest.raises(CredentialError, match="OMNI_SHOPIFY_TEST_TOKEN") as error:
        list(source.pull("orders", *whole_world(sandbox)))
    assert "shpat_wrong" not in str(error.value)
    assert source.stats.requests == 1, "a bad credential is not retried"


def test_throttled_pulls_wait_and_still_land_everything(make_sandbox, pii):
    server = make_sandbox(rate_limits=True)
    shop = "shopify-intl"
    base = f"{server.url}/shopify/{shop}/admin/api/2024-10/orders.json"
    burst: list[requests.Response] = []
    while len(burst) < 80 and (not burst or burst[-1].status_code != 429):
        # someone else (another app) fills the shop's bucket; it leaks 2 calls a second meanwhile,
        # so a slow machine needs a few more than 41 calls to overflow it
        burst.append(requests.get(base, headers={"X-Shopify-Access-Token": shopify_token(shop)}, timeout=10))
    assert burst[0].headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    overflow = burst[-1]
    assert overflow.status_code == 429 and overflow.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
    assert [r.status_code for r in burst[:40]] == [200] * 40, "a call refused before the bucket was full"
    assert float(overflow.headers["Retry-After"]) > 0
    assert overflow.json()["errors"].startswith("Exceeded 2 calls per second for api client")
    source = ShopifySource(shop_config(server, shop, page_size=5), pii)
    table = pull_all(source, "orders", *whole_world(server))
    truth = truth_orders(server.world)
    assert sorted(table.column("record_id").to_pylist()) == sorted(
        truth[truth["shop_id"] == shop]["order_id"]
    )
    assert source.stats.throttled >= 1, "the full bucket must have answered 429 at least once"


def test_customers_arrive_without_plain_pii(sandbox, pii):
    start, end = whole_world(sandbox)
    world = sandbox.world
    texts = []
    for shop_id in ("shopify-intl", "shopify-eu"):
        for entity in ("orders", "customers"):
            table = pull_all(ShopifySource(shop_config(sandbox, shop_id), pii), entity, start, end)
            texts += table.column("record").to_pylist()
            if entity == "customers":
                accounts = {a.account_id for a in world.accounts_for("shopify", shop_id)}
                assert set(table.column("record_id").to_pylist()) <= accounts
                assert table.num_rows > 0
    blob = "\n".join(texts)
    people = world.people_by_id.values()
    for person in people:
        for secret in (person.phone, person.email, person.address, person.name):
            if secret:
                assert secret not in blob
    # Given and family names alone are one or two characters: look for them as whole values.
    name_parts = {part for p in people for part in (p.name, p.name[1:], p.name[:1])}
    assert not name_parts & set(string_values([json.loads(t) for t in texts]))
    customer = json.loads(next(t for t in texts if '"orders_count"' in t))
    assert customer["phone_hash"] and customer["phone_masked"].count("*") == 4


def test_a_window_beyond_60_days_is_flagged(sandbox, pii):
    source = ShopifySource(shop_config(sandbox, "shopify-intl"), pii)
    old = china_days_window(datetime(2026, 1, 1).date(), datetime(2026, 1, 2).date())
    assert pull_all(source, "orders", *old).num_rows == 0
    assert any("read_all_orders" in note for note in source.stats.notes)
    recent = ShopifySource(shop_config(sandbox, "shopify-intl"), pii)
    yesterday = china_date(utc_now()) - timedelta(days=1)
    pull_all(recent, "orders", *china_days_window(yesterday, yesterday))
    assert recent.stats.notes == []


@pytest.mark.parametrize("entity", ["orders", "customers"])
def test_pages_worked_in_other_processes_land_what_one_process_lands(sandbox, pii, entity):
    window = whole_world(sandbox)
    here = ShopifySource(shop_config(sandbox, "shopify-intl", page_size=1, page_workers=0), pii)
    elsewhere = ShopifySource(
        shop_config(sandbox, "shopify-intl", page_size=1, page_workers=2, inline_pages=1), pii
    )
    pages = elsewhere.pull(entity, *window)
    first = [next(pages), next(pages), next(pages)]
    assert len(multiprocessing.active_children()) == 2, "pages past the first are worked elsewhere"
    worked = pa.concat_tables(first + list(pages))
    assert not multiprocessing.active_children()
    landed = pull_all(here, entity, *window)
    assert elsewhere.stats.pages == here.stats.pages >= 8
    assert worked.drop_columns("extracted_at").equals(landed.drop_columns("extracted_at"))


def test_a_page_cut_short_is_fetched_again(make_sandbox, pii, monkeypatch):
    monkeypatch.setitem(TRANSPORT_FAULT_RATES, "truncated_json", 0.3)  # the sandbox runs in this process
    server = make_sandbox(faults=frozenset({"truncated_json"}))
    source = ShopifySource(shop_config(server, "shopify-intl", page_size=1, inline_pages=2), pii)
    table = pull_all(source, "orders", *whole_world(server))
    assert server.injected_faults()["truncated_json"] >= 1
    assert source.stats.retries >= server.injected_faults()["truncated_json"]
    truth = truth_orders(server.world)
    assert sorted(table.column("record_id").to_pylist()) == sorted(
        truth[truth["shop_id"] == "shopify-intl"]["order_id"]
    )


def test_an_answer_that_is_not_the_page_does_not_end_the_paging(sandbox, pii):
    """A proxy's or gateway's page served with 200 mid-pull has no Link header either: the pull must
    not take it for the last page (it is asked for again), and must land every order."""
    source = ShopifySource(shop_config(sandbox, "shopify-intl", page_size=1, inline_pages=1), pii)
    answers = itertools.count(1)

    def proxy_once(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if next(answers) == 3:
            response._content = b"<html><body>504 Gateway Time-out</body></html>"
            del response.headers["Link"]

    source.client.http.session.hooks["response"].append(proxy_once)
    table = pull_all(source, "orders", *whole_world(sandbox))
    truth = truth_orders(sandbox.world)
    assert sorted(table.column("record_id").to_pylist()) == sorted(
        truth[truth["shop_id"] == "shopify-intl"]["order_id"]
    )
    assert source.stats.retries == 1
