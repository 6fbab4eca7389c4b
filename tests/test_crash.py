"""A pipeline process killed with SIGKILL at its most damaging points (a day's landing file renamed
while the others are not, a model or the identity tables half-written, staging committed while the
marts are not, the published copy written but not renamed) leaves the analysts' warehouse exactly
as the last good run published it, byte for byte, readable; and the rerun publishes what an
uninterrupted run does.

The kills are `warehouse/failpoints.py` crash points: the process dies where the test names, so
each point is reached on every run (a random-time kill soak is `benchmarks/crash_soak.py`)."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import subprocess_env
from tests.test_pipeline import assert_published_equal, orders_snapshot

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CRASH_POINTS = [
    "landing.day_renamed",  # landing: the first day of a two-day extraction in place, the second not
    "model.committed:core.orders_checked",  # staging and core new, every mart still the old build
    "identity.uncommitted",  # customer ids computed, their tables replaced in an open transaction
    "publish.copied",  # the build copied beside the published file, not yet renamed over it
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _omni_run(env: dict[str, str], first: str, last: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--start", first, "--end", last],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.slow(seconds=100)
def test_a_killed_run_leaves_the_last_good_warehouse_and_the_rerun_completes_it(full_run, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(full_run.data, data)
    warehouse = data / "analytics.duckdb"
    last_good = _sha256(warehouse)
    env = subprocess_env(
        data,
        OMNI_SANDBOX_URL=full_run.server.url,
        OMNI_POS_DATABASE_URL=f"sqlite:///{full_run.tmp_path / 'pos.sqlite'}",
        OMNI_HTTP_PACING="off",  # the test world has no rate limits
    )
    world = full_run.server.world
    first, last = (world.end - pd.Timedelta(days=1)).isoformat(), world.end.isoformat()

    for point in CRASH_POINTS:
        killed = _omni_run({**env, "OMNI_FAILPOINT": point}, first, last)
        assert killed.returncode == -signal.SIGKILL, f"{point} was never reached:\n{killed.stderr[-2000:]}"
        assert _sha256(warehouse) == last_good, f"killed at {point}, the published warehouse changed"
        with duckdb.connect(str(warehouse), read_only=True) as analyst:
            analyst.execute("select count(*) from marts.fct_orders").fetchone()
    assert list(data.glob(".analytics.duckdb.*.tmp")), "the kill at publish.copied left no copy behind"
    assert any((data / "landing" / "_tmp").iterdir()), "the kill during landing left no extraction"

    rerun = _omni_run(env, first, last)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert _sha256(warehouse) != last_good
    # every kill's half-done work is gone from what analysts see: the rerun equals the clean run
    pd.testing.assert_frame_equal(orders_snapshot(data), orders_snapshot(full_run.data))
    assert_published_equal(
        data,
        full_run.data,
        "select * from marts.fct_channel_daily order by all",
        "select * from marts.fct_order_lines order by all",
        "select channel, account_id, customer_id from marts.customer_accounts order by all",
        "select * from audit.quarantine order by all",
    )
