"""What the Great Expectations checks cost as fct_orders grows (run on demand, not in tests).

    .venv/bin/python -m benchmarks.validation --orders 100000 1000000 3000000

For each size a child process builds a synthetic `marts.fct_orders` (the columns the checks read)
in an in-memory DuckDB and runs the two blocking suites the pipeline runs on it, exactly as the
asset checks do (read the frame, validate with GX): keys and not-null (with the status value set),
and the money rules. Reports seconds and the child's peak RSS; appends a Markdown table to
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
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "validation.md"


def measure(orders: int) -> dict[str, Any]:
    import duckdb
    import great_expectations as gx

    from pipelines.model_assets import STATUSES
    from warehouse.quality import _context, amount_expectations, key_expectations, validate

    conn = duckdb.connect()
    conn.execute(
        f"""
        create table fct_orders as
        select 'tmall:' || i as order_key, 'tmall' as channel,
            date '2026-11-01' + (i % 30)::int as order_date,
            'paid' as status, (i % 1000)::decimal(18, 2) as paid_cny, 0::decimal(18, 2) as refunded_cny,
            (i % 1000)::decimal(18, 2) as gmv_cny, 0::decimal(18, 2) as shipping_cny
        from range({orders}) as r(i)
        """
    )
    _context()
    began = time.monotonic()
    frame = conn.execute("select order_key, channel, order_date, status from fct_orders").df()
    keys = validate(
        frame, key_expectations(("order_key",), ("channel", "order_date", "status"), {"status": STATUSES})
    )
    keys_seconds = time.monotonic() - began
    del frame
    began = time.monotonic()
    frame = conn.execute("select paid_cny, refunded_cny, gmv_cny, shipping_cny from fct_orders").df()
    money = validate(frame, amount_expectations("paid_cny", "refunded_cny", "gmv_cny", "shipping_cny"))
    money_seconds = time.monotonic() - began
    return {
        "orders": orders,
        "keys_seconds": round(keys_seconds, 2),
        "money_seconds": round(money_seconds, 2),
        "all_passed": all(o.success for o in keys + money),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "gx": gx.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    rows = []
    for orders in args.orders:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.validation", "--child", str(orders)],
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
        "| fct_orders rows | keys + not-null + status (s) | money rules (s) | peak RSS (MB) | passed |",
        "|---:|---:|---:|---:|---|",
        *(
            f"| {r['orders']:,} | {r['keys_seconds']} | {r['money_seconds']} | {r['peak_rss_mb']:,} | "
            f"{'yes' if r['all_passed'] else 'NO'} |"
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
