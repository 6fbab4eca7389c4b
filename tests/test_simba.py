"""Taobao 直通车 ad spend (taobao.simba.rpt.custbase.get) against the TOP simulator over real HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from connectors.common.errors import CredentialError, FatalError
from connectors.common.http import HttpClient
from connectors.common.timeutil import china_days_window
from connectors.config import TrafficConfig
from connectors.sandbox import simba_sim
from connectors.sandbox.credentials import simba_subway_token
from connectors.sandbox.server import SandboxServer
from connectors.top.simba import METHOD, SimbaClient, SimbaSource
from tests.test_oceanengine import check_ads, pull_records, traffic_entry, with_options, world_days

SIMBA_SHOPS = [("tmall", "tmall-flagship"), ("taobao", "taobao-store")]


def make_source(
    server: SandboxServer, shop_id: str = "tmall-flagship", env: dict[str, str] | None = None, **options: Any
) -> SimbaSource:
    entry = traffic_entry(server, "simba", shop_id, **(env or {}))
    return SimbaSource(with_options(entry, **options), None)  # type: ignore[arg-type]


def make_client(server: SandboxServer, entry: TrafficConfig | None = None) -> SimbaClient:
    entry = entry or traffic_entry(server, "simba", "tmall-flagship")
    return SimbaClient(entry, HttpClient(entry.channel, entry.shop_id))


def ask(server: SandboxServer, client: SimbaClient | None = None, **params: Any) -> list[dict[str, Any]]:
    """One call with the flagship's subway token over the world's first day; the rows as sent."""
    first, _ = world_days(server)
    business = {
        "subway_token": simba_subway_token("tmall-flagship"),
        "start_time": str(first),
        "end_time": str(first),
        "source": "SUMMARY",
        **params,
    }
    body = (client or make_client(server)).call(METHOD, business)
    assert isinstance(body["rpt_cust_base_list"], str), "the list is JSON text, parsed again"
    rows: list[dict[str, Any]] = json.loads(body["rpt_cust_base_list"])
    return rows


@pytest.mark.parametrize(("channel", "shop_id"), SIMBA_SHOPS)
def test_every_day_equals_the_truth_over_several_windows_and_pages(sandbox, channel, shop_id):
    source = make_source(sandbox, shop_id, window_days=4, page_size=3)
    assert source.entry.channel == channel
    landed = pull_records(source, *world_days(sandbox))
    check_ads(landed, sandbox.world.traffic.ad_days(shop_id), shop_id, conversions=False)
    # windows of 4, 4 and 2 days, paged by 3 until a short page: 2 + 2 + 1
    assert (source.stats.requests, source.stats.pages, source.stats.rows) == (5, 5, 10)
    for record in landed.values():
        assert record["platform"]["source"] == "SUMMARY"
        assert record["platform"]["nick"] == sandbox.world.shop(shop_id).name
    full_pages = make_source(sandbox, shop_id, window_days=4, page_size=2)
    assert pull_records(full_pages, *world_days(sandbox)) == landed
    assert full_pages.stats.requests == 3 + 3 + 2, "a full last page costs one more, empty, request"


def test_the_rows_and_the_split_into_on_and_off_site(sandbox):
    first, _ = world_days(sandbox)
    (summary,) = ask(sandbox)
    assert list(summary) == list(simba_sim.ROW_FIELDS)
    assert summary["date"] == str(first) and summary["source"] == "SUMMARY"
    truth = sandbox.world.traffic.ad_days("tmall-flagship")[0]
    assert (summary["impression"], summary["click"], summary["cost"]) == tuple(
        str(v) for v in (truth.impressions, truth.clicks, truth.cost_fen)
    ), "numbers as text, cost in fen"
    on_site, off_site = ask(sandbox, source="1,2")
    assert (on_site["source"], off_site["source"]) == ("1", "2")
    for field in ("impression", "click", "cost"):
        assert int(on_site[field]) + int(off_site[field]) == int(summary[field]), field
        assert 0 < int(off_site[field]) < int(on_site[field]), "most of it on site"
    assert ask(sandbox, source="2") == [off_site]
    week = ask(sandbox, end_time=str(first + timedelta(days=6)), source="1,2", page_no=2, page_size=5)
    assert [(r["date"], r["source"]) for r in week] == [
        (str(first + timedelta(days=2)), "2"),
        *[(str(first + timedelta(days=d)), s) for d in (3, 4) for s in ("1", "2")],
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "SUMMARY,1"}, "SUMMARY must be asked alone"),
        ({"source": "3"}, "source must be"),
        ({"source": "1,1"}, "source must be"),
        ({"end_time": "2027-02-03"}, "more than 90 days"),
        ({"end_time": "2026-11-04"}, "end_time must not be before"),
        ({"start_time": "20261105"}, "yyyy-mm-dd"),
        ({"page_size": 501}, "page_size must be 1-500"),
        ({"page_no": 0}, "page_no >= 1"),
    ],
)
def test_the_simulator_rejects_bad_arguments(sandbox, params, message):
    with pytest.raises(
        FatalError, match=rf"TOP error 41 Invalid Arguments \(.*{message}.*isv.invalid-parameter"
    ):
        ask(sandbox, **params)


def test_ninety_days_and_a_full_page_are_allowed(sandbox):
    first, _ = world_days(sandbox)
    rows = ask(sandbox, end_time=str(first + timedelta(days=89)), page_size=500)
    assert len(rows) == 10, "only the world's days have data"


def test_a_wrong_subway_token_names_its_variable(sandbox):
    source = make_source(sandbox, env={"OMNI_TMALL_FLAGSHIP_SUBWAY_TOKEN": "subway-4711"})
    with pytest.raises(
        CredentialError, match=r"TOP error 15 .*isv.invalid-subway-token.*OMNI_TMALL_FLAGSHIP_SUBWAY_TOKEN"
    ) as error:
        pull_records(source, *world_days(sandbox))
    assert "subway-4711" not in str(error.value) and "tmall/tmall-flagship" in str(error.value)
    assert source.stats.requests == 1, "not retried"
    # another shop's token does not open this shop's account either
    with pytest.raises(CredentialError, match="subway"):
        ask(sandbox, subway_token=simba_subway_token("taobao-store"))
    with pytest.raises(FatalError, match=r"TOP error 40 .*subway_token"):
        ask(sandbox, subway_token="")


def test_the_gateway_checks_are_the_tops(sandbox):
    """Signature, session and app key are checked for 直通车 exactly as for trades."""
    source = make_source(sandbox, env={"OMNI_TOP_APP_SECRET": "not-the-secret"})
    with pytest.raises(CredentialError, match=r"TOP error 25 Invalid Signature.*OMNI_TOP_APP_SECRET"):
        pull_records(source, *world_days(sandbox))
    source = make_source(sandbox, env={"OMNI_TMALL_FLAGSHIP_SESSION": "expired"})
    with pytest.raises(CredentialError, match=r"TOP error 27 Invalid Session.*OMNI_TMALL_FLAGSHIP_SESSION"):
        pull_records(source, *world_days(sandbox))


def test_a_shop_without_a_simba_account_and_a_wrong_nick(sandbox):
    outlet = traffic_entry(
        sandbox, "simba", "tmall-flagship", OMNI_TMALL_FLAGSHIP_SESSION="sandbox-session-tmall-outlet"
    )
    with pytest.raises(FatalError, match=r"TOP error 15 .*isv.subway-account-not-exist"):
        ask(sandbox, make_client(sandbox, outlet))
    source = make_source(sandbox, nick="别人的店")
    with pytest.raises(FatalError, match=r"isv.nick-not-match"):
        pull_records(source, *world_days(sandbox))
    assert source.stats.requests == 1


def test_options_are_checked(sandbox):
    for options in ({"window_days": 91}, {"page_size": 501}, {"page_size": True}):
        with pytest.raises(FatalError, match=r"options: (window_days|page_size) must be"):
            make_source(sandbox, **options)
    with pytest.raises(FatalError, match="options: cost_unit must be one of fen, yuan"):
        make_source(sandbox, cost_unit="jiao")


def test_an_account_reporting_yuan_as_json_numbers(make_sandbox):
    server = make_sandbox(platform=(("simba_sim.COST_UNIT", "yuan"), ("simba_sim.NUMBERS_AS_TEXT", False)))
    (row,) = ask(server)
    assert isinstance(row["impression"], int) and isinstance(row["cost"], float)
    source = make_source(server, cost_unit="yuan", window_days=7)
    landed = pull_records(source, *world_days(server))
    check_ads(landed, server.world.traffic.ad_days("tmall-flagship"), "tmall-flagship", conversions=False)


def test_throttling_is_retried_and_nothing_is_lost(make_sandbox):
    server = make_sandbox(rate_limits=True, platform=(("top_sim.CALLS_PER_SECOND", 4.0),))
    source = make_source(server, "taobao-store", page_size=2)
    landed = pull_records(source, *world_days(server))
    check_ads(landed, server.world.traffic.ad_days("taobao-store"), "taobao-store", conversions=False)
    assert source.stats.throttled >= 1, "6 pages at 4 calls/s must hit code 7"
    assert source.stats.requests == 6 + source.stats.retries


def test_an_unknown_entity_is_an_error(sandbox):
    first, _ = world_days(sandbox)
    with pytest.raises(ValueError, match="traffic"):
        next(make_source(sandbox).pull("orders", *china_days_window(first, first)))
