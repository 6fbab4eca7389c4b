"""Douyin shop (抖店 order.searchList) connector against the Douyin simulator over real HTTP."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from datetime import timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import requests

from connectors.common.errors import ConfigError, CredentialError, FatalError
from connectors.common.http import HttpClient
from connectors.common.pii import PiiHasher
from connectors.common.pii import ReceiverPhone as Receiver
from connectors.common.timeutil import format_cst, utc_now
from connectors.config import ShopConfig
from connectors.douyin import source as douyin_source
from connectors.douyin.client import DouyinClient
from connectors.douyin.signing import canonical_param_json, sign
from connectors.douyin.source import DECRYPT_METHOD, MAX_DECRYPT_BATCH, METHOD, DouyinSource
from connectors.sandbox import douyin_sim
from connectors.sandbox.credentials import DOUYIN_APP_KEY, DOUYIN_APP_SECRET, marketplace_token
from connectors.sandbox.generate import cached_world
from connectors.sandbox.truth import truth_orders
from tests.conftest import TEST_PII_KEY, TEST_WORLD
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
from warehouse.models import TRANSFORMS_DIR, parse_model, prepare_connection, run_model

SHOP = "douyin-shop"
ENV = {
    "app_key": "OMNI_TEST_DOUYIN_KEY",
    "app_secret": "OMNI_TEST_DOUYIN_SECRET",
    "access_token": "OMNI_TEST_DOUYIN_TOKEN",
}


def _refund_seed() -> int:
    """The first seed after the test world's whose Douyin shop has a full and a partial refund by
    the world's end (found, not fixed: any change to the world's generation moves them)."""
    for seed in range(TEST_WORLD.seed + 1, TEST_WORLD.seed + 60):
        world = cached_world(seed, TEST_WORLD.people, TEST_WORLD.start, TEST_WORLD.end)
        statuses = {s.status for o in world.orders_for(SHOP) if (s := o.state(world.as_of))}
        if {"refunded", "partially_refunded", "cancelled", "shipped", "completed"} <= statuses:
            return seed
    raise AssertionError("no seed gives a Douyin shop with both kinds of refund")


REFUND_SEED = _refund_seed()
MONEY_FIELDS = (
    "order_amount",
    "post_amount",
    "promotion_amount",
    "promotion_shop_amount",
    "promotion_platform_amount",
    "pay_amount",
)
LINE_MONEY_FIELDS = ("origin_amount", "promotion_shop_amount", "pay_amount")


def shop_config(
    server,
    secret: str = DOUYIN_APP_SECRET,
    token: str | None = None,
    app_key: str = DOUYIN_APP_KEY,
    **options,
) -> ShopConfig:
    return ShopConfig(
        "douyin",
        SHOP,
        {"base_url": f"{server.url}/douyin", **options},
        {"app_key": app_key, "app_secret": secret, "access_token": token or marketplace_token(SHOP)},
        ENV,
    )


def make_source(server, **options) -> DouyinSource:
    return DouyinSource(shop_config(server, **options), pii=None)  # type: ignore[arg-type]


def client(server) -> DouyinClient:
    return DouyinClient(shop_config(server), HttpClient("douyin", SHOP))


def sent_bodies(source: DouyinSource) -> list[dict[str, Any]]:
    """Observe what the connector really puts on the wire (a response hook, not a mock)."""
    bodies: list[dict[str, Any]] = []
    source.http.session.hooks["response"].append(
        lambda response, *args, **kwargs: bodies.append(json.loads(response.request.body))
    )
    return bodies


def raw_call(
    server,
    body: dict[str, Any],
    *,
    timestamp: str | None = None,
    sign_method: str = "hmac-sha256",
    token: str | None = None,
    send: bytes | None = None,
    method: str = METHOD,
    path: str | None = None,
) -> dict[str, Any]:
    """One hand-built request: signed over the canonical body, sent as `send` (default: canonical)
    to the method's path (`path` to send it elsewhere)."""
    param_json = canonical_param_json(body)
    timestamp = timestamp or format_cst(utc_now())
    query = {
        "app_key": DOUYIN_APP_KEY,
        "method": method,
        "access_token": token or marketplace_token(SHOP),
        "timestamp": timestamp,
        "v": "2",
        "sign_method": sign_method,
        "sign": sign(DOUYIN_APP_KEY, DOUYIN_APP_SECRET, method, param_json, timestamp, "2", sign_method),
    }
    response = requests.post(
        f"{server.url}/douyin{path or '/' + method.replace('.', '/')}",
        params=query,
        data=send if send is not None else param_json.encode(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, "errors too are HTTP 200"
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"code", "msg", "sub_code", "sub_msg", "data", "log_id"}
    return answer


def window_body(server, **extra: Any) -> dict[str, Any]:
    start, end = whole_world(server)
    return {
        "page": 0,
        "size": 100,
        "update_time_start": int(start.timestamp()),
        "update_time_end": int(end.timestamp()) - 1,
        **extra,
    }


@pytest.fixture(params=["test-world", "refund-world"])
def any_world(request, sandbox, make_sandbox):
    return sandbox if request.param == "test-world" else make_sandbox(seed=REFUND_SEED)


def test_orders_equal_the_truth_with_exact_money(any_world):
    server = any_world
    table = check_every_order_once(server, make_source, SHOP)
    truth = truth_orders(server.world).set_index("order_id")
    for record in records(table):
        expected = truth.loc[record["order_id"]]
        lines = record["sku_order_list"]
        assert all(type(record[f]) is int for f in MONEY_FIELDS), "integer fen on the wire"
        assert all(type(line[f]) is int for line in lines for f in LINE_MONEY_FIELDS)
        assert record["pay_amount"] == record["order_amount"] - record["promotion_amount"]
        gmv = record["pay_amount"] + record["promotion_platform_amount"]
        refunded_lines = [line for line in lines if line["after_sale_info"]["refund_status"] == 3]
        paid = gmv if record["pay_time"] else 0
        if record["order_status"] == 4 and record["pay_time"]:
            refunded, status = gmv, "refunded"
        else:
            refunded = sum(line["pay_amount"] for line in refunded_lines)
            status = {1: "created", 2: "paid", 3: "shipped", 4: "cancelled", 5: "completed"}[
                record["order_status"]
            ]
            status = "partially_refunded" if refunded_lines else status
        assert gmv == int(expected["gmv_cny"] * 100)
        assert paid == int(expected["paid_cny"] * 100)
        assert refunded == int(expected["refunded_cny"] * 100)
        assert record["promotion_platform_amount"] == int(expected["platform_discount_cny"] * 100)
        assert status == expected["status"]
        assert record["doudian_open_id"] == expected["account_id"]
    statuses = Counter(truth[truth["shop_id"] == SHOP]["status"])
    assert statuses["cancelled"] and statuses["shipped"] and statuses["completed"]
    if server.world.seed == REFUND_SEED:
        assert statuses["refunded"] and statuses["partially_refunded"], "the refund world must have both"
    assert (truth[truth["shop_id"] == SHOP]["platform_discount_cny"] > 0).any()


def test_big_order_ids_are_exact_strings(sandbox):
    table = pull(make_source(sandbox), *whole_world(sandbox))
    ids = table.column("record_id").to_pylist()
    assert ids and all(len(i) == 19 and int(i) > 2**53 for i in ids)
    assert [r["order_id"] for r in records(table)] == ids
    answer = raw_call(sandbox, window_body(sandbox, size=5))
    assert all(isinstance(o["order_id"], str) for o in answer["data"]["shop_order_list"]), (
        "strings on the wire"
    )


def test_pages_count_from_zero_and_order_asc_is_honoured(sandbox):
    source = make_source(sandbox, page_size=7)
    bodies = sent_bodies(source)
    pull(source, *whole_world(sandbox))
    assert min(b["page"] for b in bodies) == 0 and all(b["order_asc"] is False for b in bodies)
    pages = [b["page"] for b in bodies]
    assert pages[0] == 0 and pages[-1] == 0 and pages[1:-1] == sorted(pages[1:-1], reverse=True), "backwards"

    def page(number: int, ascending: Any) -> dict[str, Any]:
        answer = raw_call(sandbox, window_body(sandbox, page=number, size=5, order_asc=ascending))
        assert answer["code"] == 10000 and answer["msg"] == "success" and answer["log_id"]
        return answer["data"]

    newest, oldest = page(0, False), page(0, 1)
    assert (newest["page"], newest["size"]) == (0, 5) and newest["total"] == oldest["total"] > 10
    down = [o["update_time"] for o in newest["shop_order_list"]]
    up = [o["update_time"] for o in oldest["shop_order_list"]]
    assert down == sorted(down, reverse=True) and up == sorted(up) and up[0] < down[0]
    second = page(1, False)["shop_order_list"]
    assert max(o["update_time"] for o in second) <= min(down)
    assert not {o["order_id"] for o in second} & {o["order_id"] for o in newest["shop_order_list"]}


def test_windows_are_split(sandbox):
    start, _ = whole_world(sandbox)
    end = start + timedelta(days=2)
    source = make_source(sandbox, window_minutes=360)
    bodies = sent_bodies(source)
    table = pull(source, start, end)
    windows = sorted({(b["update_time_start"], b["update_time_end"]) for b in bodies})
    assert len(windows) == 8
    assert windows[0][0] == int(start.timestamp()) and windows[-1][1] == int(end.timestamp()) - 1
    assert all(hi - lo == 6 * 3600 - 1 for lo, hi in windows), "inclusive end: one second short"
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(windows)), "contiguous"
    assert set(table.column("record_id").to_pylist()) == final_versions_modified_in(sandbox, SHOP, start, end)


def test_paging_edges(sandbox):
    check_paging_edges(sandbox, make_source, *whole_world(sandbox))


def test_orders_modified_while_paging_are_never_skipped(sandbox, make_sandbox):
    start, end = whole_world(sandbox)
    window = (start, end - timedelta(days=1))  # a modified order's new time (the world's end) is outside
    check_modified_while_paging(sandbox, make_sandbox, make_source, None, window, 3)


def test_throttling_is_retried_and_nothing_is_lost(make_sandbox, monkeypatch):
    monkeypatch.setattr(douyin_sim, "CALLS_PER_SECOND", 4.0)
    server = make_sandbox(rate_limits=True)
    start, _ = whole_world(server)
    source = make_source(server, window_minutes=180, page_size=5)
    table = pull(source, start, start + timedelta(days=2))
    assert source.stats.throttled >= 1, "16 windows at 4 calls/s must be throttled"
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids))
    assert set(ids) == final_versions_modified_in(server, SHOP, start, start + timedelta(days=2))


def test_bad_credentials_are_fatal_and_name_the_variable(sandbox):
    source = make_source(sandbox, secret="not-the-secret-4711")
    with pytest.raises(
        CredentialError, match=r"40003.*isv.signature-invalid.*OMNI_TEST_DOUYIN_SECRET"
    ) as error:
        pull(source, *whole_world(sandbox))
    assert "not-the-secret-4711" not in str(error.value) and marketplace_token(SHOP) not in str(error.value)
    assert source.stats.requests == 1, "not retried"
    for token in (marketplace_token(SHOP) + "-expired", "never-issued"):
        source = make_source(sandbox, token=token)
        with pytest.raises(
            CredentialError, match=r"isv.access-token-expired.*OMNI_TEST_DOUYIN_TOKEN"
        ) as error:
            pull(source, *whole_world(sandbox))
        assert token not in str(error.value) and source.stats.requests == 1
    source = make_source(sandbox, app_key="0")
    with pytest.raises(FatalError, match=r"30001.*isv\.app-permissions-insufficient"):
        pull(source, *whole_world(sandbox))
    assert source.stats.requests == 1


@pytest.mark.parametrize("method", ["md5", "hmac-sha256"])
def test_both_sign_methods_work_end_to_end(sandbox, method):
    source = make_source(sandbox, sign_method=method)
    assert pull(source, *whole_world(sandbox)).num_rows == len(sandbox.world.orders_for(SHOP)) > 0
    assert raw_call(sandbox, window_body(sandbox, size=1), sign_method=method)["code"] == 10000


def test_a_signature_made_with_the_other_method_is_rejected(sandbox):
    other = {"md5": "hmac-sha256", "hmac-sha256": "md5"}
    body = window_body(sandbox, size=1)
    param_json, stamp = canonical_param_json(body), format_cst(utc_now())
    for method in other:
        query = {
            "app_key": DOUYIN_APP_KEY,
            "method": METHOD,
            "access_token": marketplace_token(SHOP),
            "timestamp": stamp,
            "v": "2",
            "sign_method": other[method],  # signed one way, declared the other
            "sign": sign(DOUYIN_APP_KEY, DOUYIN_APP_SECRET, METHOD, param_json, stamp, "2", method),
        }
        answer = requests.post(
            f"{sandbox.url}/douyin/order/searchList", params=query, data=param_json, timeout=10
        ).json()
        assert (answer["code"], answer["sub_code"]) == (40003, "isv.signature-invalid")
    with pytest.raises(FatalError, match="sign_method"):
        make_source(sandbox, sign_method="sha1")


def test_html_characters_in_the_body_sign_and_verify(sandbox):
    """`& < >` are escaped before signing. The simulator re-serialises what it received, so a body
    sent unescaped, unsorted and with spaces verifies too."""
    text = "A&B <C> & D"
    douyin = client(sandbox)
    wire: list[bytes] = []
    douyin.http.session.hooks["response"].append(lambda r, *a, **k: wire.append(r.request.body))
    data = douyin.call(METHOD, window_body(sandbox, product=text))
    assert data["total"] == 0 and data["shop_order_list"] == []
    assert b"A\\u0026B \\u003cC\\u003e \\u0026 D" in wire[0] and b"&" not in wire[0], "escaped on the wire"
    body = window_body(sandbox, product=text, combine_status=[{"order_status": "2,3", "main_status": "x&y"}])
    loose = json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False, indent=1).encode()
    assert b"&" in loose and b"<" in loose
    assert raw_call(sandbox, body, send=loose)["code"] == 10000
    # a real filter through the same path: only statuses 2 and 3 come back
    filtered = raw_call(sandbox, {**body, "product": ""})["data"]
    assert filtered["total"] > 0 and {o["order_status"] for o in filtered["shop_order_list"]} <= {2, 3}
    tampered = loose.replace(b"A&B", b"A&C")
    assert raw_call(sandbox, body, send=tampered)["sub_code"] == "isv.signature-invalid"


def test_timestamp_forms(sandbox):
    body = window_body(sandbox, size=1)
    now = utc_now()
    assert raw_call(sandbox, body, timestamp=format_cst(now))["code"] == 10000
    assert raw_call(sandbox, body, timestamp=str(int(now.timestamp())))["code"] == 10000
    for stale in (format_cst(now - timedelta(minutes=11)), str(int(now.timestamp()) + 11 * 60), "yesterday"):
        answer = raw_call(sandbox, body, timestamp=stale)
        assert (answer["code"], answer["sub_code"]) == (40003, "isv.parameter-invalid:timestamp"), stale


def test_the_simulator_enforces_the_reference(sandbox):
    ok = window_body(sandbox)
    for bad, sub_code in (
        ({"size": 101}, "isv.parameter-invalid:size"),
        ({"size": 0}, "isv.parameter-invalid:size"),
        ({"page": -1}, "isv.parameter-invalid:page"),
        ({"update_time_end": ok["update_time_start"] + 91 * 86400}, "isv.parameter-invalid:update_time_end"),
        ({"update_time_end": ok["update_time_start"] - 1}, "isv.parameter-invalid:update_time_end"),
        ({"order_by": "create_time"}, "isv.parameter-invalid:order_by"),
        ({"order_asc": "sideways"}, "isv.parameter-invalid:order_asc"),
    ):
        answer = raw_call(sandbox, {**ok, **bad})
        assert (answer["code"], answer["sub_code"]) == (40003, sub_code), bad
    with pytest.raises(FatalError, match=r"isv\.parameter-invalid:size"):
        client(sandbox).call(METHOD, {**ok, "size": 101})
    assert raw_call(sandbox, {**ok, "update_time_end": ok["update_time_start"] + 90 * 86400})["code"] == 10000
    with pytest.raises(FatalError, match="options"):
        make_source(sandbox, window_minutes=90 * 24 * 60 + 1)


def test_the_older_envelope_is_accepted():
    douyin = DouyinClient(
        ShopConfig(
            "douyin",
            SHOP,
            {"base_url": "http://127.0.0.1:9/douyin"},
            {"app_key": "k", "app_secret": "s", "access_token": "t"},
        ),
        HttpClient("douyin", SHOP),
    )
    old = {"err_no": 0, "message": "success", "data": {"shop_order_list": [], "total": 0}}
    assert douyin.error_of(old) is None and douyin.result_of(old, METHOD)["total"] == 0
    error = douyin.error_of({"err_no": 30001, "message": "no permission", "data": {}})
    assert error is not None and error.code == "30001"
    assert douyin.error_of({"code": 10000, "msg": "success", "data": {}}) is None


def test_no_plain_pii_ciphertexts_dropped_masks_kept(sandbox):
    served = raw_call(sandbox, window_body(sandbox, size=3))["data"]["shop_order_list"][0]
    assert (
        served["encrypt_post_tel"] and served["post_addr"]["encrypt_detail"] and served["mask_post_receiver"]
    )
    table = pull(make_source(sandbox), *whole_world(sandbox))
    check_no_plain_pii(sandbox, table)
    for record in records(table):
        assert not {"encrypt_post_receiver", "encrypt_post_tel", "mask_post_receiver"} & set(record)
        assert "encrypt_detail" not in record["post_addr"] and record["post_addr"]["city"]["name"]
        assert record["mask_post_tel"].count("*") == 4 and record["doudian_open_id"]


# --- receiver phones: order.batchDecrypt (option decrypt_phones) ----------------------------------


def decrypting_source(server, **options) -> DouyinSource:
    return DouyinSource(shop_config(server, decrypt_phones=True, **options), PiiHasher(TEST_PII_KEY))


def decrypt_calls(source: DouyinSource) -> list[list[dict[str, str]]]:
    """The cipher_infos of every order.batchDecrypt call the source makes (observed on the wire)."""
    calls: list[list[dict[str, str]]] = []
    source.http.session.hooks["response"].append(
        lambda response, *args, **kwargs: (
            calls.append(json.loads(response.request.body)["cipher_infos"])
            if "/order/batchDecrypt" in response.request.url
            else None
        )
    )
    return calls


def check_receiver_phones(server, table, failed: frozenset[str] = frozenset()) -> tuple[int, int]:
    """Every landed order against the world: a protected order is virtual without a hash, a failed
    one has neither, any other has the keyed hash of the world order's receiver phone. Returns the
    (hashed, virtual) counts."""
    pii = PiiHasher(TEST_PII_KEY)
    orders = {o.order_id: o for o in server.world.orders_for(SHOP)}
    hashed = virtual = 0
    for record in records(table):
        order = orders[record["order_id"]]
        landed = (record["receiver_phone_hash"], record["receiver_phone_virtual"])
        if order.order_id in failed:
            assert landed == (None, None), order.order_id
        elif douyin_sim.privacy_protected(order.order_id):
            assert landed == (None, True), order.order_id
            virtual += 1
        else:
            assert order.receiver_phone and landed == (pii.phone(order.receiver_phone), False)
            hashed += 1
    check_no_plain_pii(server, table)
    assert douyin_sim.VIRTUAL_HOST not in "".join(table.column("record").to_pylist()), "virtual numbers too"
    return hashed, virtual


@pytest.mark.parametrize("page_size", [100, 8])
def test_decrypted_phones_land_as_keyed_hashes_in_full_batches(make_sandbox, monkeypatch, page_size):
    """The test world's Douyin shop has a couple of dozen orders: the batch cap (50, in the
    connector and the simulator alike) is lowered to 4 so that batching shows."""
    monkeypatch.setattr(douyin_source, "MAX_DECRYPT_BATCH", 4)
    server = make_sandbox(platform=(("douyin_sim.MAX_DECRYPT_BATCH", 4),))
    source = decrypting_source(server, page_size=page_size)
    calls = decrypt_calls(source)
    table = pull(source, *whole_world(server))
    hashed, virtual = check_receiver_phones(server, table)
    ids = set(table.column("record_id").to_pylist())
    assert hashed and virtual and hashed + virtual == len(ids) == len(server.world.orders_for(SHOP))
    asked = [info["auth_id"] for call in calls for info in call]
    assert sorted(asked) == sorted(ids), "every order once"
    assert len(calls) == math.ceil(len(ids) / 4) and all(len(call) <= 4 for call in calls)
    served = raw_call(server, window_body(server))["data"]["shop_order_list"]
    sent = {info["auth_id"]: info["cipher_text"] for call in calls for info in call}
    assert sent == {o["order_id"]: o["encrypt_post_tel"] for o in served}, "each order's own ciphertext"
    assert source.stats.notes == []


def test_each_order_is_decrypted_once_per_pull_however_many_versions_land(make_sandbox):
    """One-page windows, each serve modifying the window's newest order again: it lands in its own
    window, and again (a new version) in the last window, where its new time falls."""
    server = make_sandbox(faults=frozenset({"modify_while_paging"}))
    source = decrypting_source(server, window_minutes=24 * 60)
    calls = decrypt_calls(source)
    table = pull(source, *whole_world(server))
    ids = table.column("record_id").to_pylist()
    assert len(ids) > len(set(ids)), "orders modified while paging land twice"
    check_receiver_phones(server, table)
    asked = [info["auth_id"] for call in calls for info in call]
    assert len(asked) == len(set(asked)) and set(asked) == set(ids)
    first_pull = len(asked)
    pull(source, *whole_world(server))  # the cache lives for one pull: memory stays bounded
    assert sum(len(call) for call in calls) > first_pull


def test_a_failed_decrypt_lands_without_a_hash_and_one_note(make_sandbox):
    server = make_sandbox(platform=(("douyin_sim.DECRYPT_FAILURE_SHARE", 0.2),))
    failed = frozenset(
        o.order_id for o in server.world.orders_for(SHOP) if douyin_sim.decrypt_fails(o.order_id)
    )
    source = decrypting_source(server)
    table = pull(source, *whole_world(server))
    assert failed, "the share must hit some orders"
    hashed, virtual = check_receiver_phones(server, table, failed)
    assert hashed and virtual
    code = douyin_sim.DECRYPT_FAILED[0]
    assert source.stats.notes == [
        f"{DECRYPT_METHOD} gave no receiver phone for {len(failed)} order(s) "
        f"(err_no {code} x{len(failed)}): landed without receiver_phone_hash"
    ]


def test_only_mainland_mobiles_are_hashed_and_virtual_numbers_never():
    """How one decrypt_infos item is read, including answers the simulator does not give."""
    config = ShopConfig(
        "douyin",
        SHOP,
        {"base_url": "http://127.0.0.1:9/douyin", "decrypt_phones": True},
        {"app_key": "k", "app_secret": "s", "access_token": "t"},
    )
    pii = PiiHasher(TEST_PII_KEY)
    source = DouyinSource(config, pii)
    read = source.receiver
    assert read({"err_no": 0, "decrypt_text": "+86 138-0013-8000"}) == Receiver(
        pii.phone("13800138000"), False
    )
    assert read({"err_no": 0, "decrypt_text": "18400913965-7576"}) == Receiver(virtual=True), "by its form"
    assert read({"err_no": 0, "decrypt_text": "13800138000", "is_virtual_tel": True}) == Receiver(
        virtual=True
    )
    for failed in ({"err_no": 0, "decrypt_text": "0571-88881234"}, {"err_no": 300003}, None):
        assert read(failed) == Receiver(), failed
    assert source.decrypt_failures == {"not a mobile number": 1, "err_no 300003": 1, "no answer": 1}


def test_without_the_option_nothing_is_decrypted(sandbox):
    for options in ({}, {"decrypt_phones": False}, {"decrypt_phones": "false"}):
        source = make_source(sandbox, **options)
        calls = decrypt_calls(source)
        table = pull(source, *whole_world(sandbox))
        assert calls == [] and table.num_rows == len(sandbox.world.orders_for(SHOP))
        assert not any("receiver_phone_hash" in r or "receiver_phone_virtual" in r for r in records(table))
    with pytest.raises(ConfigError, match=r"douyin/douyin-shop.*decrypt_phones. must be true or false"):
        make_source(sandbox, decrypt_phones="yes")


def test_a_decrypt_call_failure_stops_the_pull_and_says_what_to_fix(make_sandbox):
    server = make_sandbox(platform=(("douyin_sim.DECRYPT_PERMITTED", False),))
    source = decrypting_source(server)
    with pytest.raises(FatalError, match=r"30001.*isv\.app-permissions-insufficient.*decrypt_phones = false"):
        pull(source, *whole_world(server))
    assert source.stats.requests == 2, "one list call, one decrypt call, not retried"
    source = DouyinSource(
        shop_config(server, secret="not-the-secret", decrypt_phones=True), PiiHasher(TEST_PII_KEY)
    )
    with pytest.raises(CredentialError, match="OMNI_TEST_DOUYIN_SECRET"):
        pull(source, *whole_world(server))


def test_the_simulator_decrypts_only_what_it_issued_and_caps_batches(sandbox):
    served = raw_call(sandbox, window_body(sandbox, size=100))["data"]["shop_order_list"]
    orders = {o.order_id: o for o in sandbox.world.orders_for(SHOP)}
    plain = next(o for o in served if not douyin_sim.privacy_protected(o["order_id"]))
    hidden = next(o for o in served if douyin_sim.privacy_protected(o["order_id"]))
    asked = [
        {"auth_id": plain["order_id"], "cipher_text": plain["encrypt_post_tel"]},
        {"auth_id": plain["order_id"], "cipher_text": plain["post_addr"]["encrypt_detail"]},
        {"auth_id": hidden["order_id"], "cipher_text": hidden["encrypt_post_tel"]},
        {"auth_id": hidden["order_id"], "cipher_text": plain["encrypt_post_tel"]},  # another order's
        {"auth_id": "1", "cipher_text": plain["encrypt_post_tel"]},
    ]
    answer = raw_call(sandbox, {"cipher_infos": asked}, method=DECRYPT_METHOD)
    assert answer["code"] == 10000
    infos = answer["data"]["decrypt_infos"]
    assert [(i["auth_id"], i["cipher_text"]) for i in infos] == [
        (a["auth_id"], a["cipher_text"]) for a in asked
    ]
    phone, address, virtual, wrong, unknown = infos
    assert (phone["decrypt_text"], phone["data_type"], phone["is_virtual_tel"], phone["err_no"]) == (
        orders[plain["order_id"]].receiver_phone,
        3,
        False,
        0,
    )
    assert (address["decrypt_text"], address["data_type"]) == (orders[plain["order_id"]].receiver_address, 1)
    host, extension = douyin_sim.virtual_number(hidden["order_id"])
    assert (
        virtual["decrypt_text"],
        virtual["is_virtual_tel"],
        virtual["phone_no_a"],
        virtual["phone_no_b"],
    ) == (
        f"{host}-{extension}",
        True,
        douyin_sim.VIRTUAL_HOST,
        extension,
    )
    assert virtual["decrypt_text"] != orders[hidden["order_id"]].receiver_phone and virtual["expire_time"] > 0
    for failed in (wrong, unknown):
        assert (failed["err_no"], failed["decrypt_text"]) == (douyin_sim.DECRYPT_FAILED[0], "")
    one = asked[0]
    for bad in ([one] * (MAX_DECRYPT_BATCH + 1), [], [{"auth_id": plain["order_id"]}], "x"):
        answer = raw_call(sandbox, {"cipher_infos": bad}, method=DECRYPT_METHOD)
        assert (answer["code"], answer["sub_code"]) == (40003, "isv.parameter-invalid:cipher_infos")
    assert (
        raw_call(sandbox, {"cipher_infos": [one] * MAX_DECRYPT_BATCH}, method=DECRYPT_METHOD)["code"] == 10000
    )
    answer = raw_call(sandbox, {"cipher_infos": [one]}, method=METHOD, path="/order/batchDecrypt")
    assert (answer["code"], answer["sub_code"]) == (40003, "isv.parameter-invalid:method")
    with pytest.raises(FatalError, match=r"isv\.parameter-invalid:cipher_infos"):
        client(sandbox).call(DECRYPT_METHOD, {"cipher_infos": [one] * (MAX_DECRYPT_BATCH + 1)})


def test_decrypt_calls_count_against_the_rate_limit(make_sandbox):
    server = make_sandbox(rate_limits=True, platform=(("douyin_sim.CALLS_PER_SECOND", 1.0),))
    served = raw_call(server, window_body(server, size=1))["data"]["shop_order_list"][0]
    one = {"auth_id": served["order_id"], "cipher_text": served["encrypt_post_tel"]}
    answer = raw_call(server, {"cipher_infos": [one]}, method=DECRYPT_METHOD)
    assert (answer["code"], answer["sub_code"]) == (50002, "isp.service-limited"), "one bucket for both"


def test_staging_reads_the_receiver_phone_columns(sandbox):
    table = pull(decrypting_source(sandbox), *whole_world(sandbox))
    landed = {r["order_id"]: (r["receiver_phone_hash"], r["receiver_phone_virtual"]) for r in records(table)}
    conn = duckdb.connect()
    try:
        prepare_connection(conn)
        conn.execute("create schema raw")
        latest = table.append_column("channel", pa.array(["douyin"] * table.num_rows)).append_column(
            "shop_id", pa.array([SHOP] * table.num_rows)
        )
        conn.register("landed", latest)
        conn.execute("create view raw.douyin__orders_latest as select * from landed")
        run_model(conn, parse_model(TRANSFORMS_DIR / "staging" / "stg_douyin__orders.sql"))
        rows = conn.execute(
            "select order_id, receiver_phone_hash, receiver_phone_virtual from staging.stg_douyin__orders"
        ).fetchall()
    finally:
        conn.close()
    assert {order_id: (h, v) for order_id, h, v in rows} == landed
    assert {v for _, v in landed.values()} == {True, False}


def test_empty_and_repeated_pages_change_nothing(sandbox, make_sandbox):
    check_empty_and_repeated_pages(sandbox, make_sandbox, make_source, 3)


def test_a_gateway_clock_ahead_of_ours_is_adopted_and_nothing_changes(sandbox, make_sandbox):
    check_gateway_clock_ahead(sandbox, make_sandbox, make_source)
