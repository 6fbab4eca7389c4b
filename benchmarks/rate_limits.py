"""Rate-limit efficiency: with the simulators' limits on, how close each platform's pulls come to
the ceiling its limit allows, and how many requests they waste on throttle answers (run on demand).

    .venv/bin/python -m benchmarks.rate_limits --people 20000 --days 30

Starts `omni sandbox serve` with rate limits on (the same world as benchmarks.connectors), then for
each platform lands its shops' orders for the whole window **in parallel**, one fresh process per
shop, with the connectors' own pacing as configured. A group's ceiling is what its limit allows in
the time the group took: a token bucket of `rate` per second holding `burst` calls admits at most
`burst + rate × seconds` calls, per shop where the limit is per shop, once where shops share it
(TOP's per-app-key limit covers every Tmall and Taobao shop of the app). Efficiency = calls
answered (made minus throttled) / ceiling; it is only meaningful where the calls needed exceed
the burst (marked "limit not binding" otherwise). The group's time runs from launching its shop
processes to the last one's end, so it includes their start-up (imports: a second or so each, the
shops sharing two cores); "while pulling" is the same ratio over the span from the first shop's
pull beginning to the last one's end, which is the pacing's alone. Appends a table to
benchmarks/results/rate_limits.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.connectors import child_command, sandbox

RESULTS = Path(__file__).resolve().parent / "results" / "rate_limits.md"


@dataclasses.dataclass(frozen=True)
class Group:
    platform: str
    shops: tuple[tuple[str, str], ...]  # (channel, shop_id)
    rate: float  # calls per second the simulator admits
    burst: float  # calls the bucket holds
    shared: bool  # one limit for all the group's shops (else one per shop)
    limit: str  # how the limit reads in the table


def groups() -> list[Group]:
    """The simulators' limits, read from their module constants (what `[sandbox.platform]` overrides)."""
    from connectors.sandbox import meituan_sim, pdd_sim, shopify_sim, top_sim

    top_rate = top_sim.CALLS_PER_SECOND
    return [
        Group(
            "Shopify",
            (("shopify", "shopify-intl"), ("shopify", "shopify-eu")),
            shopify_sim.LEAK_PER_SECOND,
            shopify_sim.BUCKET_SIZE,
            False,
            f"bucket {shopify_sim.BUCKET_SIZE}, {shopify_sim.LEAK_PER_SECOND:g}/s per shop",
        ),
        Group(
            "TOP (Tmall + Taobao)",
            (
                ("tmall", "tmall-flagship"),
                ("tmall", "tmall-outlet"),
                ("taobao", "taobao-store"),
                ("taobao", "taobao-kids"),
            ),
            top_rate,
            top_rate,
            True,
            f"{top_rate:g}/s per app key (all four shops)",
        ),
        Group(
            "Pinduoduo",
            (("pinduoduo", "pdd-store"),),
            pdd_sim.CALLS_PER_SECOND,
            pdd_sim.CALLS_PER_SECOND,
            False,
            f"{pdd_sim.CALLS_PER_SECOND * 60:g}/min per shop",
        ),
        Group(
            "Meituan",
            (("meituan", "meituan-o2o"),),
            meituan_sim.CALLS_PER_SECOND,
            meituan_sim.CALLS_PER_SECOND,
            False,
            f"{meituan_sim.CALLS_PER_SECOND:g}/s per app",
        ),
    ]


def run_group(group: Group, first: date, last: date, env: dict[str, str], tmp: str) -> dict:
    began = time.perf_counter()
    procs = [
        subprocess.Popen(
            child_command(channel, shop_id, first, last, Path(tmp) / "landing", pacing=True),
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for channel, shop_id in group.shops
    ]
    figures = []
    for proc in procs:
        out, _ = proc.communicate(timeout=1800)
        if proc.returncode:
            raise SystemExit(f"{group.platform}: a shop's pull failed (exit {proc.returncode})")
        figures.append(json.loads(out.strip().splitlines()[-1]))
    seconds = time.perf_counter() - began
    calls = sum(f["requests"] for f in figures)
    throttled = sum(f["throttled"] for f in figures)
    limits = 1 if group.shared else len(group.shops)
    ceiling = limits * (group.burst + group.rate * seconds)
    pulling = max(f["ended_at"] for f in figures) - min(f["began_at"] for f in figures)
    ceiling_pulling = limits * (group.burst + group.rate * pulling)
    binding = calls > limits * group.burst
    return {
        "platform": group.platform,
        "limit": group.limit,
        "shops": len(group.shops),
        "orders": sum(f["rows"] for f in figures),
        "calls": calls,
        "seconds": seconds,
        "calls_per_s": calls / seconds,
        "ceiling_per_s": ceiling / seconds,
        "efficiency": (calls - throttled) / ceiling if binding else None,
        "pulling_seconds": pulling,
        "efficiency_pulling": (calls - throttled) / ceiling_pulling if binding else None,
        "throttled": throttled,
        "retries": sum(f["retries"] for f in figures),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 20))
    args = parser.parse_args()
    first = args.end - timedelta(days=args.days - 1)
    rows = []
    with sandbox(args.people, first, args.end, rate_limits=True) as (env, tmp):
        for group in groups():
            row = run_group(group, first, args.end, env, tmp)
            print(row, flush=True)
            rows.append(row)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(
            f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {args.people} people, {args.days} days "
            f"({first}..{args.end}), rate limits on\n\n"
            f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; sandbox "
            "in a separate process on loopback; each shop in its own process, a platform's shops in "
            "parallel, the connectors' own pacing as configured\n\n"
            "| platform | limit | shops | orders | calls | seconds | calls/s | ceiling calls/s | "
            "efficiency | seconds pulling | efficiency while pulling | throttled answers | retries |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        )
        for r in rows:
            efficiency, pulling = (
                (f"{r['efficiency']:.2f}", f"{r['efficiency_pulling']:.2f}")
                if r["efficiency"] is not None
                else ("limit not binding", "—")
            )
            out.write(
                f"| {r['platform']} | {r['limit']} | {r['shops']} | {r['orders']} | {r['calls']} | "
                f"{r['seconds']:.1f} | {r['calls_per_s']:.1f} | {r['ceiling_per_s']:.1f} | {efficiency} | "
                f"{r['pulling_seconds']:.1f} | {pulling} | {r['throttled']} | {r['retries']} |\n"
            )
    print(f"results appended to {RESULTS}")


if __name__ == "__main__":
    main()
