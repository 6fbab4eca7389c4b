"""`raw` views over the landing zone, one pair per connector source and entity.

`raw.<source>__<entity>` holds every landed version; `raw.<source>__<entity>_latest` keeps the
latest version of each record (by modified time, then extraction time), which is what staging
reads. Which version is the latest is kept in the table `raw.record_winners`, on the narrow key
columns only (a window over rows that still carry the raw JSON needs many times the memory), and
brought up to date by reading each landing file once (`merge_new_files`); `_latest` joins the JSON
back from the files. The records whose latest version changed since a given merge are what an
incremental staging model rebuilds (`changed_records_view`).

Traffic reports are different: a day's report is a snapshot, revised as a whole (GA4 settles a
day over ~3 days; an operator drops a corrected export file). `raw.<source>__traffic_latest` keeps
every row of the newest extraction of each (channel, shop, day) — a row missing from the newest
report is gone — found from the landing files themselves, so an extraction that found nothing
(an empty file) also replaces what was there. Those rows are kept in the table `raw.report_rows`
and replaced per day whose newest file changed (`merge_reports`): a night reads the days it
landed, not three years of report files again.

Every view reads only the files in `raw.landing_snapshot`, the landing zone as the build's run found
it when it first read it (`snapshot_landing`): a landing run that renames new files in while the
warehouse builds must not show them to some models and checks and not to others (the daemon runs
the nightly landing beside a rebuild; reconciliation once failed on exactly that).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Collection, Iterator
from pathlib import Path

import duckdb

from connectors.registry import CHANNELS, TRAFFIC_ENTITY, TRAFFIC_SOURCES, sources
from warehouse.models import sql_literal

_EMPTY = """
select
    cast(null as varchar) as channel, cast(null as varchar) as shop_id, cast(null as date) as partition_date,
    cast(null as varchar) as record_id, cast(null as timestamptz) as modified_at,
    cast(null as varchar) as status, cast(null as varchar) as record,
    cast(null as timestamptz) as extracted_at, cast(null as varchar) as landing_file
where false
"""


def _globs(landing: Path, channels: list[str], entity: str) -> str | None:
    """The landing files of an entity as a DuckDB list literal, or None when nothing has landed."""
    globs = [
        str(landing / channel / entity / "shop=*" / "dt=*" / "*.parquet")
        for channel in channels
        if any((landing / channel / entity).glob("shop=*/dt=*/*.parquet"))
    ]
    return _list(globs) if globs else None


def _read_sql(files: str) -> str:
    """Every landed version in `files` (a DuckDB list literal of paths or globs), with the channel,
    shop and day its path names: the one reading of landing files the views and merges share."""
    return f"""
select
    regexp_extract(filename, '/landing/([^/]+)/', 1) as channel,
    shop as shop_id,
    cast(dt as date) as partition_date,
    record_id, modified_at, status, record, extracted_at,
    filename as landing_file
from read_parquet({files}, hive_partitioning = true, filename = true,
                  hive_types = {{'shop': VARCHAR, 'dt': DATE}})
"""


def _versions_sql(landing: Path, channels: list[str], entity: str) -> str:
    files = _globs(landing, channels, entity)
    if files is None:
        return _EMPTY
    return f"""
select * from ({_read_sql(files)})
where landing_file in (select landing_file from raw.landing_snapshot)
"""


_LATEST = """
select v.*
from raw.{name} as v
semi join (
    select channel, record_id, landing_file, modified_at from raw.record_winners where entity = '{name}'
) as w
    -- the winning version itself: a file can hold two versions of a record (modified while a pull paged)
    on v.channel = w.channel and v.record_id = w.record_id and v.landing_file = w.landing_file
    and v.modified_at is not distinct from w.modified_at
"""


# The records whose latest version changed after merge `{seq}`: read from the files that hold
# their new versions only (an incremental model's input; see `changed_records_view`). The winners
# are those of these files alone: a full build's batch (`batch_records_view`) otherwise hashed every
# winner of the entity for each batch (3M TOP trades in 15 batches: 1.5 s a batch against 0.6-1.2)
_CHANGED = """
select v.*
from ({versions}) as v
semi join (
    select channel, record_id, landing_file, modified_at from raw.record_winners
    where entity = '{name}' and merged_seq > {seq} and landing_file in (select unnest({files}))
) as w
    on v.channel = w.channel and v.record_id = w.record_id and v.landing_file = w.landing_file
    and v.modified_at is not distinct from w.modified_at
"""


_LATEST_REPORT = "select * exclude (entity) from raw.report_rows where entity = '{name}'"


def view_code() -> str:
    """The SQL the latest and changed-records views are made of: part of an incremental model's code
    (a model built over other views is rebuilt in full, not patched)."""
    return _read_sql("{files}") + _LATEST + _CHANGED


def channels_sql() -> str:
    rows = ",\n    ".join(
        "(" + ", ".join(sql_literal(x) for x in (s.channel, s.label, s.source, s.sales_model)) + ")"
        for s in CHANNELS.values()
    )
    return f"select * from (values\n    {rows}\n) as t(channel, channel_label, source, sales_model)"


def landing_files(landing: Path) -> list[str]:
    """Every landed Parquet file (`<channel>/<entity>[/<source>]/shop=*/dt=*/part-*.parquet`); an
    extraction in progress (`_tmp`) is not one yet. (os.walk, not Path.glob: three times faster over
    the ~26,000 files of three years, and every build lists them.)"""
    files: list[str] = []
    if not landing.is_dir():
        return files
    for top in os.scandir(landing):
        if top.name.startswith("_") or not top.is_dir():
            continue
        for folder, subfolders, names in os.walk(top.path):
            if os.path.basename(folder).startswith("dt="):
                files += [os.path.join(folder, name) for name in names if name.endswith(".parquet")]
                subfolders.clear()
    return sorted(files)


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


@contextlib.contextmanager
def _atomic(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A merge's statements in one transaction: all of them, or none."""
    conn.execute("begin")
    try:
        yield
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise


_STATE = """
create table if not exists raw.record_winners (
    entity varchar, channel varchar, shop_id varchar, record_id varchar,
    modified_at timestamptz, extracted_at timestamptz, landing_file varchar, merged_seq bigint
);
create table if not exists raw.merged_files (entity varchar, landing_file varchar, merged_seq bigint);
create table if not exists raw.winner_resets (entity varchar, merged_seq bigint, run_id varchar);
"""


def _entity_files(
    conn: duckdb.DuckDBPyConnection, landing: Path, channels: list[str], entity: str
) -> list[str]:
    """The run's snapshot files of one entity of `channels` (asked of DuckDB per entity: going over
    the whole snapshot in Python for each of them took a second a nightly run at three years)."""
    files = conn.execute(
        "select landing_file from raw.landing_snapshot where list_bool_or([starts_with(landing_file, p) "
        "for p in ?::varchar[]])",
        [[str(landing / channel / entity) + "/" for channel in channels]],
    ).fetchall()
    return sorted(r[0] for r in files)


def merged_seq(conn: duckdb.DuckDBPyConnection, name: str) -> int:
    """The latest merge of `name`'s landing files into `raw.record_winners` (0: none yet)."""
    row = conn.execute("select max(merged_seq) from raw.merged_files where entity = ?", [name]).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def last_reset(conn: duckdb.DuckDBPyConnection, name: str) -> int:
    """The merge that last recomputed `name`'s winners from scratch (models built before it must
    rebuild in full: records may have disappeared)."""
    row = conn.execute("select max(merged_seq) from raw.winner_resets where entity = ?", [name]).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def current_seq(conn: duckdb.DuckDBPyConnection, name: str) -> int:
    """Where `name`'s winners stand: its latest merge or reset."""
    conn.execute(_STATE)
    return max(merged_seq(conn, name), last_reset(conn, name))


def merge_new_files(
    conn: duckdb.DuckDBPyConnection, name: str, files: list[str], run_id: str, full: bool = False
) -> int:
    """Bring `raw.record_winners` (the latest version of every record of source-entity `name`: by
    modified time, then extraction time, then file name — the order staging has always used) up to
    date with the snapshot's `files`, reading the key columns of files not merged before; returns
    how many records changed their latest version. Files are immutable once landed, so a merged
    file never needs reading again. When a merged file has left the landing zone, or `full` (once
    per run), the winners are recomputed from every file: a reset, after which models rebuild in
    full."""
    conn.execute(_STATE)
    merged = {
        r[0]
        for r in conn.execute("select landing_file from raw.merged_files where entity = ?", [name]).fetchall()
    }
    already_reset = conn.execute(
        "select count(*) from raw.winner_resets where entity = ? and run_id = ?", [name, run_id]
    ).fetchone()
    if (full and not (already_reset and already_reset[0])) or not merged <= set(files):
        reset = current_seq(conn, name) + 1
        with _atomic(conn):
            conn.execute("delete from raw.record_winners where entity = ?", [name])
            conn.execute("delete from raw.merged_files where entity = ?", [name])
            conn.execute("insert into raw.winner_resets values (?, ?, ?)", [name, reset, run_id])
        merged = set()
    new = [f for f in files if f not in merged]
    if not new:
        return 0
    seq = current_seq(conn, name) + 1
    with _atomic(conn):
        conn.execute(
            f"""
            create or replace temp table new_versions as
            select channel, shop_id, record_id, modified_at, extracted_at, landing_file
            from ({_read_sql(_list(new))})
            """
        )
        conn.execute(
            """
            create or replace temp table new_winners as
            with candidates as (
                select channel, shop_id, record_id, modified_at, extracted_at, landing_file, true as is_new
                from new_versions
                union all
                select w.channel, w.shop_id, w.record_id, w.modified_at, w.extracted_at, w.landing_file, false
                from raw.record_winners as w
                semi join new_versions as n
                    on w.channel = n.channel and w.shop_id = n.shop_id and w.record_id = n.record_id
                where w.entity = $name
            )
            select * exclude (is_new)
            from candidates
            qualify is_new and row_number() over (
                partition by channel, shop_id, record_id
                order by modified_at desc, extracted_at desc, landing_file desc
            ) = 1
            """.replace("$name", sql_literal(name))
        )
        conn.execute(
            """
            delete from raw.record_winners as w
            where w.entity = ? and exists (
                select 1 from new_winners as n
                where w.channel = n.channel and w.shop_id = n.shop_id and w.record_id = n.record_id
            )
            """,
            [name],
        )
        conn.execute("insert into raw.record_winners select ?, *, ? from new_winners", [name, seq])
        conn.execute("insert into raw.merged_files select ?, unnest(?::varchar[]), ?", [name, new, seq])
        changed = conn.execute("select count(*) from new_winners").fetchone()
        conn.execute("drop table new_versions")
        conn.execute("drop table new_winners")
    return int(changed[0]) if changed else 0


_REPORT_STATE = f"""
create table if not exists raw.report_rows as select cast(null as varchar) as entity, * from ({_EMPTY});
create table if not exists raw.report_files (entity varchar, landing_file varchar);
"""


def _report_day(landing: Path, file: str) -> tuple[str, str, str]:
    """The channel, shop and day a report file of the landing zone `landing` is of
    (`<channel>/traffic/<source>/shop=*/dt=*/*`). Plain string work: `Path.relative_to` over the
    7,665 files of three years took 0.3 s a nightly run."""
    prefix = str(landing) + os.sep
    if not file.startswith(prefix):
        raise ValueError(f"{file} is not in the landing zone {landing}")
    channel, *_, shop, day, _ = file[len(prefix) :].split(os.sep)
    return channel, shop.removeprefix("shop="), day.removeprefix("dt=")


def merge_reports(
    conn: duckdb.DuckDBPyConnection, landing: Path, name: str, files: list[str], full: bool = False
) -> int:
    """Bring `raw.report_rows` (every row of the newest landed extraction of each channel, shop and
    day of report source-entity `name`) up to date with the snapshot's `files`: the days whose
    newest file is not the one their rows came from (`raw.report_files`: a new extraction, a day new
    or gone, a file removed) get the rows of their newest file, read alone; `full` re-reads every
    day. Returns how many days changed. File names start with the extraction's UTC stamp: the
    greatest is the newest."""
    newest: dict[tuple[str, str, str], str] = {}
    for file in files:
        day = _report_day(landing, file)
        newest[day] = max(file, newest.get(day, file))
    conn.execute(_REPORT_STATE)
    applied_files = [
        file
        for (file,) in conn.execute(
            "select landing_file from raw.report_files where entity = ?", [name]
        ).fetchall()
    ]
    # rows read from another landing zone (the warehouse was moved or copied): every day again
    full = full or any(not file.startswith(str(landing) + os.sep) for file in applied_files)
    applied = {} if full else {_report_day(landing, file): file for file in applied_files}
    changed = {day for day in newest.keys() | applied.keys() if full or newest.get(day) != applied.get(day)}
    if not changed:
        return 0
    # a day's rows all come from the one file it was applied from (`full`: whatever is there goes)
    gone = None if full else [applied[day] for day in changed if day in applied]
    read = sorted(newest[day] for day in changed if day in newest)
    with _atomic(conn):
        for table in ("raw.report_rows", "raw.report_files"):
            if gone is None:
                conn.execute(f"delete from {table} where entity = ?", [name])
            else:
                conn.execute(
                    f"delete from {table} where entity = ? and landing_file in (select unnest(?::varchar[]))",
                    [name, gone],
                )
        if read:
            conn.execute(
                f"insert into raw.report_rows select {sql_literal(name)}, * from ({_read_sql(_list(read))})"
            )
            conn.execute("insert into raw.report_files select ?, unnest(?::varchar[])", [name, read])
    return len(changed)


def _list(files: list[str]) -> str:
    return "[" + ", ".join(sql_literal(f) for f in files) + "]"


def changed_records_view(conn: duckdb.DuckDBPyConnection, name: str, since_seq: int) -> str:
    """A temp view of `name`'s records whose latest version changed after merge `since_seq`, in
    `raw.<name>_latest`'s shape, reading only the files that hold those versions; returns its name."""
    files = [
        r[0]
        for r in conn.execute(
            "select distinct landing_file from raw.record_winners "
            "where entity = ? and merged_seq > ? order by 1",
            [name, since_seq],
        ).fetchall()
    ]
    return _winners_view(conn, name, files, since_seq)


def batch_records_view(conn: duckdb.DuckDBPyConnection, name: str, files: list[str]) -> str:
    """A temp view of `name`'s records whose latest version one of `files` holds (a batch of a full
    build), in `raw.<name>_latest`'s shape, reading only those files; returns its name."""
    return _winners_view(conn, name, files, since_seq=-1)  # every merge


def files_view(conn: duckdb.DuckDBPyConnection, files: list[str]) -> str:
    """A temp view of every landed version in `files`, in `raw.<entity>`'s shape, reading those
    files alone; returns its name."""
    view = "named_files_versions"
    conn.execute(f"create or replace temp view {view} as {_read_sql(_list(files)) if files else _EMPTY}")
    return view


def _winners_view(conn: duckdb.DuckDBPyConnection, name: str, files: list[str], since_seq: int) -> str:
    view = f"{name}_changed"
    if not files:
        conn.execute(f"create or replace temp view {view} as {_EMPTY}")
        return view
    listed = _list(files)
    sql = _CHANGED.format(versions=_read_sql(listed), files=listed, name=name, seq=since_seq)
    conn.execute(f"create or replace temp view {view} as {sql}")
    return view


def _create_view(conn: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """(Re)create the view raw.<name> unless it already is this SQL (its comment holds the SQL's hash):
    binding a view over thousands of landing files takes ~30 ms, and every model step makes the
    views it reads. DuckDB expands a view's file globs when it is queried, so a kept view sees the
    files landed since it was made."""
    tag = hashlib.sha256(sql.encode()).hexdigest()[:16]
    row = conn.execute(
        "select comment from duckdb_views() where schema_name = 'raw' and view_name = ?", [name]
    ).fetchone()
    if row and row[0] == tag:
        return
    conn.execute(f"create or replace view raw.{name} as {sql}")
    conn.execute(f"comment on view raw.{name} is {sql_literal(tag)}")


def create_raw_views(
    conn: duckdb.DuckDBPyConnection,
    landing: Path,
    run_id: str,
    only: Collection[str] | None = None,
    full: bool = False,
) -> list[str]:
    """(Re)create the raw views (`only`: these names, e.g. {"top__orders"}; default all) over the
    run's landing snapshot (taken here if the run has none yet), merging the snapshot's new files
    into `raw.record_winners` first (`full`: recompute the winners from every file, once per run); a
    source with nothing landed yet gets an empty, typed view. `raw.channels` is the channel
    registry itself (label, connector source, sales model). `raw.<entity>` and `raw.<entity>_latest`
    (e.g. `raw.orders`) are every source's views of that entity in one (asking for one makes its
    sources' views too). A view lists the landing folders that exist when it is made, so each model
    recreates the views it reads right before it runs."""
    landed = [
        (source, channels, entity)
        for source, channels in sources().items()
        for entity in sorted({e for c in channels for e in CHANNELS[c].entities})
    ]
    by_entity: dict[str, list[str]] = {}
    for source, _, entity in landed:
        by_entity.setdefault(entity, []).append(f"{source}__{entity}")
    if only is not None:
        only = {*only, *(name for entity in only if entity in by_entity for name in by_entity[entity])}
    snapshot_landing(conn, landing, run_id)
    _create_view(conn, "channels", channels_sql())
    created = ["channels"]
    for source, channels, entity in landed:
        name = f"{source}__{entity}"
        if only is not None and name not in only:
            continue
        merge_new_files(conn, name, _entity_files(conn, landing, channels, entity), run_id, full)
        _create_view(conn, name, _versions_sql(landing, channels, entity))
        _create_view(conn, f"{name}_latest", _LATEST.format(name=name))
        created.append(name)
    for spec in TRAFFIC_SOURCES.values():
        entity = f"{TRAFFIC_ENTITY}/{spec.source}"
        name = f"{spec.source}__{TRAFFIC_ENTITY}"
        if only is not None and name not in only:
            continue
        merge_reports(conn, landing, name, _entity_files(conn, landing, list(spec.channels), entity), full)
        _create_view(conn, name, _versions_sql(landing, list(spec.channels), entity))
        _create_view(conn, f"{name}_latest", _LATEST_REPORT.format(name=name))
        created.append(name)
    for entity, names in by_entity.items():
        if only is not None and entity not in only:
            continue
        for suffix in ("", "_latest"):
            _create_view(
                conn, entity + suffix, " union all ".join(f"select * from raw.{n}{suffix}" for n in names)
            )
        created.append(entity)
    return created
