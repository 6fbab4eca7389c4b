"""Crash soak: `omni run` killed with SIGKILL at random moments (run on demand, not in tests).

    .venv/bin/python -m benchmarks.crash_soak --kills 12 --seed 1

A small sandbox world is served on loopback and the pipeline runs day by day, as the nightly run
does. For each day: `omni run` for that day is started and killed after a random delay (uniform
over the time a clean run of one day takes, so kills fall in landing, transforms, identity and
publishing alike), then rerun to completion. After every kill the analysts' file must be either
the previous good one byte for byte, or a complete new one whose every mart equals what the rerun
then publishes (the kill came after the rename); it must open read-only. After the last day the
warehouse must equal an uninterrupted run of the same days in a fresh folder. Appends a Markdown
table to benchmarks/results/crash_soak.md. The deterministic crash points are in
tests/test_crash.py.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from connectors.sandbox.pos_db import write_pos_database
from connectors.sandbox.server import SandboxServer, SandboxSettings

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "crash_soak.md"


def _env(data: Path, server: SandboxServer, pos: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNI_", "DAGSTER_"))}
    env.update(
        OMNI_DATA_DIR=str(data),
        OMNI_SANDBOX_URL=server.url,
        OMNI_POS_DATABASE_URL=f"sqlite:///{pos}",
        GX_ANALYTICS_ENABLED="false",
    )
    return env


def _start(env: dict[str, str], day: date) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--start", day.isoformat(), "--end", day.isoformat()],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run(env: dict[str, str], day: date) -> float:
    began = time.monotonic()
    if _start(env, day).wait() != 0:
        raise SystemExit(f"the clean run of {day} failed")
    return time.monotonic() - began


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _files_state(data: Path) -> tuple[int, int, int, float]:
    """Landing files in place, unfinished extractions, unfinished copies of the published file,
    the build file's modification time."""
    landing, build = data / "landing", data / "warehouse" / "build.duckdb"
    landed = sum(1 for _ in landing.rglob("part-*.parquet")) if landing.exists() else 0
    unfinished = sum(1 for _ in (landing / "_tmp").iterdir()) if (landing / "_tmp").exists() else 0
    copies = len(list(data.glob(".analytics.duckdb.*.tmp")))
    return landed, unfinished, copies, build.stat().st_mtime if build.exists() else 0.0


def _stage_reached(data: Path, before: tuple[int, int, int, float], published_changed: bool) -> str:
    """How far the killed run got, read from what it left behind."""
    landed, unfinished, copies, build_mtime = _files_state(data)
    if published_changed:
        return "after publishing"
    if copies != before[2]:
        return "publishing"
    if build_mtime != before[3]:
        return "transforms"
    if (landed, unfinished) != before[:2]:
        return "landing"
    return "starting"


def marts_digest(path: Path) -> str:
    """One hash over every marts and audit table's rows in a stable order."""
    digest = hashlib.sha256()
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name in ('marts', 'audit') order by 1"
        ).fetchall()
        for (table,) in tables:
            digest.update(table.encode())
            for row in conn.execute(f"select * from {table} order by all").fetchall():
                digest.update(repr(row).encode())
    return digest.hexdigest()


def soak(kills: int, seed: int, people: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    first_day = date(2026, 11, 1)
    days = [first_day + timedelta(days=i) for i in range(kills)]
    settings = SandboxSettings(seed=11, people=people, start=first_day, end=days[-1], rate_limits=False)
    rows: list[dict[str, object]] = []
    with SandboxServer(settings) as server, tempfile.TemporaryDirectory() as tmp:
        pos = Path(tmp) / "pos.sqlite"
        write_pos_database(server.world, f"sqlite:///{pos}")
        soaked, clean = Path(tmp) / "soaked", Path(tmp) / "clean"
        env, clean_env = _env(soaked, server, pos), _env(clean, server, pos)
        warehouse = soaked / "analytics.duckdb"
        for day in days:
            clean_seconds = _run(clean_env, day)  # the uninterrupted run, and the kill's time scale
            before = _sha256(warehouse)
            files_before = _files_state(soaked)
            delay = rng.uniform(0.5, clean_seconds)
            proc = _start(env, day)
            time.sleep(delay)
            finished_first = proc.poll() is not None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            after_kill = _sha256(warehouse)
            stage = _stage_reached(soaked, files_before, after_kill != before)
            killed_digest = marts_digest(warehouse) if after_kill and after_kill != before else None
            _run(env, day)
            rerun_digest = marts_digest(warehouse)
            if after_kill == before:
                outcome = "previous good, unchanged"
            elif killed_digest == rerun_digest:
                outcome = "new complete build"
            else:
                outcome = "MIXED: differs from both"
            rows.append(
                {
                    "day": day.isoformat(),
                    "kill_after_s": round(delay, 1),
                    "clean_run_s": round(clean_seconds, 1),
                    "stage": stage,
                    "outcome": outcome + (" (run had already finished)" if finished_first else ""),
                    "rerun_equals_uninterrupted": rerun_digest == marts_digest(clean / "analytics.duckdb"),
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=12, help="days, one random kill each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--people", type=int, default=400)
    args = parser.parse_args()
    rows = soak(args.kills, args.seed, args.people)
    bad = [r for r in rows if r["outcome"].startswith("MIXED") or not r["rerun_equals_uninterrupted"]]
    header = (
        "| day | killed after (s) | clean run (s) | killed in | published file after the kill | rerun ok |"
    )
    lines = [
        f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {len(rows)} kills, seed {args.seed}, "
        f"{args.people} people\n",
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}\n",
        header,
        "|---|---:|---:|---|---|---|",
        *(
            f"| {r['day']} | {r['kill_after_s']} | {r['clean_run_s']} | {r['stage']} | {r['outcome']} | "
            f"{'yes' if r['rerun_equals_uninterrupted'] else 'NO'} |"
            for r in rows
        ),
        f"\nViolations: {len(bad)}.\n",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines))
    print("\n".join(lines))
    if bad:
        raise SystemExit(f"{len(bad)} kills broke the guarantee")


if __name__ == "__main__":
    main()
