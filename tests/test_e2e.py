"""End to end, as a user runs it: `omni demo` in a subprocess, and `make ui`'s Dagster (webserver +
daemon) with a backfill launched from the UI in headless Chromium (Playwright)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from connectors.sandbox.generate import cached_world
from pipelines.summary import channel_summary
from tests.browser import artifacts_dir, chromium
from tests.conftest import subprocess_env
from tests.pii_scan import findings, needles, scan
from tests.processes import default_signals, free_port, graphql, wait

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _truth_summary(truth: pd.DataFrame) -> dict[str, tuple]:
    out = {}
    for channel, group in truth.groupby("channel"):
        paid = group[group["paid_cny"] > 0]
        buyers = paid["account_id"].dropna().nunique() + int(paid["account_id"].isna().sum())
        out[channel] = (
            len(group),
            buyers,
            group["gmv_cny"].sum(),
            (group["paid_cny"] - group["refunded_cny"]).sum(),
        )
    return out


@pytest.mark.slow(seconds=85)
def test_demo_summary_agrees_with_the_truth_and_writes_no_secret_or_plain_pii(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--people", "400"],
        cwd=REPO,
        env=subprocess_env(tmp_path / "data", OMNI_PII_KEY=PII_KEY),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stage in ("landing", "exports", "warehouse"):  # progress as each stage ends
        assert re.search(rf"^  {stage}: [1-9]\d* steps done, 0 failed, \d+ s$", proc.stdout, re.MULTILINE), (
            stage
        )
    data = tmp_path / "data"
    world = json.loads((data / "demo.json").read_text())
    assert set(world) == {"seed", "people", "world_version", "start", "end"}
    start, end = date.fromisoformat(world["start"]), date.fromisoformat(world["end"])
    assert (end - start).days == 29

    truth_dir = tmp_path / "truth"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "sandbox",
            "truth",
            "--seed",
            str(world["seed"]),
            "--people",
            str(world["people"]),
            "--start",
            world["start"],
            "--end",
            world["end"],
            "--out",
            str(truth_dir),
        ],
        cwd=REPO,
        env=subprocess_env(tmp_path / "data"),
        check=True,
        capture_output=True,
    )
    truth = pd.read_parquet(truth_dir / "orders.parquet")
    assert set(truth.columns) >= {
        "channel",
        "shop_id",
        "order_id",
        "person_id",
        "created_date",
        "status",
        "paid_cny",
        "refunded_cny",
    }
    expected = _truth_summary(truth)
    got = {row[0]: row[1:5] for row in channel_summary(data / "analytics.duckdb", start, end)}
    assert got == expected
    for channel, (orders, buyers, gmv, net) in expected.items():  # ... and that is what it printed
        assert f"{channel:<14}{orders:>8,}{buyers:>8,}{gmv:>15,.2f}{net:>17,.2f}" in proc.stdout
    assert "analytics.duckdb" in proc.stdout

    # Every byte the run wrote (landing, warehouse, Dagster storage and logs, its output) holds
    # no sandbox secret, no hashing key and no person's phone, email, address or name.
    world = cached_world(world["seed"], world["people"], start, end)
    found = needles(world, PII_KEY)
    hits, read = scan(data, found, {"demo stdout": proc.stdout, "demo stderr": proc.stderr})
    assert hits == []
    assert read > 50, "the scan read the landing files, the warehouse tables and Dagster's storage"
    # ... and the scan does find them where they are: the sandbox's own store system keeps plain
    # names, and a warehouse table holding a phone is caught through DuckDB's compression
    pos_bytes = (data / "sandbox" / "pos.sqlite").read_bytes().decode("utf-8", errors="replace")
    assert any(" name " in h for h in findings("pos", pos_bytes, found))
    (tmp_path / "leak").mkdir()
    with duckdb.connect(str(tmp_path / "leak" / "w.duckdb")) as conn:
        conn.execute("create table t as select ? as v from range(5000)", [sorted(found.phones)[0]])
    leaks, _ = scan(tmp_path / "leak", found)
    assert len(leaks) == 1 and "phone" in leaks[0]


PII_KEY = "e2e-only-pii-key-5f1c"  # a test value, scanned for in everything the demo writes


def _launch_backfill_in_the_ui(port: int, asset: str, days: list[str], artifacts: Path) -> str:
    """What an engineer does in the browser: the asset's page, Materialize…, a custom partition
    range, Launch backfill; returns the backfill id the UI reports. Screenshots of each step."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/assets/{asset}")
        materialize = page.get_by_role("button", name="Materialize…")
        materialize.wait_for(timeout=60_000)
        skip = page.get_by_role("button", name="Skip")  # a first visit may be greeted by a dialog
        for _ in range(10):
            if skip.is_visible():
                skip.click()
            try:
                materialize.click(timeout=3000)
                break
            except PlaywrightTimeout:  # something (that dialog) covered the button: look again
                continue
        dialog = page.locator(".bp5-dialog")
        partitions = dialog.locator("input[type=text]")
        partitions.fill(f"[{min(days)}...{max(days)}]")
        partitions.press("Enter")
        dialog.get_by_text(f"{len(days)} partitions", exact=True).wait_for(timeout=10_000)
        page.screenshot(path=str(artifacts / "ui-1-backfill-dialog.png"))
        dialog.get_by_role("button", name="Launch backfill").click()
        created = page.get_by_text("Created backfill")
        created.wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts / "ui-2-backfill-created.png"))
        return created.inner_text().removeprefix("Created backfill").strip()


@pytest.mark.slow(seconds=130)
@pytest.mark.timeout(600)  # the UI, the daemon and their runs: 90-140 s here, more when the machine is busy
def test_make_ui_backfill_of_one_channel_publishes_and_sigterm_stops_everything(tmp_path):
    ui_port, sandbox_port = free_port(), free_port()
    storage = tmp_path / "dagster"
    storage.mkdir()
    env = subprocess_env(
        tmp_path / "data",
        DAGSTER_HOME=str(REPO),
        OMNI_DAGSTER_STORAGE=str(storage),
        OMNI_UI_PORT=str(ui_port),
        OMNI_SANDBOX_PORT=str(sandbox_port),
    )
    log = (tmp_path / "ui.log").open("wb")  # a file, not a pipe: nobody would drain a pipe
    ui = subprocess.Popen(  # the command users run; SIGTERM goes to make itself
        ["make", "--no-print-directory", "ui"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=default_signals,  # as from a shell: whatever this test process ignores or blocks
    )
    try:
        wait(lambda: graphql(ui_port, "{ version }")["data"]["version"], 120, "the Dagster webserver")
        # An operator drops the shops' analytics exports: the daemon's sensor must load them.
        drops = tmp_path / "data" / "drops"
        subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "sandbox", "exports", "--out", str(drops)],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        dropped = sorted(p.name for p in drops.rglob("*.*"))
        assert len(dropped) == 6, dropped
        end = date.today() - timedelta(days=2)
        days = [(end - timedelta(days=i)).isoformat() for i in range(3)]
        backfill_id = _launch_backfill_in_the_ui(ui_port, "landing/pos/orders", days, artifacts_dir(tmp_path))
        assert backfill_id
        published = tmp_path / "data" / "analytics.duckdb"

        def pos_days_published() -> set[str] | None:
            if not published.exists():
                return None
            with duckdb.connect(str(published), read_only=True) as conn:
                rows = conn.execute(
                    "select distinct cast(partition_date as varchar) from raw.pos__orders"
                ).fetchall()
            return {r[0] for r in rows} or None

        assert wait(pos_days_published, 240, "the sensor-triggered warehouse run to publish") == set(days)

        def export_shops_published() -> int | None:
            with duckdb.connect(str(published), read_only=True) as conn:
                row = conn.execute(
                    "select count(distinct shop_id) from staging.stg_traffic__reports "
                    "where report_source = 'exports'"
                ).fetchone()
            return row[0] if row and row[0] == len(dropped) else None

        wait(export_shops_published, 240, "the export-file sensor's load to be published")
        assert sorted(p.name for p in drops.glob("*/*/_loaded/*")) == dropped
    finally:
        os.kill(ui.pid, signal.SIGTERM)
        try:
            ui.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
            tail = (tmp_path / "ui.log").read_text(errors="replace")[-3000:]
            raise AssertionError(
                f"make ui did not stop within 60 s of SIGTERM; its log ends:\n{tail}"
            ) from None
    log.close()

    def leftovers() -> list[str]:
        found = subprocess.run(["pgrep", "-a", "-s", str(ui.pid)], capture_output=True, text=True).stdout
        return found.splitlines()

    # dagster dev's own children finish their shutdown a moment after it exits
    deadline = time.monotonic() + 30
    while leftovers() and time.monotonic() < deadline:
        time.sleep(1)
    assert not leftovers(), f"processes left running after SIGTERM: {leftovers()}"
