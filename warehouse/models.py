"""The SQL model runner: every `transforms/<layer>/<name>.sql` becomes table `<layer>.<name>`.

A model file is one SELECT (import CTEs, logical CTEs, `select * from final`). Its header
comments declare what the runner and the checks need:

    -- grain: one row per order
    -- key: order_key                 (unique and not null: a blocking check)
    -- not_null: channel, order_date  (blocking check)
    -- description: free text, may span several `-- ` lines
    -- column order_key: description of a column (becomes COMMENT ON COLUMN)
    -- materialized: view            (optional: a view over its inputs instead of a table copy)
    -- incremental: order_id          (optional, staging: see below)
    -- checked_from: (select ...)     (optional: where the standard check reads the model's rows,
                                       when reading the model itself is needlessly expensive)
    -- incremental_orders: channel, order_id   (optional, order facts: see below)
    -- orders_also_changed: select channel, order_id from ...   (optional, with the above)
    -- orders_read_from: core.orders_checked, ...   (optional, with the above: see below)
    -- landing_files_from: select landing_file from ...   (optional: the model's `raw.<entity>`
                                       views read only the landing files this query names)

An incremental model reads one `raw.<source>__<entity>_latest` and makes each of its rows from one
landing record, whose id (unique within the source) its `incremental` column holds. After the first
build it is brought up to date by replacing only the rows of records whose latest version changed
since its last build (read from the new landing files alone), which gives the table a full rebuild
would: the same SQL runs over those records. It rebuilds in full when its SQL, the macros or the
raw views changed, when the landing zone lost a file it had read, or when asked (`full`); a full
build takes the records in batches of landing files (DEFAULT_BATCH_RECORDS).

An order fact (`incremental_orders`: the columns naming an order; every row belongs to one order)
reads incremental staging models, directly or through other models. After its first build it
replaces only the rows of the orders whose landed records those staging models took in since its
last build, plus the orders its `orders_also_changed` query names (what else its rows depend on: a
customer that identity resolution moved), computed by the same SQL filtered to those orders (and
reading, of each relation `orders_read_from` names, only those orders' rows: DuckDB does not push
the filter below a union of the staging tables, and the history's every row was read). It
rebuilds in full when its SQL or any model upstream of it changed, when a staging model it reads
was rebuilt from reset winners, or when asked.

Dependencies are read from the SQL itself (`raw.x`, `staging.y`, `marts.z` references), so the
Dagster graph and the build order can never disagree with the code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from warehouse.failpoints import failpoint

TRANSFORMS_DIR = Path(__file__).resolve().parent.parent / "transforms"
# Tables that grow by a row per run or per change: their length is the build's history, not its
# content (a full rebuild and the nightly path give equal tables but for these)
RUN_LOG_TABLES = ("audit.identity_quality", "core.customer_id_history", "audit.model_state")
LAYERS = ("staging", "core", "marts", "audit")
_HEADER = re.compile(
    r"(grain|key|not_null|description|materialized|incremental|checked_from|incremental_orders"
    r"|orders_also_changed|orders_read_from|landing_files_from|column ([a-z0-9_]+)):\s*(.*)"
)
_REF = re.compile(r"\b(raw|staging|core|marts|audit)\.([a-z0-9_]+)\b")


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    path: Path
    sql: str
    grain: str = ""
    description: str = ""
    key: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    refs: tuple[str, ...] = ()  # "schema.table" this model reads
    materialized: str = "table"  # or "view"
    incremental: str | None = None  # the column holding the landing record's id
    checked_from: str | None = None  # a relation holding the model's key and not-null columns
    incremental_orders: tuple[str, ...] = ()  # an order fact's order columns (channel, order id)
    orders_also_changed: str | None = None  # a query naming other orders whose rows changed
    orders_read_from: tuple[str, ...] = ()  # relations holding the orders' own rows (order columns)
    landing_files_from: str | None = None  # a query naming the only landing files `raw.<entity>` reads

    @property
    def raw_source(self) -> str | None:
        """The one `source__entity` an incremental model reads."""
        raws = [r.removeprefix("raw.").removesuffix("_latest") for r in self.refs if r.startswith("raw.")]
        return raws[0] if self.incremental and len(raws) == 1 else None

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_model(path: Path) -> Model:
    sql = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    columns: dict[str, str] = {}
    description: list[str] = []
    current = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        text = line[2:].strip()
        match = _HEADER.match(text)
        if match:
            current = match.group(1)
            if match.group(2):
                columns[match.group(2)] = match.group(3)
            elif current == "description":
                description.append(match.group(3))
            else:
                header[current] = match.group(3)
        elif current == "description" and text:
            description.append(text)
        elif current and current.startswith("column ") and text:
            name = current.split(" ", 1)[1]
            columns[name] += " " + text
    table = f"{path.parent.name}.{path.stem}"
    # dependencies come from the SQL itself, not from tables its comments mention
    code = re.sub(r"--[^\n]*", "", sql)
    refs = tuple(sorted({f"{s}.{t}" for s, t in _REF.findall(code)} - {table}))
    unread = set(_split_list(header.get("orders_read_from", ""))) - set(refs)
    if unread:
        raise ValueError(f"{path}: orders_read_from names relations the SQL does not read: {sorted(unread)}")
    return Model(
        layer=path.parent.name,
        name=path.stem,
        path=path,
        sql=sql,
        grain=header.get("grain", ""),
        description=" ".join(description),
        key=_split_list(header.get("key", "")),
        not_null=_split_list(header.get("not_null", "")),
        columns=columns,
        refs=refs,
        materialized=_materialized(header.get("materialized", "table"), path),
        incremental=_incremental(header.get("incremental"), refs, path),
        checked_from=header.get("checked_from"),
        incremental_orders=_split_list(header.get("incremental_orders", "")),
        orders_also_changed=header.get("orders_also_changed"),
        orders_read_from=_split_list(header.get("orders_read_from", "")),
        landing_files_from=header.get("landing_files_from"),
    )


def _incremental(column: str | None, refs: tuple[str, ...], path: Path) -> str | None:
    if column is None:
        return None
    raws = [r for r in refs if r.startswith("raw.")]
    if len(raws) != 1 or not raws[0].endswith("_latest") or any(not r.startswith("raw.") for r in refs):
        raise ValueError(f"{path}: an incremental model reads exactly one raw.<source>__<entity>_latest")
    return column.strip()


def _materialized(kind: str, path: Path) -> str:
    if kind not in ("table", "view"):
        raise ValueError(f"{path}: materialized must be table or view, not {kind!r}")
    return kind


def discover_models(root: Path = TRANSFORMS_DIR) -> list[Model]:
    models = [parse_model(p) for layer in LAYERS for p in sorted((root / layer).glob("*.sql"))]
    return build_order(models)


def build_order(models: list[Model]) -> list[Model]:
    by_table = {m.table: m for m in models}
    graph = {m.table: [r for r in m.refs if r in by_table] for m in models}
    return [by_table[t] for t in TopologicalSorter(graph).static_order()]


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# DuckDB's own default is 80% of the machine's memory: a build at retail scale would take it all.
# Above this it spills to disk (the build file's `.tmp` folder). OMNI_DUCKDB_MEMORY_LIMIT overrides.
DEFAULT_MEMORY_LIMIT = "2GB"


def prepare_connection(conn: duckdb.DuckDBPyConnection) -> None:
    """Session settings every build uses: UTC, a memory limit, and the shared macros."""
    prepare_cursor(conn)
    conn.execute("set memory_limit = ?", [os.environ.get("OMNI_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT])
    # a table built from thousands of small landing files keeps each file's rows in order in memory
    # otherwise (three years of one shop's days needed over 2 GB); no model relies on row order
    conn.execute("set preserve_insertion_order = false")
    for layer in LAYERS:
        conn.execute(f"create schema if not exists {layer}")
    conn.execute((TRANSFORMS_DIR / "macros.sql").read_text(encoding="utf-8"))


def prepare_cursor(cursor: duckdb.DuckDBPyConnection) -> None:
    """What a further connection to a prepared database sets for itself (`conn.cursor()` inherits
    the memory limit, the insertion order and the macros, not the time zone): UTC."""
    cursor.execute("set TimeZone = 'UTC'")


@contextlib.contextmanager
def _transaction(conn: duckdb.DuckDBPyConnection, model: Model) -> Iterator[None]:
    """One model's changes in one transaction, with the crash points tests/test_crash.py kills at."""
    conn.execute("begin transaction")
    try:
        yield
        failpoint("model.uncommitted", model.table)
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    failpoint("model.committed", model.table)


# A full build of an incremental model takes its records in batches of whole landing files of about
# this many records: memory follows the batch, not the history (at 10M orders, unnesting every
# order's lines in one statement did not fit DuckDB's 2 GB). OMNI_BUILD_BATCH_RECORDS overrides.
DEFAULT_BATCH_RECORDS = 200_000


def _batches(conn: duckdb.DuckDBPyConnection, source: str) -> list[list[str]]:
    """The landing files holding the latest versions of `source`'s records, in batches (none when
    its raw view is not made from landing files: no `raw.record_winners`)."""
    limit = int(os.environ.get("OMNI_BUILD_BATCH_RECORDS") or DEFAULT_BATCH_RECORDS)
    batches: list[list[str]] = []
    winners = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'record_winners'"
    ).fetchone()
    if not (winners and winners[0]):
        return batches
    size = 0
    for landing_file, records in conn.execute(
        "select landing_file, count(*) from raw.record_winners where entity = ? group by 1 order by 1",
        [source],
    ).fetchall():
        if not batches or size + records > limit:
            batches.append([])
            size = 0
        batches[-1].append(landing_file)
        size += records
    return batches


def _over(model: Model, view: str) -> str:
    """An incremental model's SQL reading `view` instead of its whole raw source."""
    return re.sub(rf"\braw\.{model.raw_source}_latest\b", view, model.sql)


def _over_named_files(conn: duckdb.DuckDBPyConnection, model: Model) -> str:
    """A model's SQL with each `raw.<entity>` (every source's landed versions of an entity) reading
    only the files its `landing_files_from` query names. DuckDB prunes the files of a join only to
    the range between the smallest and the largest name it is given: a few records spread over
    three years read every file."""
    from connectors.registry import CHANNELS
    from warehouse.raw import files_view

    files = sorted({r[0] for r in conn.execute(str(model.landing_files_from)).fetchall() if r[0]})
    view = files_view(conn, files)
    entities = {entity for spec in CHANNELS.values() for entity in spec.entities}
    return re.sub(rf"\braw\.({'|'.join(sorted(entities))})\b", view, model.sql)


def _build_in_batches(conn: duckdb.DuckDBPyConnection, model: Model, batches: list[list[str]]) -> None:
    """The same SQL over each batch's records (a record's latest version is in one file: every
    record is in exactly one batch), appended into one table."""
    from warehouse.raw import batch_records_view

    for number, files in enumerate(batches):
        sql = _over(model, batch_records_view(conn, str(model.raw_source), files))
        if number == 0:
            conn.execute(f"create or replace table {model.table} as\n{sql}")
        else:
            conn.execute(f"insert into {model.table} by name\n{sql}")


def run_model(conn: duckdb.DuckDBPyConnection, model: Model) -> int | None:
    """Rebuild one model's table in a transaction (an incremental model in batches of landing files);
    returns its row count (None for a view: counting it would read everything it reads)."""
    batches = _batches(conn, model.raw_source) if model.raw_source else []
    sql = _over_named_files(conn, model) if model.landing_files_from else model.sql
    with _transaction(conn, model):
        _drop_other_kind(conn, model)
        if len(batches) > 1:
            _build_in_batches(conn, model, batches)
        else:
            conn.execute(f"create or replace {model.materialized} {model.table} as\n{sql}")
        if model.raw_source:
            _record_state(conn, model)
        summary = model.description or model.grain
        if model.grain and model.grain not in summary:
            summary = f"{summary} Grain: {model.grain}."
        if summary:
            conn.execute(f"comment on {model.materialized} {model.table} is {sql_literal(summary)}")
        for column, text in model.columns.items():
            conn.execute(f"comment on column {model.table}.{column} is {sql_literal(text)}")
    return _count(conn, model) if model.materialized == "table" else None


def _drop_other_kind(conn: duckdb.DuckDBPyConnection, model: Model) -> None:
    """A model that became a view (or a table) replaces what an earlier build left under its name:
    DuckDB's `create or replace` does not replace a table by a view."""
    other = "table" if model.materialized == "view" else "view"
    if _exists(conn, model, other):
        conn.execute(f"drop {other} {model.table}")


@dataclass(frozen=True)
class Build:
    rows: int | None  # None: a view, not counted
    mode: str  # "full", "incremental" or "unchanged"
    changed_records: int | None = None  # incremental: the records whose rows were replaced


_STATE = """
create table if not exists audit.model_state (model varchar, code_hash varchar, consumed_seq bigint);
comment on table audit.model_state is 'Where each incremental model stands: the code it was built '
    'with and how much of the landing zone it has taken in. A model whose code changed, or that is behind a '
    'reset of the records it reads, rebuilds in full. Grain: one row per incremental staging model, and '
    'one per order fact and landing source.';
comment on column audit.model_state.model is 'The model''s table (schema.name).';
comment on column audit.model_state.code_hash is
    'Hash of the model''s SQL, the shared macros and the raw views'' SQL it was last built with.';
comment on column audit.model_state.consumed_seq is
    'The merge of landing files (raw.merged_files.merged_seq) its rows reflect.';
alter table audit.model_state add column if not exists source varchar;
comment on column audit.model_state.source is
    'For an order fact (one row per landing source it takes orders from): the source (e.g. top__orders).';
"""


def _code_hash(*code: str) -> str:
    """What a build of a model was made with: `code` (its SQL, and whatever else it depends on),
    the shared macros and the raw views' SQL."""
    from warehouse.raw import view_code

    macros = (TRANSFORMS_DIR / "macros.sql").read_text(encoding="utf-8")
    text = "\n".join(code)
    return hashlib.sha256(f"{text}\n{macros}\n{view_code()}".encode()).hexdigest()[:16]


def _record_state(conn: duckdb.DuckDBPyConnection, model: Model) -> None:
    """Inside the build's transaction: the code built and the merge of landing files it reflects."""
    from warehouse.raw import current_seq

    assert model.raw_source
    conn.execute(_STATE)
    conn.execute("delete from audit.model_state where model = ?", [model.table])
    conn.execute(
        "insert into audit.model_state by name select ? as model, ? as code_hash, ? as consumed_seq",
        [model.table, _code_hash(model.sql), current_seq(conn, model.raw_source)],
    )


def build_model(conn: duckdb.DuckDBPyConnection, model: Model, full: bool = False) -> Build:
    """Build one model: incrementally when it is incremental and nothing forces a full rebuild (its
    raw views must be up to date: `warehouse.raw.create_raw_views`), otherwise in full."""
    from warehouse.raw import changed_records_view, current_seq, last_reset

    if model.incremental_orders:
        return _build_order_fact(conn, model, full)
    source = model.raw_source
    if source is None or full:
        return Build(run_model(conn, model), "full")
    conn.execute(_STATE)
    state = conn.execute(
        "select code_hash, consumed_seq from audit.model_state where model = ?", [model.table]
    ).fetchone()
    built_before = bool(state and _exists(conn, model) and state[0] == _code_hash(model.sql))
    if not state or not built_before or state[1] < last_reset(conn, source):
        return Build(run_model(conn, model), "full")
    consumed = int(state[1])
    if consumed == current_seq(conn, source):
        return Build(_count(conn, model), "unchanged", 0)
    sql = _over(model, changed_records_view(conn, source, consumed))
    with _transaction(conn, model):
        conn.execute(
            "create or replace temp table changed_records as "
            "select distinct record_id from raw.record_winners where entity = ? and merged_seq > ?",
            [source, consumed],
        )
        conn.execute(f"create or replace temp table model_delta as\n{sql}")
        conn.execute(
            f"delete from {model.table} where {model.incremental} in (select record_id from changed_records)"
        )
        conn.execute(f"insert into {model.table} by name select * from model_delta")
        changed = conn.execute("select count(*) from changed_records").fetchone()
        conn.execute("drop table model_delta")
        conn.execute("drop table changed_records")
        _record_state(conn, model)
    return Build(_count(conn, model), "incremental", int(changed[0]) if changed else 0)


def _upstream_models(model: Model) -> list[Model]:
    """Every model `model` reads, directly or through others."""
    by_table = {m.table: m for m in discover_models()}
    found: dict[str, Model] = {}
    todo = [r for r in model.refs if r in by_table]
    while todo:
        table = todo.pop()
        if table not in found:
            found[table] = by_table[table]
            todo += [r for r in by_table[table].refs if r in by_table]
    return [found[t] for t in sorted(found)]


def _staged_seqs(conn: duckdb.DuckDBPyConnection, staging: list[Model]) -> dict[str, tuple[int, str]] | None:
    """Per landing source, the merge every staging model of it has taken in (the least of them: an
    order fact built now reflects the records up to there) and the code they were built with; None
    if one was never built or is behind a reset."""
    from warehouse.raw import last_reset

    seqs: dict[str, tuple[int, str]] = {}
    for model in staging:
        assert model.raw_source
        row = conn.execute(
            "select consumed_seq, code_hash from audit.model_state where model = ?", [model.table]
        ).fetchone()
        if row is None or row[0] < last_reset(conn, model.raw_source):
            return None
        consumed, code = seqs.get(model.raw_source, (int(row[0]), ""))
        seqs[model.raw_source] = (min(consumed, int(row[0])), code + str(row[1]))
    return seqs


def _build_order_fact(conn: duckdb.DuckDBPyConnection, model: Model, full: bool) -> Build:
    """An order fact: the rows of the orders that changed since its last build, or all of them
    (see the module's doc)."""
    from warehouse.raw import channels_sql, current_seq, last_reset

    upstream = _upstream_models(model)
    staging = [m for m in upstream if m.layer == "staging"]
    conn.execute(_STATE)
    staged = _staged_seqs(conn, staging) if all(m.raw_source for m in staging) else None
    if staged is None:
        return Build(run_model(conn, model), "full")
    # its code: its SQL, the SQL of every model between it and staging, and the code the staging
    # tables were built with (what they hold, even when a staging step has not run yet)
    code = _code_hash(
        model.sql,
        *(m.sql for m in upstream if m.layer != "staging"),
        *(c for _, c in staged.values()),
        channels_sql(),
    )
    state = {
        source: (int(consumed), str(hash_))
        for source, consumed, hash_ in conn.execute(
            "select source, consumed_seq, code_hash from audit.model_state where model = ?", [model.table]
        ).fetchall()
    }
    built = _count(conn, model) if _exists(conn, model) else None
    behind_reset = any(state[s][0] < last_reset(conn, s) for s in state)
    if (
        full
        or built is None
        or behind_reset
        or set(state) != set(staged)
        or any(c != code for _, c in state.values())
    ):
        rows = run_model(conn, model)
        # after the table's commit: a crash in between leaves the state behind the table, which only
        # makes the next build replace orders it already holds
        conn.execute("begin")
        _record_sources(conn, model, code, staged)
        conn.execute("commit")
        return Build(rows, "full")
    if all(current_seq(conn, s) <= state[s][0] for s in staged) and model.orders_also_changed is None:
        return Build(built, "unchanged", 0)
    order = ", ".join(model.incremental_orders)
    # every record whose latest version changed since the staging tables stood where this table last
    # took them in (not only up to where they stand now: a staging model behind its winners still
    # holds some newer versions than this table; the rows are made from what staging holds)
    changed = [
        f"select channel, record_id from raw.record_winners where entity = {sql_literal(source)} "
        f"and merged_seq > {consumed}"
        for source, (consumed, _) in state.items()
    ]
    if model.orders_also_changed:
        changed.append(model.orders_also_changed)
    with _transaction(conn, model):
        conn.execute(
            "create or replace temp table changed_orders as select distinct * from ("
            + " union all ".join(f"({sql})" for sql in changed)
            + f") as c({order})"
        )
        matches = " and ".join(f"t.{c} = c.{c}" for c in model.incremental_orders)
        conn.execute(f"delete from {model.table} as t using changed_orders as c where {matches}")
        sql = model.sql
        for relation in model.orders_read_from:
            only_changed = f"(select * from {relation} semi join changed_orders using ({order}))"
            sql = re.sub(rf"\b{re.escape(relation)}\b", only_changed, sql)
        conn.execute(
            f"insert into {model.table} by name select * from (\n{sql}\n) as rows "
            f"semi join changed_orders using ({order})"
        )
        orders = conn.execute("select count(*) from changed_orders").fetchone()
        conn.execute("drop table changed_orders")
        _record_sources(conn, model, code, staged)
    return Build(_count(conn, model), "incremental", int(orders[0]) if orders else 0)


def _record_sources(
    conn: duckdb.DuckDBPyConnection, model: Model, code: str, staged: dict[str, tuple[int, str]]
) -> None:
    conn.execute("delete from audit.model_state where model = ?", [model.table])
    for source, (consumed, _) in staged.items():
        conn.execute(
            "insert into audit.model_state by name "
            "select ? as model, ? as code_hash, ? as consumed_seq, ? as source",
            [model.table, code, consumed, source],
        )


def _exists(conn: duckdb.DuckDBPyConnection, model: Model, kind: str = "table") -> bool:
    """Whether the build holds a table (or `kind` "view") by the model's name."""
    row = conn.execute(
        f"select count(*) from duckdb_{kind}s() where schema_name = ? and {kind}_name = ?",
        [model.layer, model.name],
    ).fetchone()
    return bool(row and row[0])


def _count(conn: duckdb.DuckDBPyConnection, model: Model) -> int:
    row = conn.execute(f"select count(*) from {model.table}").fetchone()
    return int(row[0]) if row else 0
