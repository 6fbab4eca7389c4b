"""The pipeline under the sandbox's transport faults (429s with and without Retry-After, 502/503
from a gateway, connections reset, JSON cut in half) and the marketplaces' paging faults (a page
served empty once, records repeated across pages) and an access token that expires mid-pull
publishes exactly what a clean run does: no
order lost, none duplicated, every amount exact."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from connectors.config import DEFAULT_CONFIG
from connectors.sandbox.exports import write_exports
from connectors.sandbox.faults import (
    FAULT_PROFILES,
    PAGING_FAULTS,
    SESSION_FAULTS,
    TRANSPORT_FAULTS,
    TransportFaults,
    fault_rate,
)
from pipelines.runner import run_range
from tests.conftest import point_pipeline_at
from tests.test_pipeline import assert_published_equal, orders_snapshot

pytestmark = pytest.mark.slow


WINDOWED = ("tmall", "taobao", "jd", "pinduoduo", "douyin", "mini_program", "alibaba_1688")


def _with_small_pages(path: Path) -> Path:
    """The built-in sandbox config with `page_size = 10` for every shop paged by numbered pages."""
    blocks = DEFAULT_CONFIG.read_text(encoding="utf-8").split("\n[[")
    for index, block in enumerate(blocks):
        channel = re.search(r'^channel = "([a-z_0-9]+)"', block, re.MULTILINE)
        if block.startswith("shops]]") and channel and channel.group(1) in WINDOWED:
            blocks[index] = re.sub(
                r"^(shop_id = .*)$", r"\1\npage_size = 10", block, count=1, flags=re.MULTILINE
            )
    path.write_text("\n[[".join(blocks), encoding="utf-8")
    return path


def test_faults_strike_at_their_rate_and_none_without_a_profile():
    quiet = TransportFaults(FAULT_PROFILES["none"], seed=1)
    assert {quiet.draw() for _ in range(1000)} == {None}
    noisy = TransportFaults(FAULT_PROFILES["mix"], seed=1)
    draws = [noisy.draw() for _ in range(40_000)]
    for kind in TRANSPORT_FAULTS:  # 1% (a stall 0.3%) each: 400 (120) expected, far from half or 1.5x
        expected = 40_000 * fault_rate(kind)
        assert expected / 2 < draws.count(kind) < expected * 1.5, (kind, draws.count(kind))
    assert noisy.injected == {kind: draws.count(kind) for kind in TRANSPORT_FAULTS}


@pytest.mark.slow(seconds=55)
def test_the_whole_range_under_the_mix_of_faults_publishes_what_a_clean_run_does(
    full_run, make_sandbox, tmp_path, monkeypatch
):
    faulty = make_sandbox(faults=FAULT_PROFILES["mix"])
    world = faulty.world
    data = point_pipeline_at(faulty, tmp_path, monkeypatch)
    monkeypatch.setenv("OMNI_HTTP_READ_TIMEOUT", "1")  # shorter than the sandbox's stall
    # small pages, so the marketplaces' windows span several and the paging faults strike
    monkeypatch.setenv("OMNI_CONFIG", str(_with_small_pages(tmp_path / "small-pages.toml")))
    write_exports(world, data / "drops")
    result = run_range(world.start, world.end, instance=dg.DagsterInstance.ephemeral(), settle_seconds=0)
    assert result.ok, result.failures
    injected = faulty.injected_faults()
    assert all(injected[kind] >= 1 for kind in (*TRANSPORT_FAULTS, *PAGING_FAULTS, *SESSION_FAULTS)), injected

    # the clean run (full_run) compared every order with the truth; this one must equal it
    pd.testing.assert_frame_equal(orders_snapshot(data), orders_snapshot(full_run.data))
    assert_published_equal(
        data,
        full_run.data,
        "select * from marts.fct_channel_daily order by all",
        "select * from marts.fct_channel_traffic_daily order by all",
        "select * from marts.fct_voucher_redemptions order by all",
        "select count(*) as accounts, count(distinct customer_id) as customers from marts.customer_accounts",
    )
