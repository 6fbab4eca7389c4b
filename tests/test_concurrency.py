"""Runs that overlap outside the Dagster daemon's `duckdb_writer` pool (an operator's `omni run`
backfill while another `omni run` is in progress, or while the daemon's nightly run transforms)
take turns on the build file instead of failing, and together publish what one run over both
ranges publishes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import subprocess_env
from tests.test_pipeline import assert_published_equal, orders_snapshot

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow(seconds=50)
def test_two_overlapping_runs_both_finish_and_publish_what_one_run_does(full_run, tmp_path):
    world = full_run.server.world
    env = subprocess_env(
        tmp_path / "data",
        OMNI_SANDBOX_URL=full_run.server.url,
        OMNI_POS_DATABASE_URL=f"sqlite:///{full_run.tmp_path / 'pos.sqlite'}",
        OMNI_HTTP_PACING="off",  # the test world has no rate limits
    )
    middle = world.start + (world.end - world.start) / 2
    ranges = [(world.start, middle), (middle + timedelta(days=1), world.end)]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "run", "--start", str(first), "--end", str(last)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for first, last in ranges
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        # before the build file was shared in turns, both failed: "Could not set lock on file"
        assert run.returncode == 0, output[-3000:]

    data = tmp_path / "data"  # (full_run also loaded export files, so traffic differs: not compared)
    pd.testing.assert_frame_equal(orders_snapshot(data), orders_snapshot(full_run.data))
    assert_published_equal(
        data,
        full_run.data,
        "select * from marts.fct_order_lines order by all",
        "select * from marts.fct_voucher_redemptions order by all",
        "select * from marts.channel_migration order by all",
        "select count(*) as accounts, count(distinct customer_id) as customers from marts.customer_accounts",
    )
