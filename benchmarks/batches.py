"""A staging model's full build in batches of landing files, against DuckDB's memory limit (run on
demand, not in tests).

    .venv/bin/python -m benchmarks.batches --data /work/bench/nightly-history \
        --model stg_top__order_lines --limits 2GB,300MB --batches 1000000,200000,50000

`--data`: a data folder whose warehouse has been built (the transform benchmark's
`nightly-history`). For each memory limit and batch size a child process copies its build file and
rebuilds the model in full (`OMNI_DUCKDB_MEMORY_LIMIT`, `OMNI_BUILD_BATCH_RECORDS`): seconds, peak
RSS, or the error. A batch size above the model's record count is the one-statement build. Appends
a Markdown table to benchmarks/results/transforms.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.transforms import RESULTS, _header


def child(data: str, model_name: str) -> None:
    import duckdb

    from warehouse.models import build_model, discover_models, prepare_connection
    from warehouse.raw import create_raw_views

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "build.duckdb"
        shutil.copy(Path(data) / "warehouse" / "build.duckdb", copy)
        conn = duckdb.connect(str(copy))
        prepare_connection(conn)
        model = next(m for m in discover_models() if m.name == model_name)
        if not model.raw_source:
            raise SystemExit(f"{model_name} is not an incremental staging model")
        create_raw_views(conn, Path(data) / "landing", "benchmark-batches", only={model.raw_source})
        records = conn.execute(
            "select count(*) from raw.record_winners where entity = ?", [model.raw_source]
        ).fetchone()
        began = time.monotonic()
        try:
            build = build_model(conn, model, full=True)
            outcome = {"rows": build.rows}
        except Exception as error:  # the point: which limits a build survives
            outcome = {"error": str(error).splitlines()[0][:120]}
        outcome |= {
            "records": records[0] if records else 0,
            "seconds": round(time.monotonic() - began, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
    print(json.dumps(outcome))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="stg_top__order_lines")
    parser.add_argument("--limits", default="2GB,300MB")
    parser.add_argument("--batches", default="1000000,200000,50000")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(str(args.data), args.model)
        return
    rows = []
    for limit in args.limits.split(","):
        for batch in args.batches.split(","):
            env = {**os.environ, "OMNI_DUCKDB_MEMORY_LIMIT": limit, "OMNI_BUILD_BATCH_RECORDS": batch}
            command = [sys.executable, "-m", "benchmarks.batches", "--child", "--data", str(args.data)]
            out = subprocess.run(
                [*command, "--model", args.model], env=env, capture_output=True, text=True, check=True
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((limit, int(batch), result))
            print(limit, batch, result, flush=True)
    records = rows[0][2]["records"]
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(_header(f"{args.model}: a full build in batches of landing files"))
        handle.write(
            f"The model rebuilt in full from {records:,} landed records (`benchmarks/batches.py`), under "
            "each DuckDB memory limit, in batches of about the given number of records (whole landing "
            "files; a batch larger than the records is one statement).\n\n"
            "| memory limit | batch (records) | seconds | peak RSS MB | outcome |\n|---|---:|---:|---:|---|\n"
        )
        for limit, batch, result in rows:
            outcome = f"{result['rows']:,} rows" if "rows" in result else f"FAILED: {result['error']}"
            batch_text = "one statement" if batch >= records else f"{batch:,}"
            handle.write(
                f"| {limit} | {batch_text} | {result['seconds']} | {result['peak_rss_mb']:,} | {outcome} |\n"
            )
    print(f"results appended to {RESULTS}")


if __name__ == "__main__":
    main()
