"""Identity resolution at scale on a synthetic identifier graph (run on demand, not in tests).

    .venv/bin/python -m benchmarks.identity --accounts 100000 1000000 [--pipeline-settings]

For each size, one child process writes the synthetic `identity_input` (+ `identity_truth`) into
a DuckDB file; a second child opens that file and runs `resolve` twice (first run, then a rerun
with the first run's ids as previous state), then a night: new sightings (`_NIGHT_SQL`) resolved
incrementally, and a full resolve after it that must change nothing; each peak RSS is the engine's
alone. The engine runs under DuckDB's default memory limit (80% of the machine's), or with
`--pipeline-settings` under the pipeline's build connection's (`prepare_connection`: 2 GB, spilling
beyond it). Appends a Markdown table to benchmarks/results/identity.md with the machine and
versions.

The world: people with 1-3 accounts across eight channels (about 2 accounts a person); a hashed
phone on 60-90% of accounts depending on the channel; families of three where one family in ten
shares one phone; one person in ten changed number (the first account knows the old one, the
second both, later ones the new); Tmall/Taobao accounts share a `top_open_uid`; mini-program
accounts carry a unionid; 30% of people hold a member card (POS + mini program, and bound to 90%
of their Tmall/Taobao/JD/Douyin accounts); names (hashed) on 80% of Tmall/Taobao/POS/Shopify
accounts, one per person (so a family phone's people disagree on them); Shopify and
some JD accounts an email; marketplace accounts carry masked phones (which collide between
strangers); Pinduoduo group-buy ids shared by strangers; 2% of POS accounts typed one of 20 shop
phones; 0.5% of accounts carry a placeholder phone. Its precision/recall reflect these
assumptions (family phones cost precision, accounts without a strong identifier cost recall),
not the sandbox world's.
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

RESULTS = Path(__file__).resolve().parent / "results" / "identity.md"
CHANNELS = ["tmall", "taobao", "jd", "pinduoduo", "douyin", "mini_program", "pos", "shopify"]

_WORLD_SQL = """
create or replace table bench_accounts as
with people as (
    select p, cast(1 + hash(p, 'k') % 3 as bigint) as k, cast(hash(p, 'c') % 8 as bigint) as c0,
        hash(p // 3, 'f') % 10 = 0 as family_phone, hash(p, 'n') % 10 = 0 as changed_number,
        hash(p, 'm') % 10 < 3 as has_card
    from range($people) as t(p)
),
accounts as (
    select *, unnest(range(k)) as j from people
)
select
    p, j, family_phone, changed_number, has_card,
    $channels[1 + (c0 + 3 * j) % 8] as channel,
    'a' || p || '-' || j as account_id,
    cast(hash(p, j, 'r') % 1000 as bigint) as r,  -- per-account dice
    timestamptz '2024-01-01 00:00:00+00'
        + to_days(cast(hash(p, j, 't') % 700 as integer) + 100 * j) as seen_at
from accounts
order by p, j
limit $accounts
"""

_PHONES_SQL = """
create or replace table bench_phones as
with numbers as (
    select *,
        case when family_phone then 'f' || (p // 3) else 'p' || p end as phone_key,
        j = 0 or not changed_number as old_phone,
        j >= 1 and changed_number as new_phone
    from bench_accounts
)
select account_id, cast(13000000000 + hash(phone_key || suffix) % 999999999 as varchar) as number
from numbers, (values ('', true), ('-new', false)) as v(suffix, old)
where (old and old_phone) or (not old and new_phone)
"""

_INPUT_SQL = """
create or replace table identity_input as
with a as (select * from bench_accounts),
ph as (select b.*, n.number from bench_accounts as b join bench_phones as n using (account_id)),
rows_ as (
    select channel, account_id, cast(null as varchar) as id_type, cast(null as varchar) as id_value, seen_at
    from a
    union all  -- hashed phones where the channel gets them (not anonymous POS sales)
    select channel, account_id, 'phone_hash', md5('ph' || number), seen_at from ph
    where r < case channel when 'mini_program' then 900 when 'jd' then 800 when 'shopify' then 800
        when 'pos' then 600 when 'pinduoduo' then 600 else 700 end
      and r >= 5
    union all  -- masked phones on the marketplaces
    select channel, account_id, 'phone_masked', substr(number, 1, 3) || '****' || substr(number, 8, 4),
        seen_at
    from ph where channel in ('tmall', 'taobao', 'jd', 'pinduoduo', 'douyin')
    union all  -- placeholder phones
    select channel, account_id, 'phone_hash', case when r % 2 = 0 then '-1' else '' end, seen_at
    from a where r < 5
    union all
    select channel, account_id, 'top_open_uid', 'U' || p, seen_at from a where channel in ('tmall', 'taobao')
    union all
    select channel, account_id, 'wechat_unionid', 'W' || p, seen_at from a where channel = 'mini_program'
    union all
    select channel, account_id, 'member_card', 'M' || p, seen_at
    from a where has_card and channel in ('mini_program', 'pos')
    union all
    select channel, account_id, 'email_hash', md5('em' || p), seen_at
    from a where channel = 'shopify' or (channel = 'jd' and r % 10 < 3)
    union all  -- group buys: strangers share one id
    select channel, account_id, 'group_buy_id', 'G' || (hash(account_id, 'g') % ($accounts // 4)), seen_at
    from a where channel = 'pinduoduo'
    union all  -- loyalty members bind their marketplace accounts to their card (会员通), 90% of them
    select channel, account_id, 'member_card', 'M' || p, seen_at
    from a where has_card and channel in ('tmall', 'taobao', 'jd', 'douyin') and r % 10 < 9
    union all  -- names (hashed) where a platform gives them: 80% (others: a courtesy form or none)
    select channel, account_id, 'name_hash', md5('nm' || p), seen_at
    from a where channel in ('tmall', 'taobao', 'pos', 'shopify') and r % 10 < 8
    union all  -- the shop's own phone typed into the order
    select channel, account_id, 'phone_hash', md5('shop' || (r % 20)), seen_at
    from a where channel = 'pos' and r % 50 = 7
)
select * from rows_
"""

_TRUTH_SQL = """
create or replace table identity_truth as
select channel, account_id, cast(p as varchar) as person_id from bench_accounts
"""


def build_world(path: str, accounts: int) -> dict[str, float]:
    import duckdb

    began = time.perf_counter()
    conn = duckdb.connect(path)
    conn.execute("set TimeZone = 'UTC'")
    params = {"people": accounts * 6 // 10, "accounts": accounts, "channels": CHANNELS}
    conn.execute(_WORLD_SQL, params)
    conn.execute(_PHONES_SQL)
    conn.execute(_INPUT_SQL, {"accounts": accounts})
    conn.execute(_TRUTH_SQL)
    conn.execute("drop table bench_phones")
    row = conn.execute("select count(*) from identity_input").fetchone()
    conn.close()
    return {"input_rows": row[0] if row else 0, "build_seconds": time.perf_counter() - began}


# One night's new sightings: 0.3% of the accounts get an email that another of them also got (pairs
# to merge), and 0.1% of the accounts' worth of new JD accounts arrive with a phone an existing
# account holds (links, conflicts and platform limits)
_NIGHT_SQL = """
insert into identity_input
select channel, account_id, 'email_hash', 'night-' || (hash(account_id) % {pairs}),
    timestamptz '2026-11-02 12:00:00+00'
from (select distinct channel, account_id from identity_input)
    using sample reservoir({changed} rows) repeatable (7);
insert into identity_input
select 'jd', 'night-' || row_number() over (), 'phone_hash', id_value, timestamptz '2026-11-02 12:00:00+00'
from (select id_value from identity_input where id_type = 'phone_hash')
    using sample reservoir({new} rows) repeatable (8)
"""


def _outputs(conn: Any) -> list[Any]:
    return [
        conn.execute(f"select count(*), bit_xor(hash(t)) from {table} as t").fetchone()
        for table in ("core.customer_accounts", "core.identity_edges", "core.identity_dropped")
    ]


PIPELINE_SETTINGS = "OMNI_BENCH_PIPELINE_SETTINGS"  # set for the children by --pipeline-settings


def run_engine(path: str) -> dict[str, Any]:
    import duckdb

    from pipelines.customer_assets import IDENTITY_RULES
    from warehouse.identity import pairwise_quality, resolve

    conn = duckdb.connect(path)
    conn.execute("set TimeZone = 'UTC'")
    if os.environ.get(PIPELINE_SETTINGS):
        # the build connection's own settings: its memory limit (spilling beyond it), no insertion order
        from warehouse.models import prepare_connection

        prepare_connection(conn)
    rules = IDENTITY_RULES  # the pipeline's own rules
    first = resolve(conn, rules, datetime(2026, 11, 1, tzinfo=UTC))
    conn.execute("create temp table bench_before as select * from core.customer_accounts")
    rerun = resolve(conn, rules, datetime(2026, 11, 2, tzinfo=UTC))
    changed = conn.execute(
        "select count(*) from (select * from bench_before except all select * from core.customer_accounts)"
    ).fetchone()
    quality = pairwise_quality(conn, "identity_truth")
    # the nightly path: the night's sightings resolved incrementally; a full resolve right after
    # must then change nothing (the same tables, no history event)
    emailed = first.accounts * 3 // 1000
    conn.execute(_NIGHT_SQL.format(changed=emailed, pairs=emailed // 2, new=first.accounts // 1000))
    night = resolve(conn, rules, datetime(2026, 11, 3, tzinfo=UTC), incremental=True)
    after_night = _outputs(conn)
    check = resolve(conn, rules, datetime(2026, 11, 4, tzinfo=UTC))
    night_agrees = _outputs(conn) == after_night and not check.events
    memory_limit = conn.execute("select current_setting('memory_limit')").fetchone()[0]  # type: ignore[index]
    conn.close()
    return {
        "accounts": first.accounts,
        "customers": first.customers,
        "edges": first.edges,
        "dropped": first.dropped,
        "iterations": first.iterations,
        "platform_rounds": first.platform_rounds,
        "seconds": first.seconds,
        "rerun_seconds": rerun.seconds,
        "rerun_stable": changed == (0,) and not rerun.events,
        "night_mode": night.mode,
        "night_accounts": night.scope_accounts,
        "night_seconds": night.seconds,
        "night_full_seconds": check.seconds,
        "night_agrees": night_agrees,
        "memory_limit": memory_limit,
        "precision": quality.precision,
        "recall": quality.recall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.identity", "--child", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--pipeline-settings",
        action="store_true",
        help="resolve under the build connection's settings (its DuckDB memory limit) instead of "
        "DuckDB's defaults (80%% of the machine's memory)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipeline_settings:
        os.environ[PIPELINE_SETTINGS] = "1"
    if args.child:
        step, path, accounts = args.child
        print(json.dumps(build_world(path, int(accounts)) if step == "build" else run_engine(path)))
        return
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for accounts in args.accounts:
            path = str(Path(tmp) / f"identity-{accounts}.duckdb")
            figures = _child("build", path, str(accounts)) | _child("run", path, str(accounts))
            rows.append(figures)
            print(accounts, figures, flush=True)
    import duckdb

    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(f"\n## {time.strftime('%Y-%m-%d %H:%M')} — identity resolution, synthetic graph\n\n")
        out.write(
            f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"duckdb {duckdb.__version__}; the pipeline's `IDENTITY_RULES`; DuckDB file on local disk; "
            "seconds = one `resolve` (first run / rerun with the previous ids); peak RSS of the "
            "process running both; "
            + (
                "the build connection's settings (`prepare_connection`)"
                if args.pipeline_settings
                else "DuckDB's default settings"
            )
            + f", DuckDB memory limit {rows[0]['memory_limit']}\n\n"
        )
        out.write(
            "| accounts | input rows | customers | CC iterations | platform rounds | seconds | rerun s "
            "| rerun stable | night: accounts resolved | night s | full s | night = full | peak RSS MB "
            "| precision | recall | dropped |\n"
        )
        out.write("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---|\n")
        for f in rows:
            dropped = ", ".join(f"{k} {v}" for k, v in sorted(f["dropped"].items()))
            out.write(
                f"| {f['accounts']} | {f['input_rows']} | {f['customers']} | {f['iterations']} | "
                f"{f['platform_rounds']} | {f['seconds']:.1f} | {f['rerun_seconds']:.1f} | "
                f"{'yes' if f['rerun_stable'] else 'NO'} | "
                f"{f['night_accounts'] if f['night_mode'] == 'incremental' else 'all (full)'} | "
                f"{f['night_seconds']:.1f} | {f['night_full_seconds']:.1f} | "
                f"{'yes' if f['night_agrees'] else 'NO'} | {f['peak_rss_mb']:.0f} | {f['precision']:.4f} | "
                f"{f['recall']:.4f} | {dropped} |\n"
            )
    print(f"results appended to {RESULTS}")


if __name__ == "__main__":
    main()
