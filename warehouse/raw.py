"""`raw` views over the landing zone, one pair per connector source and entity.

`raw.<source>__<entity>` holds every landed version; `raw.<source>__<entity>_latest` keeps the
latest version of each record (by modified time, then extraction time), which is what staging
reads. The dedup runs on the narrow key columns first and joins the JSON back afterwards: a
window function over rows that still carry the raw JSON needs many times the memory.

Traffic reports are different: a day's report is a snapshot, revised as a whole (GA4 settles a
day over ~3 days; an operator drops a corrected export file). `raw.<source>__traffic_latest` keeps
every row of the newest extraction of each (channel, shop, day) — a row missing from the newest
report is gone — found from the landing files themselves, so an extraction that found nothing
(an empty file) also replaces what was there.

Every view reads only the files in `raw.landing_snapshot`, the landing zone as the build's run found
it when it first read it (`snapshot_landing`): a landing run that renames new files in while the
warehouse builds must not show them to some models and checks and not to others (the daemon runs
the nightly landing beside a rebuild; reconciliation once failed on exactly that).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import duckdb

from connectors.registry import CHANNELS, TRAFFIC_ENTITY, TRAFFIC_SOURCES, sources

_EMPTY = """
select
    cast(null as varchar) as channel, cast(null as varchar) as shop_id, cast(null as date) as partition_date,
    cast(null as varchar) as record_id, cast(null as timestamptz) as modified_at,
    cast(null as varchar) as status, cast(null as varchar) as record,
    cast(null as timestamptz) as extracted_at, cast(null as varchar) as landing_file
where false
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _globs(landing: Path, channels: list[str], entity: str) -> str | None:
    """The landing files of an entity as a DuckDB list literal, or None when nothing has landed."""
    globs = [
        str(landing / channel / entity / "shop=*" / "dt=*" / "*.parquet")
        for channel in channels
        if any((landing / channel / entity).glob("shop=*/dt=*/*.parquet"))
    ]
    return "[" + ", ".join(_quote(g) for g in globs) + "]" if globs else None


def _versions_sql(landing: Path, channels: list[str], entity: str) -> str:
    files = _globs(landing, channels, entity)
    if files is None:
        return _EMPTY
    return f"""
select
    regexp_extract(filename, '/landing/([^/]+)/', 1) as channel,
    shop as shop_id,
    cast(dt as date) as partition_date,
    record_id, modified_at, status, record, extracted_at,
    filename as landing_file
from read_parquet({files}, hive_partitioning = true, filename = true,
                  hive_types = {{'shop': VARCHAR, 'dt': DATE}})
where filename in (select landing_file from raw.landing_snapshot)
"""


_LATEST = """
with versions as (
    select channel, shop_id, record_id, modified_at, extracted_at, landing_file
    from raw.{name}
),

latest as (
    select channel, record_id, landing_file
    from versions
    qualify row_number() over (
        partition by channel, shop_id, record_id
        order by modified_at desc, extracted_at desc, landing_file desc
    ) = 1
)

select v.*
from raw.{name} as v
semi join latest as l
    on v.channel = l.channel and v.record_id = l.record_id and v.landing_file = l.landing_file
"""


_LATEST_REPORT = """
with files as (
    select
        file as landing_file,
        regexp_extract(file, '/landing/([^/]+)/', 1) as channel,
        regexp_extract(file, '/shop=([^/]+)/', 1) as shop_id,
        regexp_extract(file, '/dt=([^/]+)/', 1) as dt
    from glob({files})
    where file in (select landing_file from raw.landing_snapshot)
),

newest as (
    -- file names start with the extraction's UTC stamp, so the greatest name is the newest
    select landing_file
    from files
    qualify row_number() over (partition by channel, shop_id, dt order by landing_file desc) = 1
)

select v.*
from raw.{name} as v
semi join newest as n on v.landing_file = n.landing_file
"""


def _channels_sql() -> str:
    rows = ",\n    ".join(
        f"({_quote(s.channel)}, {_quote(s.label)}, {_quote(s.source)}, {_quote(s.sales_model)})"
        for s in CHANNELS.values()
    )
    return f"select * from (values\n    {rows}\n) as t(channel, channel_label, source, sales_model)"


def landing_files(landing: Path) -> list[str]:
    """Every landed Parquet file (`<channel>/<entity>[/<source>]/shop=*/dt=*/part-*.parquet`); an
    extraction in progress (`_tmp`) is not one yet."""
    return sorted(
        str(path)
        for path in landing.glob("*/**/dt=*/*.parquet")
        if not path.relative_to(landing).parts[0].startswith("_")
    )


def snapshot_landing(conn: duckdb.DuckDBPyConnection, landing: Path, run_id: str) -> int:
    """Fix the landing files the build reads for the run `run_id`: the first call of a run lists
    them into `raw.landing_snapshot`, later calls of the same run keep that list. Returns how many
    files the snapshot holds."""
    conn.execute("create schema if not exists raw")
    conn.execute("create table if not exists raw.landing_snapshot (run_id varchar, landing_file varchar)")
    # a run's rows include one with no file, so a run that found nothing also keeps its snapshot
    row = conn.execute(
        "select count(*), count(landing_file) from raw.landing_snapshot where run_id = ?", [run_id]
    ).fetchone()
    if row and row[0]:
        return int(row[1])
    files = landing_files(landing)
    conn.execute("begin")
    conn.execute("delete from raw.landing_snapshot")
    conn.execute(
        "insert into raw.landing_snapshot select ?, unnest(?::varchar[])",
        [run_id, [*files, None]],
    )
    conn.execute("commit")
    return len(files)


def create_raw_views(
    conn: duckdb.DuckDBPyConnection, landing: Path, run_id: str, only: Collection[str] | None = None
) -> list[str]:
    """(Re)create the raw views (`only`: these names, e.g. {"top__orders"}; default all) over the
    run's landing snapshot (taken here if the run has none yet); a source with nothing landed yet
    gets an empty, typed view. `raw.channels` is the channel registry itself (label, connector
    source, sales model). A view lists the landing folders that exist when it is made, so each
    model recreates the views it reads right before it runs."""
    snapshot_landing(conn, landing, run_id)
    conn.execute(f"create or replace view raw.channels as {_channels_sql()}")
    created = ["channels"]
    for source, channels in sources().items():
        entities = sorted({e for c in channels for e in CHANNELS[c].entities})
        for entity in entities:
            name = f"{source}__{entity}"
            if only is not None and name not in only:
                continue
            conn.execute(f"create or replace view raw.{name} as {_versions_sql(landing, channels, entity)}")
            conn.execute(f"create or replace view raw.{name}_latest as {_LATEST.format(name=name)}")
            created.append(name)
    for spec in TRAFFIC_SOURCES.values():
        entity = f"{TRAFFIC_ENTITY}/{spec.source}"
        name = f"{spec.source}__{TRAFFIC_ENTITY}"
        if only is not None and name not in only:
            continue
        files = _globs(landing, list(spec.channels), entity)
        conn.execute(
            f"create or replace view raw.{name} as {_versions_sql(landing, list(spec.channels), entity)}"
        )
        latest = _LATEST_REPORT.format(files=files, name=name) if files else f"select * from raw.{name}"
        conn.execute(f"create or replace view raw.{name}_latest as {latest}")
        created.append(name)
    return created
