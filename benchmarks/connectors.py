"""Connector throughput against the sandbox with rate limits off (run on demand, not in tests).

    .venv/bin/python -m benchmarks.connectors --people 20000 --days 30

Starts `omni sandbox serve --no-rate-limits` in its own process (the world lives there), turns the
connectors' own quota pacing off (Pinduoduo spaces calls at 50/s by default), then
lands each channel's orders for the whole window in a fresh child process per shop, so each
figure's peak RSS is the connector + landing writer alone. Appends a Markdown table to
benchmarks/results/connectors.md with the machine and versions.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from benchmarks.rss import communicate_sampling

RESULTS = Path(__file__).resolve().parent / "results" / "connectors.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def sandbox(
    people: int,
    first: date,
    end: date,
    rate_limits: bool,
    data_dir: Path | None = None,
    config: Path | None = None,
) -> Iterator[tuple[dict[str, str], str]]:
    """`omni sandbox serve` (seed 1) in its own process on a free loopback port for the benchmark's
    lifetime; yields the environment pointing a pipeline at it and its data folder (`data_dir`, or a
    temporary one). `config`: an OMNI_CONFIG for both (default: the built-in sandbox config)."""
    port = _free_port()
    with contextlib.ExitStack() as stack:
        tmp = str(data_dir) if data_dir else stack.enter_context(tempfile.TemporaryDirectory())
        env = {
            **os.environ,
            **({"OMNI_CONFIG": str(config)} if config else {}),
            "OMNI_DATA_DIR": tmp,
            "OMNI_SANDBOX_URL": f"http://127.0.0.1:{port}",
            "OMNI_POS_DATABASE_URL": f"sqlite:///{tmp}/sandbox/pos.sqlite",
        }
        command = [sys.executable, "-m", "pipelines.cli", "sandbox", "serve", "--port", str(port)]
        command += [
            "--seed",
            "1",
            "--people",
            str(people),
            "--start",
            first.isoformat(),
            "--end",
            end.isoformat(),
        ]
        if not rate_limits:
            command.append("--no-rate-limits")
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 3600  # a world of years takes minutes to generate
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/shopify", timeout=1)
                    break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("sandbox did not start") from None
                    time.sleep(0.5)
            yield env, tmp
        finally:
            server.terminate()
            server.wait(timeout=30)


def child(channel: str, shop_id: str, entity: str, first: str, last: str, landing: str, pacing: str) -> None:
    """Runs in a fresh process: pull + land one shop, print a JSON line with the figures. With
    `pacing` "off" the connector's own quota pacing is off (throughput); "on" keeps it (rate limits)."""
    from connectors.common.pii import PiiHasher
    from connectors.common.timeutil import china_days_window, utc_now
    from connectors.config import load_config
    from connectors.registry import CHANNELS
    from warehouse.landing import LandingWriter

    config = load_config()
    shop = next(s for s in config.shops_for(channel) if s.shop_id == shop_id)
    if pacing == "off":
        shop = dataclasses.replace(shop, options={**shop.options, "calls_per_second": 0})
    first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    start, end = china_days_window(first_day, last_day)
    source = CHANNELS[channel].build(shop, PiiHasher(config.pii_key))
    began, began_at = time.perf_counter(), time.time()
    result = LandingWriter(Path(landing)).land(
        channel, entity, shop_id, first_day, last_day, source.pull(entity, start, end), utc_now()
    )
    seconds, ended_at = time.perf_counter() - began, time.time()
    source.close()
    print(
        json.dumps(
            {
                "rows": result.rows,
                "seconds": seconds,
                # wall-clock times of the pull (after start-up), for spans across processes
                "began_at": began_at,
                "ended_at": ended_at,
                "requests": source.stats.requests,
                "throttled": source.stats.throttled,
                "retries": source.stats.retries,
                "mb": source.stats.bytes / 1e6,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def child_command(
    channel: str, shop_id: str, first: date, last: date, landing: Path, pacing: bool
) -> list[str]:
    """The command landing one shop's orders over [first, last] in a fresh process (see `child`)."""
    return [
        *(sys.executable, "-m", "benchmarks.connectors", "--child", channel, shop_id, "orders"),
        *(first.isoformat(), last.isoformat(), str(landing), "on" if pacing else "off"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    first = args.end - timedelta(days=args.days - 1)
    with sandbox(args.people, first, args.end, rate_limits=False) as (env, tmp):
        rows = []
        for channel, shop_id in [
            ("shopify", "shopify-intl"),
            ("tmall", "tmall-flagship"),
            ("taobao", "taobao-store"),
            ("jd", "jd-pop"),
            ("pinduoduo", "pdd-store"),
            ("douyin", "douyin-shop"),
            ("mini_program", "youzan-mini"),
            ("alibaba_1688", "wholesale-1688"),
            ("meituan", "meituan-o2o"),
            ("pos", "pos-main"),
        ]:
            command = child_command(channel, shop_id, first, args.end, Path(tmp) / "landing", pacing=False)
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            stdout, stderr, tree_peak = communicate_sampling(process)
            if process.returncode:
                raise SystemExit(f"{channel} {shop_id} failed: {stderr.strip()[-500:]}")
            figures = json.loads(stdout.strip().splitlines()[-1])
            # the pull's processes together (a long Shopify pull's page workers)
            figures["peak_rss_mb"] = max(figures["peak_rss_mb"], tree_peak)
            figures["rows_per_s"] = figures["rows"] / figures["seconds"] if figures["seconds"] else 0
            rows.append((channel, shop_id, figures))
            print(channel, shop_id, figures, flush=True)
    import duckdb
    import pyarrow

    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(
            f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {args.people} people, {args.days} days "
            f"({first}..{args.end}), rate limits off\n\n"
        )
        out.write(
            f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}; sandbox in a separate process "
            f"on loopback; orders landed to Parquet incl. PII hashing\n\n"
        )
        out.write("| channel | shop | orders | seconds | orders/s | requests | MB received | peak RSS MB |\n")
        out.write("|---|---|---:|---:|---:|---:|---:|---:|\n")
        for channel, shop_id, f in rows:
            out.write(
                f"| {channel} | {shop_id} | {f['rows']} | {f['seconds']:.2f} | {f['rows_per_s']:.0f} | "
                f"{f['requests']} | {f['mb']:.1f} | {f['peak_rss_mb']:.0f} |\n"
            )
    print(f"results appended to {RESULTS}")


if __name__ == "__main__":
    main()
