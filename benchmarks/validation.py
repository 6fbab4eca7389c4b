"""What the Great Expectations checks cost as fct_orders grows (run on demand, not in tests).

    .venv/bin/python -m benchmarks.validation --orders 100000 1000000 3000000

For each size a child process builds a synthetic `marts.fct_orders` (three years of order dates;
the columns the checks read) in an in-memory DuckDB and runs the two blocking suites the pipeline
runs on it, exactly as the asset checks do (`validate_query`): keys and not-null (with the status
value set), and the money rules; once over the whole table, once in slices of at most about
`SLICE_ROWS` rows (the pipeline's way for large frames), and as a nightly run does: the table
validated the night before and remembered, one day's orders added, then validated again (only the
new rows are). Reports seconds and the child's peak RSS; appends a Markdown table to
benchmarks/results/validation.md with the machine and versions. The landing suite runs per
extraction (one run's partitions) and reports its own `validation_seconds` in the check metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "validation.md"


def _validate(conn: Any, memory: Any) -> tuple[Any, float, Any, float]:
    """The two suites as the asset checks run them: each one's Validation and seconds."""
    from pipelines.model_assets import STATUSES
    from warehouse.quality import RowMemory, amount_expectations, key_expectations, validate_query

    def keys_suite() -> dict[str, Any]:
        return key_expectations(("order_key",), ("channel", "order_date", "status"), {"status": STATUSES})

    def money_suite() -> dict[str, Any]:
        return amount_expectations("paid_cny", "refunded_cny", "gmv_cny", "shipping_cny")

    def named(suffix: str) -> Any:
        return RowMemory(memory.path, f"{memory.check}:{suffix}") if memory else None

    began = time.monotonic()
    keys = validate_query(
        conn, "select order_key, nullif(channel is not null, false) as channel, "
        "nullif(order_date is not null, false) as order_date, status from fct_orders",
        keys_suite, named("keys"),
    )  # fmt: skip
    keys_seconds = time.monotonic() - began
    began = time.monotonic()
    money = validate_query(
        conn, "select paid_cny, refunded_cny, gmv_cny, shipping_cny from fct_orders",
        money_suite, named("money"),
    )  # fmt: skip
    return keys, keys_seconds, money, time.monotonic() - began


def measure(orders: int, mode: str) -> dict[str, Any]:
    import duckdb
    import great_expectations as gx

    from warehouse import quality
    from warehouse.quality import RowMemory, _context

    conn = duckdb.connect()
    conn.execute(
        f"""
        create table fct_orders as
        select 'tmall:' || i as order_key, 'tmall' as channel,
            date '2024-01-01' + (i % 1096)::int as order_date,
            'paid' as status, (i % 1000)::decimal(18, 2) as paid_cny, 0::decimal(18, 2) as refunded_cny,
            (i % 1000)::decimal(18, 2) as gmv_cny, 0::decimal(18, 2) as shipping_cny
        from range({orders}) as r(i)
        """
    )
    _context()
    if mode == "whole table":
        quality.SLICE_ROWS = orders  # one frame
    with tempfile.TemporaryDirectory() as tmp:
        memory = None
        if mode == "nightly, remembered":
            # the checks passed last night; today one day's orders (1/1096 of the table) are new
            memory = RowMemory(Path(tmp) / "validated.duckdb", "fct_orders")
            _validate(conn, memory)
            conn.execute(
                "insert into fct_orders select 'new:' || order_key, channel, order_date, status, paid_cny, "
                "refunded_cny, gmv_cny, shipping_cny from fct_orders where order_date = date '2026-12-30'"
            )
        keys, keys_seconds, money, money_seconds = _validate(conn, memory)
    return {
        "orders": orders,
        "mode": mode,
        "keys_seconds": round(keys_seconds, 2),
        "money_seconds": round(money_seconds, 2),
        "all_passed": all(o.success for o in keys.outcomes + money.outcomes),
        "rows_validated": keys.rows_checked,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "gx": gx.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child[0]), args.child[1])))
        return
    rows = []
    for orders in args.orders:
        for mode in ("whole table", "sliced", "nightly, remembered"):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.validation", "--child", str(orders), mode],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = [
        f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"great_expectations {rows[0]['gx']}\n",
        "| fct_orders rows | validated | rows validated | keys, not-null, status (s) | money (s) | "
        "peak RSS (MB) | passed |",
        "|---:|---|---:|---:|---:|---:|---|",
        *(
            f"| {r['orders']:,} | {r['mode']} | {r['rows_validated']:,} | {r['keys_seconds']} | "
            f"{r['money_seconds']} | "
            f"{r['peak_rss_mb']:,} | {'yes' if r['all_passed'] else 'NO'} |"
            for r in rows
        ),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
