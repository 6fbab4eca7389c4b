"""The parent: starts the platform's replay server, runs each loader in a fresh child process while
sampling its process tree's memory, checks that it landed exactly N records, prints one line per
loader and appends the table to the platform's results file. The same module, started with the
hidden `--serve` or `--child` arguments, is the server's and each loader's process."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform as host
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.peers import shopify, top
from benchmarks.peers.base import Ctx, Platform
from benchmarks.peers.loaders import FLOOR, loaders
from benchmarks.peers.replay import LATENCY_ENV, STATS_PATH, serve
from benchmarks.rss import communicate_sampling

PLATFORMS: dict[str, Platform] = {p.name: p for p in (shopify.PLATFORM, top.PLATFORM)}


def child(platform: Platform, index: int, port: int, n: int, tmp: str) -> None:
    """Runs in a fresh process: one loader, imports before the clock; prints a JSON line."""
    run = list(loaders(platform).values())[index](platform, Ctx(port, n, Path(tmp)))
    began = time.perf_counter()
    rows = run()
    seconds = time.perf_counter() - began
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak / 1024}))


# --- the parent -----------------------------------------------------------------------------------


def _command(platform: Platform, *args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.peers", "--platform", platform.name, *args]


def _stats(port: int, reset: bool = False) -> dict[str, int]:
    url = f"http://127.0.0.1:{port}{STATS_PATH}" + ("?reset=1" if reset else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        stats: dict[str, int] = json.loads(response.read())
    return stats


def _measure(platform: Platform, index: int, name: str, port: int, n: int, tmp: Path) -> dict[str, Any]:
    if name.startswith("dlt") and importlib.util.find_spec("dlt") is None:
        return {"failed": "not run: dlt is not installed (the `bench` extra)"}
    work = tmp / f"loader{index}"
    work.mkdir()
    env = {
        **os.environ,
        "RUNTIME__DLTHUB_TELEMETRY": "false",  # dlt would phone home; there is no network here anyway
        "DLT_DATA_DIR": str(work / "dlt_home"),
    }
    _stats(port, reset=True)
    process = subprocess.Popen(
        _command(platform, "--child", str(index), str(port), str(n), str(work)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr, tree_peak = communicate_sampling(process, timeout=max(900, n // 40))
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.wait()
        return {"failed": f"FAILED: no result after {exc.timeout:.0f} s"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    served = _stats(port)
    if process.returncode != 0:
        lines = (stderr or stdout).strip().splitlines() or [f"exit {process.returncode}"]
        return {"failed": f"FAILED: {lines[-1][:200]}", **served}
    figures: dict[str, Any] = {**json.loads(stdout.strip().splitlines()[-1]), **served}
    # the loader's own processes together (our connector's page workers, DuckDB's are threads)
    figures["peak_rss_mb"] = max(figures["peak_rss_mb"], tree_peak)
    if figures["rows"] != n:
        figures["failed"] = f"FAILED: landed {figures['rows']} of {n} {platform.noun}s"
    return figures


def _combined(runs: list[dict[str, Any]], floor_runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One loader's runs as one row: the median time, the largest peak, and its rate against the
    floor as the median of each round's ratio (a round runs every loader once, one after another,
    so a ratio compares two runs minutes apart at most, while the machine's speed may drift by half
    over a longer session)."""
    failed = next((run for run in runs if "failed" in run), None)
    if failed:
        return failed
    seconds = sorted(run["seconds"] for run in runs)
    combined = {
        **runs[0],
        "seconds": statistics.median(seconds),
        "all_seconds": [run["seconds"] for run in runs],
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
    }
    if all("failed" not in floor for floor in floor_runs) and len(floor_runs) == len(runs):
        combined["floor_ratio"] = statistics.median(
            floor["seconds"] / run["seconds"] for run, floor in zip(runs, floor_runs, strict=True)
        )
    return combined


def _summary(platform: Platform, name: str, f: dict[str, Any]) -> str:
    if "failed" in f:
        return f"{name}: {f['failed']}"
    rate = f["rows"] / f["seconds"]
    runs = f.get("all_seconds", [f["seconds"]])
    return (
        f"{name}: {f['rows']} {platform.noun}s in {f['seconds']:.2f} s"
        + (f" (median of {', '.join(f'{s:.2f}' for s in runs)})" if len(runs) > 1 else "")
        + f" = {rate:.0f} {platform.noun}s/s, {f['bytes'] / 1e6 / f['seconds']:.1f} MB/s, "
        f"peak RSS {f['peak_rss_mb']:.0f} MB, {f['requests']} requests"
        + (f", {f['floor_ratio']:.2f}× the read_json floor" if "floor_ratio" in f else "")
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers")
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="shopify")
    parser.add_argument("--orders", type=int, default=200_000, help="records to land (TOP: trades)")
    parser.add_argument("--days", type=int, default=30, help="China days the orders spread over")
    parser.add_argument(
        "--loaders",
        nargs="+",
        help="only the loaders whose names contain one of these (the floor always runs)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every loader, interleaved; a row gives the median (a machine's speed drifts)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="milliseconds the replay server waits before each answer (a platform further away)",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    platform = PLATFORMS[args.platform]
    if args.child:
        index, port, n, tmp = args.child
        child(platform, int(index), int(port), int(n), tmp)
        return
    if args.serve:
        serve(platform, args.serve)
        return
    n = args.orders
    os.environ["PEERS_DAYS"] = str(args.days)  # the replay server and every loader read it
    os.environ[LATENCY_ENV] = str(args.latency_ms)  # the replay server reads it
    names = list(loaders(platform))
    wanted = [
        name
        for name in names
        if name == FLOOR or not args.loaders or any(part in name for part in args.loaders)
    ]
    server = subprocess.Popen(_command(platform, "--serve", str(n)), stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line:
            raise SystemExit("the replay server did not start")
        replay = json.loads(line)
        port = replay["port"]
        print(
            f"replay server on 127.0.0.1:{port}: {n} {platform.noun}s, "
            f"{replay['bytes_per_record']:.0f} bytes/{platform.noun}, "
            f"{replay['json_bytes'] / 1e6:.1f} MB in {replay['pages']} pages",
            flush=True,
        )
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in wanted}
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            for round_number in range(1, args.repeat + 1):
                for index, name in enumerate(names):
                    if name in wanted:
                        runs[name].append(_measure(platform, index, name, port, n, Path(tmp)))
                        # against this round's floor, once it has run (download only runs before it)
                        floor = runs[FLOOR][round_number - 1 : round_number]
                        single = _combined(runs[name][-1:], floor)
                        print(f"[round {round_number}] " + _summary(platform, name, single), flush=True)
        rows = [(name, _combined(runs[name], runs[FLOOR])) for name in wanted]
        if args.repeat > 1:
            for name, figures in rows:
                print(_summary(platform, name, figures), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _write(platform, n, args.days, args.repeat, replay, rows)


def _write(
    platform: Platform,
    n: int,
    days: int,
    repeat: int,
    replay: dict[str, Any],
    rows: list[tuple[str, dict[str, Any]]],
) -> None:
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    results, noun = platform.results, platform.noun
    new = not results.exists()
    results.parent.mkdir(exist_ok=True)
    with results.open("a", encoding="utf-8") as out:
        if new:
            out.write(f"# {platform.title}: our connector vs peer tools (benchmarks/peers)\n")
        what = f"{n} {platform.label} {noun}s over {days} China day(s)"
        size = f"{replay['bytes_per_record']:.0f} bytes/{noun} avg ({replay['json_bytes'] / 1e6:.1f} MB JSON"
        paging = f"{replay['pages']} pages of {platform.page_size})"
        rounds = f", {repeat} interleaved rounds (each row: the median)" if repeat > 1 else ""
        latency_ms = float(os.environ.get(LATENCY_ENV) or 0)
        latency = f" answering each call after {latency_ms:g} ms" if latency_ms else ""
        out.write(
            f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {what}, {size}, {paging}, "
            f"replay server on loopback{latency}, no rate limit{rounds}\n\n"
        )
        out.write(
            f"{host.platform()}, {os.cpu_count()} cores, Python {host.python_version()}, "
            f"duckdb {version('duckdb')}, pyarrow {version('pyarrow')}, pandas {version('pandas')}, "
            f"dlt {version('dlt')}, requests {version('requests')}\n\n"
        )
        columns = f"{noun}s | seconds | {noun}s/s | MB/s | peak RSS MB | × read_json floor | requests"
        every_run = " | every run (s)" if repeat > 1 else ""
        out.write(f"| loader | {columns}{every_run} |\n")
        out.write("|---|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if repeat > 1 else "") + "\n")
        for name, f in rows:
            if "failed" in f:
                out.write(
                    f"| {name} | {_cell(f['failed'])} | | | | | | {f.get('requests', '')} |"
                    + (" |" if repeat > 1 else "")
                    + "\n"
                )
                continue
            rate = f["rows"] / f["seconds"]
            ratio = f"{f['floor_ratio']:.2f}" if "floor_ratio" in f else "—"
            mb_s = f["bytes"] / 1e6 / f["seconds"]
            runs = f" {', '.join(f'{s:.2f}' for s in f['all_seconds'])} |" if repeat > 1 else ""
            out.write(
                f"| {name} | {f['rows']} | {f['seconds']:.2f} | {rate:.0f} | {mb_s:.1f} | "
                f"{f['peak_rss_mb']:.0f} | {ratio} | {f['requests']} |{runs}\n"
            )
    print(f"results appended to {results}")
