"""The SQL model runner: every `transforms/<layer>/<name>.sql` becomes table `<layer>.<name>`.

A model file is one SELECT (import CTEs, logical CTEs, `select * from final`). Its header
comments declare what the runner and the checks need:

    -- grain: one row per order
    -- key: order_key                 (unique and not null: a blocking check)
    -- not_null: channel, order_date  (blocking check)
    -- description: free text, may span several `-- ` lines
    -- column order_key: description of a column (becomes COMMENT ON COLUMN)
    -- materialized: view            (optional: a view over its inputs instead of a table copy)

Dependencies are read from the SQL itself (`raw.x`, `staging.y`, `marts.z` references), so the
Dagster graph and the build order can never disagree with the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from warehouse.failpoints import failpoint

TRANSFORMS_DIR = Path(__file__).resolve().parent.parent / "transforms"
LAYERS = ("staging", "core", "marts", "audit")
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
        match = re.match(r"(grain|key|not_null|description|materialized|column ([a-z0-9_]+)):\s*(.*)", text)
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
    )


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


def prepare_connection(conn: duckdb.DuckDBPyConnection) -> None:
    """Session settings every build uses: UTC, and the shared macros."""
    conn.execute("set TimeZone = 'UTC'")
    for layer in LAYERS:
        conn.execute(f"create schema if not exists {layer}")
    conn.execute((TRANSFORMS_DIR / "macros.sql").read_text(encoding="utf-8"))


def run_model(conn: duckdb.DuckDBPyConnection, model: Model) -> int:
    """Rebuild one model's table in a transaction; returns its row count."""
    conn.execute("begin transaction")
    try:
        conn.execute(f"create or replace {model.materialized} {model.table} as\n{model.sql}")
        summary = model.description or model.grain
        if model.grain and model.grain not in summary:
            summary = f"{summary} Grain: {model.grain}."
        if summary:
            conn.execute(f"comment on {model.materialized} {model.table} is {sql_literal(summary)}")
        for column, text in model.columns.items():
            conn.execute(f"comment on column {model.table}.{column} is {sql_literal(text)}")
        failpoint("model.uncommitted", model.table)
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    failpoint("model.committed", model.table)
    row = conn.execute(f"select count(*) from {model.table}").fetchone()
    return int(row[0]) if row else 0
