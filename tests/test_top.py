"""TOP (Tmall/Taobao) connector against the TOP simulator over real HTTP on loopback."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from connectors.common.errors import ConfigError, CredentialError, FatalError
from connectors.common.http import HttpClient
from connectors.common.timeutil import CHINA_TZ, china_days_window, format_cst, parse_cst, split_window
from connectors.config import ShopConfig
from connectors.sandbox import top_decrypt_sim, top_sim
from connectors.sandbox.credentials import TOP_APP_KEY, TOP_APP_SECRET, top_session
from connectors.sandbox.truth import truth_orders
from connectors.top.client import TopClient
from connectors.top.source import DECRYPT_METHOD, TopSource
from tests.marketplace import (
    busiest_window,
    check_empty_and_repeated_pages,
    check_gateway_clock_ahead,
    check_no_plain_pii,
    final_versions_modified_in,
    records,
)

TOP_SHOPS = [
    ("tmall", "tmall-flagship"),
    ("tmall", "tmall-outlet"),
    ("taobao", "taobao-store"),
    ("taobao", "taobao-kids"),
]
MAX = 20  # TOP's query_list cap (§2.8): decrypt batches must be this full
ENV = {"app_key": "OMNI_TEST_APP_KEY", "app_secret": "OMNI_TEST_APP_SECRET", "session": "OMNI_TEST_SESSION"}


def shop_config(
    server, channel: str, shop_id: str, secret: str = TOP_APP_SECRET, session: str | None = None, **options
) -> ShopConfig:
    return ShopConfig(
        channel,
        shop_id,
        {"gateway_url": f"{server.url}/top/router/rest", **options},
        {"app_key": TOP_APP_KEY, "app_secret": secret, "session": session or top_session(shop_id)},
        ENV,
    )


def pull(source: TopSource, start, end) -> pa.Table:
    pages = list(source.pull("orders", start, end))
    return pa.concat_tables(pages) if pages else pa.table({"record_id": pa.array([], pa.string())})


def whole_world(server) -> tuple[datetime, datetime]:
    return china_days_window(server.world.start, server.world.end)


@pytest.mark.parametrize(("channel", "shop_id"), TOP_SHOPS)
def test_trades_equal_the_truth(sandbox, pii, channel, shop_id):
    table = pull(TopSource(shop_config(sandbox, channel, shop_id), pii), *whole_world(sandbox))
    truth = truth_orders(sandbox.world)
    truth = truth[truth["shop_id"] == shop_id].set_index("order_id")
    assert sorted(table.column("record_id").to_pylist()) == sorted(truth.index), "every trade exactly once"
    for record in map(json.loads, table.column("record").to_pylist()):
        expected = truth.loc[str(record["tid"])]
        payment = Decimal(record["payment"])
        sub_orders = record["orders"]["order"]
        refunded = (
            payment
            if record["status"] == "TRADE_CLOSED"
            else sum(
                (Decimal(o["payment"]) for o in sub_orders if o["refund_status"] == "SUCCESS"), Decimal(0)
            )
        )
        assert payment == expected["gmv_cny"]
        assert (payment if record.get("pay_time") else 0) == expected["paid_cny"]
        assert refunded == expected["refunded_cny"]


def test_big_tids_stay_exact(sandbox, pii):
    table = pull(TopSource(shop_config(sandbox, "tmall", "tmall-flagship"), pii), *whole_world(sandbox))
    ids = table.column("record_id").to_pylist()
    assert all(len(i) == 19 and int(i) > 2**53 for i in ids)
    assert {str(json.loads(r)["tid"]) for r in table.column("record").to_pylist()} == set(ids)


@pytest.mark.parametrize("method", ["md5", "hmac", "hmac-sha256"])
def test_every_sign_method_works_end_to_end(sandbox, pii, method):
    source = TopSource(shop_config(sandbox, "taobao", "taobao-store", sign_method=method), pii)
    truth = truth_orders(sandbox.world)
    assert len(pull(source, *whole_world(sandbox))) == (truth["shop_id"] == "taobao-store").sum() > 0


def test_a_bad_secret_is_an_invalid_signature_naming_the_variable(sandbox, pii):
    source = TopSource(shop_config(sandbox, "tmall", "tmall-flagship", secret="wrong-secret"), pii)
    with pytest.raises(
        CredentialError, match=r"TOP error 25 Invalid Signature.*OMNI_TEST_APP_SECRET"
    ) as error:
        pull(source, *whole_world(sandbox))
    assert "wrong-secret" not in str(error.value) and "tmall/tmall-flagship" in str(error.value)
    assert source.stats.requests == 1, "a signature error is not retried"


def test_an_invalid_session_names_the_session_variable(sandbox, pii):
    source = TopSource(shop_config(sandbox, "tmall", "tmall-flagship", session="expired"), pii)
    with pytest.raises(CredentialError, match=r"TOP error 27 Invalid Session.*OMNI_TEST_SESSION"):
        pull(source, *whole_world(sandbox))


def test_the_simulator_enforces_window_and_page_limits(sandbox):
    client = TopClient(shop_config(sandbox, "tmall", "tmall-flagship"), HttpClient("tmall", "tmall-flagship"))
    start, _ = whole_world(sandbox)
    base = {"fields": "tid,modified", "page_no": 1, "page_size": 10}
    with pytest.raises(FatalError, match="TOP error 41"):
        client.call(
            top_sim.METHOD,
            {
                **base,
                "start_modified": format_cst(start),
                "end_modified": format_cst(start + timedelta(days=1, seconds=1)),
            },
        )
    with pytest.raises(FatalError, match="TOP error 41"):
        client.call(
            top_sim.METHOD,
            {
                **base,
                "page_size": 101,
                "start_modified": format_cst(start),
                "end_modified": format_cst(start + timedelta(hours=1)),
            },
        )
    ok = client.call(
        top_sim.METHOD,
        {
            **base,
            "use_has_next": "true",
            "start_modified": format_cst(start),
            "end_modified": format_cst(start + timedelta(days=1)),
        },
    )
    assert "has_next" in ok and "total_results" not in ok
    with pytest.raises(FatalError, match="options"):
        TopSource(shop_config(sandbox, "tmall", "tmall-flagship", page_size=101), None)  # type: ignore[arg-type]


def test_paging_edge_cases(sandbox, pii):
    """Backward paging for a total that fills exactly one page, one that leaves a short last page,
    and an empty window."""
    start, _ = whole_world(sandbox)
    day = start + timedelta(days=6)  # Double 11 in the test world: the busiest day
    base = pull(TopSource(shop_config(sandbox, "tmall", "tmall-flagship"), pii), day, day + timedelta(days=1))
    total = base.num_rows
    assert total > 4

    def stats(page_size: int, lo=day, hi=day + timedelta(days=1)) -> tuple[int, int]:
        source = TopSource(shop_config(sandbox, "tmall", "tmall-flagship", page_size=page_size), pii)
        return len(pull(source, lo, hi)), source.stats.requests

    assert stats(total) == (total, 1), "one full page: one call"
    pages = -(-total // (total - 1))
    assert stats(total - 1) == (total, pages + 1), "last page short: page 1 for the total, pages n..2, page 1"
    assert stats(100, start - timedelta(days=30), start - timedelta(days=29)) == (0, 1), "empty window"


def test_a_pull_in_page_workers_lands_what_a_pull_here_lands(sandbox, pii):
    """Pages fetched, scrubbed and landed in other processes (a long pull's): the same rows, in the
    same order, from the same number of calls; the workers end with the pull."""
    window = whole_world(sandbox)
    here = TopSource(shop_config(sandbox, "tmall", "tmall-flagship", page_size=2, page_workers=0), pii)
    landed = pull(here, *window)
    elsewhere = TopSource(
        shop_config(sandbox, "tmall", "tmall-flagship", page_size=2, page_workers=2, worker_pages=0), pii
    )
    pages = elsewhere.pull("orders", *window)
    first = next(pages)
    assert len(multiprocessing.active_children()) == 2, "pages are fetched and landed elsewhere"
    worked = pa.concat_tables([first, *pages])
    assert not multiprocessing.active_children()
    assert worked.drop_columns("extracted_at").equals(landed.drop_columns("extracted_at"))
    assert landed.num_rows > 30
    assert (elsewhere.stats.requests, elsewhere.stats.pages) == (here.stats.requests, here.stats.pages)


def test_throttling_is_retried_and_nothing_is_lost(make_sandbox, pii, monkeypatch):
    monkeypatch.setattr(top_sim, "CALLS_PER_SECOND", 5.0)
    server = make_sandbox(rate_limits=True)
    source = TopSource(shop_config(server, "taobao", "taobao-store", window_minutes=360), pii)
    start, _ = whole_world(server)
    table = pull(source, start, start + timedelta(days=3))
    assert source.stats.throttled >= 1, "12 windows at 5 calls/s must hit code 7"
    truth = truth_orders(server.world)
    truth = truth[truth["shop_id"] == "taobao-store"]
    landed = set(table.column("record_id").to_pylist())
    assert len(landed) == table.num_rows, "no trade twice"
    # everything whose final version was modified in those three days, and nothing else
    expected = {
        o.order_id
        for o in server.world.orders_for("taobao-store")
        if (s := o.state(server.world.as_of)) and start <= s.modified_at < start + timedelta(days=3)
    }
    assert landed == expected
    assert expected <= set(truth["order_id"])


def test_no_plain_pii_and_ciphertexts_are_dropped(sandbox, pii):
    texts = []
    for channel, shop_id in TOP_SHOPS:
        table = pull(TopSource(shop_config(sandbox, channel, shop_id), pii), *whole_world(sandbox))
        texts += table.column("record").to_pylist()
    blob = "\n".join(texts)
    for person in sandbox.world.people:
        assert person.phone not in blob and person.address not in blob
    record = json.loads(texts[0])
    assert "receiver_mobile" not in record and "receiver_name" not in record
    assert record["buyer_open_uid"] and record["oaid"], "ids identity resolution needs are kept"


def _forward_paging(server, shop_id: str, start, end, page_size: int) -> set[str]:
    """What a naive client gets: pages 1, 2, 3 ... of each day while trades change under it."""
    client = TopClient(shop_config(server, "tmall", shop_id), HttpClient("tmall", shop_id))
    tids: set[str] = set()
    for day_start, day_end in split_window(start, end, timedelta(days=1)):
        page_no, has_next = 1, True
        while has_next:
            body = client.call(
                top_sim.METHOD,
                {
                    "fields": "tid,modified",
                    "start_modified": format_cst(day_start),
                    "end_modified": format_cst(day_end - timedelta(seconds=1)),
                    "page_no": page_no,
                    "page_size": page_size,
                    "use_has_next": "true",
                },
            )
            tids |= {str(t["tid"]) for t in (body.get("trades") or {}).get("trade", [])}
            has_next, page_no = body["has_next"], page_no + 1
    return tids


def test_trades_modified_while_paging_are_never_skipped(sandbox, make_sandbox, pii):
    """Each page served, the newest trade of the window is modified again and leaves it. Paging
    from the last page backwards loses no trade that stayed; paging forwards does."""
    shop_id = "tmall-flagship"
    window = whole_world(sandbox)
    expected = set(
        pull(TopSource(shop_config(sandbox, "tmall", shop_id), pii), *window).column("record_id").to_pylist()
    )
    assert len(expected) > 30

    server = make_sandbox(faults=frozenset({"modify_while_paging"}))
    source = TopSource(shop_config(server, "tmall", shop_id, page_size=4), pii)
    landed = pull(source, *window).column("record_id").to_pylist()
    moved = server.simulators[1].feed.moved()
    assert moved, "the fault must have fired"
    assert expected - moved <= set(landed), f"skipped: {sorted(expected - moved - set(landed))}"
    assert set(landed) <= expected

    naive_server = make_sandbox(faults=frozenset({"modify_while_paging"}))
    naive = _forward_paging(naive_server, shop_id, *window, page_size=4)
    naive_moved = naive_server.simulators[1].feed.moved()
    assert expected - naive_moved - naive, (
        "forward paging must skip trades here, else this test proves nothing"
    )


def test_only_the_requested_fields_come_back(sandbox):
    client = TopClient(shop_config(sandbox, "tmall", "tmall-flagship"), HttpClient("tmall", "tmall-flagship"))
    start, _ = whole_world(sandbox)
    day = start + timedelta(days=6)

    def trades(fields: str) -> list[dict]:
        body = client.call(
            top_sim.METHOD,
            {
                "fields": fields,
                "start_modified": format_cst(day),
                "end_modified": format_cst(day + timedelta(hours=23)),
                "page_size": 5,
            },
        )
        assert body["trades"]["trade"]
        return body["trades"]["trade"]

    assert {k for t in trades("tid,status") for k in t} == {"tid", "status"}
    some = trades("tid,orders.oid,orders.title")
    assert {k for t in some for k in t} == {"tid", "orders"}
    assert {k for t in some for o in t["orders"]["order"] for k in o} == {"oid", "title"}
    whole = trades("tid,orders")
    assert all(None not in o.values() and "refund_status" in o for t in whole for o in t["orders"]["order"])
    four = "tid,oaid,receiver_name,receiver_address,created,receiver_mobile"
    assert not any("oaid" in t for t in trades(four)), "oaid needs all five receiver fields"
    assert all(t["oaid"] for t in trades(four + ",receiver_phone"))


# --- receiver phones through taobao.top.oaid.decrypt (option decrypt_phones) ------------------------


def decrypt_sim(server) -> top_decrypt_sim.OaidDecrypt:
    (sim,) = [s for s in server.simulators if isinstance(s, top_sim.TopSimulator)]
    return sim.decrypt


def expected_phone(order, pii) -> tuple[str | None, bool | None, str | None]:
    """(receiver_phone_hash, receiver_phone_virtual, receiver_name_hash) a decrypted trade must land
    with: no name for a virtual number, nor for a courtesy name (王先生), which names nobody."""
    if top_decrypt_sim.privacy_protected(order.order_id):
        return None, True, None
    courtesy = order.receiver_name.endswith(("先生", "女士"))
    name = None if courtesy else pii.text(order.receiver_name, "name")
    return pii.phone(order.receiver_phone), False, name


LANDED = ("receiver_phone_hash", "receiver_phone_virtual", "receiver_name_hash")


def landed_phones(table: pa.Table) -> dict[str, tuple[str | None, bool | None, str | None]]:
    return {str(r["tid"]): tuple(r[k] for k in LANDED) for r in records(table)}


def no_plain_receiver(server, table: pa.Table) -> None:
    check_no_plain_pii(server, table)  # the people's own phones, names and addresses
    blob = "\n".join(table.column("record").to_pylist())
    for order in server.world.orders:  # receivers may be others, phones change: the orders' own
        assert not order.receiver_phone or order.receiver_phone not in blob, order.order_id
        assert top_decrypt_sim.virtual_number(order.order_id).split("-")[0] not in blob, order.order_id


def test_decrypted_receiver_phones_land_only_as_hashes(make_sandbox, pii):
    server = make_sandbox()
    for channel, shop_id in TOP_SHOPS:
        source = TopSource(shop_config(server, channel, shop_id, decrypt_phones=True), pii)
        table = pull(source, *whole_world(server))
        orders = {o.order_id: o for o in server.world.orders_for(shop_id)}
        assert landed_phones(table) == {tid: expected_phone(o, pii) for tid, o in orders.items()}
        no_plain_receiver(server, table)
        assert source.stats.notes == []
    phones = [phone for tids in decrypt_sim(server).calls for phone in tids]
    protected = [tid for tid in phones if top_decrypt_sim.privacy_protected(tid)]
    assert 0 < len(protected) < len(phones), "both plain and virtual numbers must be exercised"
    # every trade decrypted once, in ceil(trades / 20) calls per day window
    assert sorted(phones) == sorted(o.order_id for _, s in TOP_SHOPS for o in server.world.orders_for(s))
    per_window = Counter(
        (o.shop_id, (o.state(server.world.as_of).modified_at - whole_world(server)[0]).days)
        for _, s in TOP_SHOPS
        for o in server.world.orders_for(s)
    )
    assert len(decrypt_sim(server).calls) == sum(-(-n // MAX) for n in per_window.values())


def test_a_window_costs_ceil_trades_over_20_decrypt_calls(make_sandbox, pii):
    server = make_sandbox(people=1600)  # a peak day with more than 20 trades in one shop
    start, end = busiest_window(server.world, "tmall-flagship", timedelta(days=1))
    source = TopSource(shop_config(server, "tmall", "tmall-flagship", decrypt_phones=True), pii)
    table = pull(source, start, end)
    n = table.num_rows
    assert n > MAX and n == len(final_versions_modified_in(server, "tmall-flagship", start, end))
    sizes = [len(tids) for tids in decrypt_sim(server).calls]
    assert sizes == [MAX] * (n // MAX) + ([n % MAX] if n % MAX else [])
    assert len(sizes) == -(-n // MAX)
    orders = {o.order_id: o for o in server.world.orders_for("tmall-flagship")}
    assert landed_phones(table) == {tid: expected_phone(orders[tid], pii) for tid in landed_phones(table)}


def test_a_trade_is_decrypted_once_however_many_versions_land(make_sandbox, pii):
    server = make_sandbox(faults=frozenset({"modify_while_paging"}))
    source = TopSource(shop_config(server, "tmall", "tmall-flagship", page_size=20, decrypt_phones=True), pii)
    table = pull(source, *whole_world(server))
    ids = table.column("record_id").to_pylist()
    assert len(ids) > len(set(ids)), "some trade must land in two versions, else this proves nothing"
    decrypted = [tid for tids in decrypt_sim(server).calls for tid in tids]
    assert sorted(decrypted) == sorted(set(ids)), "each trade once"
    orders = {o.order_id: o for o in server.world.orders_for("tmall-flagship")}
    for record in records(table):
        expected = expected_phone(orders[str(record["tid"])], pii)
        assert tuple(record[k] for k in LANDED) == expected


def test_unmatched_oaids_land_without_a_hash_and_one_note(make_sandbox, pii):
    server = make_sandbox(platform=(("top_decrypt_sim.REISSUED_SHARE", 0.3),))
    source = TopSource(shop_config(server, "taobao", "taobao-store", decrypt_phones=True), pii)
    table = pull(source, *whole_world(server))
    orders = {o.order_id: o for o in server.world.orders_for("taobao-store")}
    reissued = {tid for tid in orders if top_decrypt_sim.reissued(tid)}
    assert 0 < len(reissued) < len(orders)
    assert landed_phones(table) == {
        tid: (None, None, None) if tid in reissued else expected_phone(o, pii) for tid, o in orders.items()
    }
    assert len(source.stats.notes) == 1 and source.stats.notes[0].startswith(f"{len(reissued)} trade(s) ")
    no_plain_receiver(server, table)


def test_without_the_option_nothing_is_decrypted(make_sandbox, pii):
    server = make_sandbox()
    window = whole_world(server)
    plain = TopSource(shop_config(server, "tmall", "tmall-flagship"), pii)
    without = records(pull(plain, *window))
    assert decrypt_sim(server).calls == [] and not any("receiver_phone_hash" in r for r in without)
    decrypting = TopSource(shop_config(server, "tmall", "tmall-flagship", decrypt_phones=True), pii)
    with_phones = records(pull(decrypting, *window))
    assert decrypting.stats.requests == plain.stats.requests + len(decrypt_sim(server).calls)
    stripped = [{k: v for k, v in r.items() if k not in LANDED} for r in with_phones]
    assert stripped == without
    with pytest.raises(ConfigError, match=r"decrypt_phones.* must be true or false"):
        TopSource(shop_config(server, "tmall", "tmall-flagship", decrypt_phones="yes"), pii)


def test_the_simulator_checks_decrypt_queries(sandbox):
    client = TopClient(shop_config(sandbox, "tmall", "tmall-flagship"), HttpClient("tmall", "tmall-flagship"))
    order = next(
        o
        for o in sandbox.world.orders_for("tmall-flagship")
        if not top_decrypt_sim.privacy_protected(o.order_id)
    )
    query = {"oaid": top_sim.oaid_of(order), "tid": order.order_id, "scene": "2002"}

    def decrypt(*queries: dict) -> list[dict]:
        body = client.call(DECRYPT_METHOD, {"query_list": json.dumps(list(queries))})
        return body["receiver_list"]["receiver"]

    (receiver,) = decrypt(query)
    assert receiver["matched"] is True and receiver["privacy_protection"] is False
    assert receiver["mobile"] == order.receiver_phone and receiver["tid"] == order.order_id
    (stale,) = decrypt({**query, "oaid": top_sim.oaid_of(order, reissued=True)})
    assert stale == {"oaid": top_sim.oaid_of(order, reissued=True), "tid": order.order_id, "matched": False}
    assert len(decrypt(*[query] * MAX)) == MAX
    with pytest.raises(FatalError, match=r"TOP error 41 .*\(query_list holds at most 20 items, got 21\)"):
        decrypt(*[query] * (MAX + 1))
    with pytest.raises(FatalError, match=r"TOP error 41 .*\(unknown scene 3001\)"):
        decrypt({**query, "scene": "3001"})
    with pytest.raises(FatalError, match="TOP error 40"):
        client.call(DECRYPT_METHOD, {})
    protected = next(
        o for o in sandbox.world.orders_for("tmall-flagship") if top_decrypt_sim.privacy_protected(o.order_id)
    )
    (virtual,) = decrypt({**query, "oaid": top_sim.oaid_of(protected), "tid": protected.order_id})
    assert virtual["privacy_protection"] is True and virtual["secret_no_expire_time"]
    assert virtual["mobile"] == top_decrypt_sim.virtual_number(protected.order_id) != protected.receiver_phone


def test_decrypt_calls_count_against_the_app_limit(make_sandbox):
    server = make_sandbox(rate_limits=True, platform=(("top_sim.CALLS_PER_SECOND", 2.0),))
    http = HttpClient("tmall", "tmall-flagship")
    client = TopClient(shop_config(server, "tmall", "tmall-flagship"), http)
    order = server.world.orders_for("tmall-flagship")[0]
    query = json.dumps([{"oaid": top_sim.oaid_of(order), "tid": order.order_id, "scene": "2002"}])
    for _ in range(3):
        client.call(DECRYPT_METHOD, {"query_list": query})
    assert http.stats.throttled >= 1, "3 calls at 2 calls/s must hit code 7"
    assert len(decrypt_sim(server).calls) == 3, "each served once the ban was over"


def test_empty_and_repeated_pages_change_nothing(sandbox, make_sandbox, pii):
    def make_source(server, **options):
        return TopSource(shop_config(server, "tmall", "tmall-flagship", **options), pii)

    check_empty_and_repeated_pages(sandbox, make_sandbox, make_source, 3)


def test_a_gateway_clock_ahead_of_ours_is_adopted_and_nothing_changes(sandbox, make_sandbox, pii):
    def make_source(server, **options):
        return TopSource(shop_config(server, "tmall", "tmall-flagship", **options), pii)

    check_gateway_clock_ahead(sandbox, make_sandbox, make_source)


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-01 00:00:00",
        "2026-11-11 23:59:59",
        "2024-02-29 12:00:01",
        "1999-12-31 16:00:00",
        "2026-1-5 1:2:3",
    ],
)
def test_a_china_time_parses_to_the_utc_instant_strptime_gives(text):
    expected = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ).astimezone(UTC)
    assert parse_cst(text) == expected
    assert parse_cst(text).tzinfo is UTC


def test_a_china_time_is_the_zones_instant_on_every_day_including_the_years_of_summer_time():
    # China kept summer time 1986-1991 (UTC+9 in summer): parse_cst subtracts a fixed eight hours only
    # from 1992 on; on every day from 1980 to 2060, at noon and just before midnight, it agrees with
    # the zone
    day, last = date(1980, 1, 1), date(2060, 12, 31)
    while day <= last:
        for clock in ("12:00:00", "23:59:59"):
            text = f"{day.isoformat()} {clock}"
            expected = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ).astimezone(UTC)
            assert parse_cst(text) == expected, text
        day += timedelta(days=1)
    assert parse_cst("1991-07-01 12:00:00") == datetime(1991, 7, 1, 3, tzinfo=UTC)  # summer time: UTC+9


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-01T10:00:00",  # ISO's T: not TOP's shape
        "2026-10-01 10:00+08",  # an offset, nineteen characters long: must not pass for China time
        "2026-10-01 10:00:00Z",
        "2026-13-01 10:00:00",
        "2026-10-01 24:00:00",
        "",
    ],
)
def test_a_time_in_another_shape_is_refused(text):
    with pytest.raises(ValueError):
        parse_cst(text)
