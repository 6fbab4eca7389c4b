"""Transform scaling and the nightly run's cost against history (run on demand, not in tests).

    .venv/bin/python -m benchmarks.transforms --work DIR --people 20000 --years 3 --scales 1,10
    .venv/bin/python -m benchmarks.transforms --work DIR --nightly
    .venv/bin/python -m benchmarks.transforms --work DIR --nightly --copies 10

1. **History**: a sandbox world of `--people` over `--years` (to the day before `--end`) served by
   `omni sandbox serve` (rate limits off; TOP, Pinduoduo and Shopify serve the whole history instead
   of their 60–90 days) and landed by the real `landing_job` over the whole range: orders, customers
   and the API traffic reports, every connector as in production. Kept in `--work` and reused.
2. **Scales**: scale k copies every landed order k times (record ids and Meituan voucher codes
   suffixed `~i`, everything else as landed: the same days, buyers and amounts), one file per
   landed file, so 10M orders over three years sit in as many files as 1M.
3. **Rebuild** at each scale: `warehouse_job` (every model, identity, CLV, the checks, the publish)
   in a fresh process on a new build file — a full rebuild; wall time, the peak RSS summed over the
   process and its children, the slowest steps, and the floor: one DuckDB scan of every column of
   the same landing files.
4. `--nightly`: the day `--end` rebuilt on a warehouse holding only that day, and on one holding the
   whole history (built the day before); then the same day rebuilt in full on the history (it must
   equal the nightly path; the table checksums are compared). With `--copies k`, on the history
   scaled as in 2 (the day's orders k times too): how the nightly's cost grows with the history.

Appends Markdown tables to benchmarks/results/transforms.md with the machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.connectors import sandbox
from benchmarks.rss import communicate_sampling
from warehouse.models import RUN_LOG_TABLES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "transforms.md"
# the simulators keep what the platforms keep (60-90 days); a benchmark history needs years
HISTORY_SETTINGS = {f"{sim}.HISTORY": "2000 days" for sim in ("top_sim", "pdd_sim", "shopify_sim")}
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# --- children (each runs in a fresh process) -----------------------------------------------------


def _events_by_step(instance, run_id: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Seconds each step took, from the run's event log."""
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            took[event.step_key] = entry.timestamp - started[event.step_key]
    return took


def child_land(first: str, last: str) -> None:
    import dagster as dg

    from pipelines.definitions import defs

    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("landing_job").execute_in_process(
        instance=instance,
        run_config=QUIET,
        tags=dict(zip(RANGE_TAGS, (first, last), strict=True)),
        raise_on_error=False,
    )
    failures = [e.step_key for e in result.all_events if e.is_step_failure]
    print(json.dumps({"success": result.success, "failed_steps": failures}))


def child_rebuild() -> None:
    import dagster as dg

    from pipelines.definitions import defs

    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("warehouse_job").execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    steps = _events_by_step(instance, result.run_id)
    failures = [
        f"{e.step_key}: {e.step_failure_data.error.message.strip()[:300]}"
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data and e.step_failure_data.error
    ]
    print(json.dumps({"success": result.success, "steps": steps, "failures": failures}))


# --- measuring a child --------------------------------------------------------------------------


def measure(command: list[str], env: dict[str, str]) -> tuple[dict, float, float]:  # type: ignore[type-arg]
    """Run `command`, sampling its process tree's RSS; returns its last stdout line as JSON, the
    wall seconds and the peak RSS (MB)."""
    began = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    out, _, peak = communicate_sampling(process)
    seconds = time.monotonic() - began
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
    return json.loads(out.strip().splitlines()[-1]), seconds, peak


def _child(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.transforms", "--child", *args]


# --- the landing zones ------------------------------------------------------------------------


def _bench_config(work: Path) -> Path:
    text = (ROOT / "config" / "sandbox.toml").read_text(encoding="utf-8")
    lines = "\n".join(f'"{name}" = "{value}"' for name, value in HISTORY_SETTINGS.items())
    assert "[sandbox.platform]\n" in text
    config = work / "bench-sandbox.toml"
    text = text.replace("[sandbox.platform]\n", f"[sandbox.platform]\n{lines}\n", 1)
    config.write_text(text, encoding="utf-8")
    return config


def build_history(work: Path, people: int, first: date, last: date) -> Path:
    """The landed history (reused when complete); returns its data folder."""
    data = work / f"history-{people}-{first}-{last}"
    if (data / "landing" / ".complete").exists():
        return data
    data.mkdir(parents=True, exist_ok=True)
    config = _bench_config(work)
    print(f"generating and landing {first}..{last} for {people} people ...", flush=True)
    with sandbox(people, first, last, rate_limits=False, data_dir=data, config=config) as (env, _):
        env = {**env, "OMNI_HTTP_PACING": "off"}
        outcome, seconds, peak = measure(_child("land", first.isoformat(), last.isoformat()), env)
    print(f"landed in {seconds:.0f} s (peak {peak:.0f} MB): {outcome}", flush=True)
    (data / "landing" / ".complete").write_text(json.dumps(outcome), encoding="utf-8")
    return data


def _order_files(landing: Path) -> list[Path]:
    return sorted(p for p in landing.glob("*/orders/shop=*/dt=*/*.parquet"))


def replicate(history: Path, work: Path, copies: int) -> Path:
    """A landing zone with every order landed `copies` times under new ids (customers and traffic as
    landed); returns its data folder."""
    import duckdb

    source = history / "landing"
    data = work / f"{history.name}-x{copies}"
    landing = data / "landing"
    if (landing / ".complete").exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    print(f"replicating orders x{copies} ...", flush=True)
    began = time.monotonic()
    orders = set(_order_files(source))
    conn = duckdb.connect()
    conn.execute("set preserve_insertion_order = false")
    for path in sorted(source.glob("**/*.parquet")):
        target = landing / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path not in orders:
            os.link(path, target)
            continue
        # record ids (the order id everywhere downstream) and Meituan voucher codes get a copy suffix
        conn.execute(
            f"""
            copy (
                select * replace (
                    case when copy = 0 then record_id else record_id || '~' || copy end as record_id,
                    case when copy = 0 or channel <> 'meituan' then record
                         else regexp_replace(record, '("(?:code|voucher_code|receipt_code)"\\s*:\\s*"[^"]+)"',
                                             '\\1~' || copy || '"', 'g') end as record
                )
                from (select *, '{path.relative_to(source).parts[0]}' as channel
                      from read_parquet('{path}')), range({copies}) as r(copy)
            ) to '{target}' (format parquet, compression zstd)
            """
        )
    conn.close()
    (landing / ".complete").write_text("", encoding="utf-8")
    print(f"replicated in {time.monotonic() - began:.0f} s", flush=True)
    return data


def count_orders(landing: Path) -> tuple[int, int]:
    """(orders, order versions) landed."""
    import duckdb

    files = [str(p) for p in _order_files(landing)]
    row = duckdb.sql(
        f"select count(distinct (record_id, shop)), count(*) "
        f"from read_parquet({files}, hive_partitioning = true)"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def floor_scan(landing: Path) -> float:
    """Seconds for one DuckDB scan of every column of every landed file (the floor of any rebuild)."""
    import duckdb

    files = [str(p) for p in sorted(landing.glob("**/*.parquet"))]
    began = time.monotonic()
    duckdb.sql(
        f"select count(*), sum(strlen(record)), max(modified_at), count(distinct record_id) "
        f"from read_parquet({files}, union_by_name = true)"
    ).fetchall()
    return time.monotonic() - began


def fresh_data_dir(work: Path, name: str, landing: Path) -> Path:
    """A data folder whose landing zone is `landing` (a symlink) and whose warehouse is empty."""
    data = work / name
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    (data / "landing").symlink_to(landing.resolve())
    return data


def rebuild(data: Path, extra_env: dict[str, str] | None = None) -> tuple[dict, float, float]:  # type: ignore[type-arg]
    env = {**os.environ, "OMNI_DATA_DIR": str(data), **(extra_env or {})}
    env.pop("DAGSTER_HOME", None)
    outcome, seconds, peak = measure(_child("rebuild"), env)
    if not outcome["success"]:
        print("FAILED:", *outcome["failures"], sep="\n  ", flush=True)
    return outcome, seconds, peak


# --- results ------------------------------------------------------------------------------------


def _slowest(steps: dict[str, float], n: int = 6) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in sorted(steps.items(), key=lambda kv: -kv[1])[:n])


def _split(steps: dict[str, float]) -> str:
    """The step seconds summed: the Great Expectations checks (steps named `_gx_`) and the rest."""
    checks = sum(v for k, v in steps.items() if "_gx_" in k)
    return f"GX checks {checks:.0f} s, other steps {sum(steps.values()) - checks:.0f} s"


def _header(title: str) -> str:
    import dagster
    import duckdb
    import pandas

    return (
        f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {title}\n\n"
        f"{platform.platform()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB RAM, Python "
        f"{platform.python_version()}, duckdb {duckdb.__version__}, dagster {dagster.__version__}, "
        f"pandas {pandas.__version__}\n\n"
    )


def run_scales(work: Path, history: Path, scales: list[int], title: str) -> None:
    rows = []
    for copies in scales:
        data = history if copies == 1 else replicate(history, work, copies)
        landing = data / "landing"
        orders, versions = count_orders(landing)
        floor = floor_scan(landing)
        run_dir = fresh_data_dir(work, f"rebuild-x{copies}", landing)
        outcome, seconds, peak = rebuild(run_dir)
        print(f"x{copies}: {orders} orders, {seconds:.0f} s, {peak:.0f} MB, floor {floor:.1f} s", flush=True)
        print("  slowest:", _slowest(outcome["steps"], 12), flush=True)
        print("  summed:", _split(outcome["steps"]), flush=True)
        (run_dir / "steps.json").write_text(json.dumps(outcome["steps"], indent=1), encoding="utf-8")
        rows.append((copies, orders, versions, seconds, peak, floor, outcome))
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(_header(f"full rebuild at scale ({title})"))
        out.write(
            "`warehouse_job` in one fresh process (in-process executor) on an empty build file: every "
            "model, identity, CLV, every check, the publish. Peak RSS summed over the process tree. "
            "Floor: one DuckDB scan of every column of the same landing files.\n\n"
        )
        out.write(
            "| copies | orders | order versions | rebuild s | peak RSS MB | floor s | x floor | ok "
            "| slowest steps (s) | step seconds summed |\n"
        )
        out.write("|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n")
        for copies, orders, versions, seconds, peak, floor, outcome in rows:
            out.write(
                f"| {copies} | {orders:,} | {versions:,} | {seconds:.0f} | {peak:.0f} | {floor:.1f} | "
                f"{seconds / floor:.0f} | {'yes' if outcome['success'] else 'FAILED'} | "
                f"{_slowest(outcome['steps'])} | {_split(outcome['steps'])} |\n"
            )
    print(f"results appended to {RESULTS}")


def _link_days(source: Path, target: Path, keep) -> None:  # type: ignore[no-untyped-def]
    """Hard-link the landed files whose `dt=` day `keep` accepts from `source` into `target`."""
    for path in source.glob("**/dt=*/*.parquet"):
        day = date.fromisoformat(next(p for p in path.parts if p.startswith("dt="))[3:])
        if keep(day):
            out = target / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not out.exists():
                os.link(path, out)


def _checksums(data: Path) -> dict[str, str]:
    """An order-independent checksum of every table in the published warehouse but the run logs
    (their length is the number of runs)."""
    import duckdb

    conn = duckdb.connect(str(data / "analytics.duckdb"), read_only=True)
    tables = [
        f"{s}.{t}"
        for s, t in conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('staging', 'core', 'marts', 'audit') order by 1, 2"
        ).fetchall()
        if f"{s}.{t}" not in RUN_LOG_TABLES
    ]
    sums = {}
    for table in tables:
        row = conn.execute(f"select count(*), bit_xor(hash(t)) from {table} as t").fetchone()
        sums[table] = f"{row[0]}:{row[1]}" if row else "-"
    conn.close()
    return sums


def run_nightly(work: Path, history: Path, day: date, title: str, copies: int = 1) -> None:
    """`copies` > 1: every order of the history, the day included, landed that many times (a retailer
    that many times larger: `replicate`)."""
    if copies > 1:
        history = replicate(history, work, copies)
        title = f"{title}, orders x{copies}"
    source = history / "landing"
    suffix = f"-x{copies}" if copies > 1 else ""
    # the empty warehouse: only the day landed
    empty = work / f"nightly-empty{suffix}"
    shutil.rmtree(empty, ignore_errors=True)
    _link_days(source, empty / "landing", lambda d: d == day)
    empty_outcome, empty_s, empty_peak = rebuild(empty)
    # the warehouse with history: built the day before, then the day lands and the nightly runs
    full = work / f"nightly-history{suffix}"
    shutil.rmtree(full, ignore_errors=True)
    _link_days(source, full / "landing", lambda d: d < day)
    _, before_s, _ = rebuild(full)
    _link_days(source, full / "landing", lambda d: d == day)
    nightly, nightly_s, nightly_peak = rebuild(full)
    nightly_sums = _checksums(full)
    rebuilt, rebuilt_s, rebuilt_peak = rebuild(full, {"OMNI_FULL_REBUILD": "1"})
    rebuilt_sums = _checksums(full)
    differ = sorted(t for t in nightly_sums if nightly_sums[t] != rebuilt_sums.get(t))
    orders, _ = count_orders(full / "landing")
    print(
        f"empty {empty_s:.0f} s; history {before_s:.0f} s; nightly {nightly_s:.0f} s; full {rebuilt_s:.0f} s"
    )
    print("  nightly slowest:", _slowest(nightly["steps"], 12))
    print("  tables differing from the full rebuild:", differ or "none")
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(_header(f"nightly cost against history ({title}, the day {day})"))
        out.write(
            "The day's `warehouse_job` on a warehouse holding only that day, and on one holding the "
            f"history ({orders:,} orders, built the day before); then the same day rebuilt in full "
            "(`OMNI_FULL_REBUILD=1`), whose staging, core and marts tables must equal the nightly "
            "path's (order-independent checksums).\n\n"
        )
        out.write("| run | seconds | peak RSS MB | ok | slowest steps (s) |\n|---|---:|---:|---|---|\n")
        for name, outcome, seconds, peak in (
            ("empty warehouse, the day", empty_outcome, empty_s, empty_peak),
            ("history, the day (nightly)", nightly, nightly_s, nightly_peak),
            ("history, full rebuild", rebuilt, rebuilt_s, rebuilt_peak),
        ):
            out.write(
                f"| {name} | {seconds:.0f} | {peak:.0f} | {'yes' if outcome['success'] else 'FAILED'} | "
                f"{_slowest(outcome['steps'])} |\n"
            )
        out.write(
            f"\nNightly / empty: **{nightly_s / empty_s:.2f}x**. Tables differing between the nightly "
            f"path and the full rebuild: {', '.join(differ) or 'none'}.\n"
        )
    print(f"results appended to {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 30), help="the last day")
    parser.add_argument("--scales", default="1,10", help="copies of the history to rebuild, e.g. 1,10,30")
    parser.add_argument("--nightly", action="store_true", help="measure the nightly run against history")
    parser.add_argument("--copies", type=int, default=1, help="--nightly: orders landed this many times")
    parser.add_argument("--work", type=Path, help="a folder for the landing zones (tens of GB)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        {"land": child_land, "rebuild": child_rebuild}[args.child[0]](*args.child[1:])
        return
    if args.work is None:
        parser.error("--work is required")
    first = args.end - timedelta(days=365 * args.years - 1)
    args.work.mkdir(parents=True, exist_ok=True)
    history = build_history(args.work, args.people, first, args.end)
    title = f"{args.people} people, {first}..{args.end}"
    if args.nightly:
        run_nightly(args.work, history, args.end, title, args.copies)
    else:
        run_scales(args.work, history, [int(s) for s in args.scales.split(",")], title)


if __name__ == "__main__":
    main()
