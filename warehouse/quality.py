"""Great Expectations on DataFrames read from DuckDB (GX 1.x cannot validate DuckDB SQL tables:
its SQL datasource silently returns wrong results there; see the stack notes).

`validate` distinguishes bad data (an expectation failed) from a broken validation (GX raised
while computing a metric, which it reports as a failure with `exception_info`): the latter raises
`ValidationCrashed`, so a crash is never mistaken for, or hidden as, bad data.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from warehouse.models import sql_literal


class ValidationCrashed(RuntimeError):
    pass


@dataclass(frozen=True)
class Outcome:
    name: str
    success: bool
    unexpected_count: int | None
    sample: list[Any]


@functools.lru_cache(maxsize=1)
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # GX announces the temporary folder of its ephemeral docs site at INFO on every start.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch it is given whose frame is under this many bytes (an md5
    # of pandas' hash of every row and column) for a batch marker nothing here reads: 55-60% of
    # validating a 1M-row key frame (0.89 s of GX against 0.37 without it). Zero: never.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def key_expectations(
    key: tuple[str, ...], not_null: tuple[str, ...], value_sets: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The standard suite of a model: its key unique and not null, declared columns not null."""
    import great_expectations.expectations as gxe

    expectations: dict[str, Any] = {}
    if len(key) == 1:
        expectations[f"{key[0]}_unique"] = gxe.ExpectColumnValuesToBeUnique(column=key[0])
    elif key:
        expectations["key_unique"] = gxe.ExpectCompoundColumnsToBeUnique(column_list=list(key))
    for column in dict.fromkeys((*key, *not_null)):
        expectations[f"{column}_not_null"] = gxe.ExpectColumnValuesToNotBeNull(column=column)
    for column, allowed in (value_sets or {}).items():
        expectations[f"{column}_in_set"] = gxe.ExpectColumnValuesToBeInSet(column=column, value_set=allowed)
    return expectations


# Currencies a buyer may see (Shopify's presentment currencies of the configured stores; CNY elsewhere).
KNOWN_CURRENCIES = ("CNY", "USD", "EUR", "GBP", "HKD", "JPY", "SGD", "AUD", "CAD")


def amount_expectations(
    paid: str = "paid_cny", refunded: str = "refunded_cny", *others: str
) -> dict[str, Any]:
    """Money that cannot be: a negative amount, or more refunded than was paid."""
    import great_expectations.expectations as gxe

    expectations: dict[str, Any] = {
        f"{column}_not_negative": gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0)
        for column in (paid, refunded, *others)
    }
    expectations[f"{refunded}_at_most_{paid}"] = gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=paid, column_B=refunded, or_equal=True
    )
    return expectations


def currency_expectations(column: str = "currency") -> dict[str, Any]:
    import great_expectations.expectations as gxe

    return {
        f"{column}_known": gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(KNOWN_CURRENCIES))
    }


def landing_expectations(window_start: datetime, window_end: datetime) -> dict[str, Any]:
    """One extraction as landed: every record has an id, no version of a record twice (a platform
    repeating records across pages, or a connector re-reading a page), every version inside the
    China days the run pulled ([window_start, window_end), UTC)."""
    import great_expectations.expectations as gxe

    return {
        "record_id_not_null": gxe.ExpectColumnValuesToNotBeNull(column="record_id"),
        "record_id_not_empty": gxe.ExpectColumnValueLengthsToBeBetween(column="record_id", min_value=1),
        "version_unique": gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["shop_id", "record_id", "modified_at"]
        ),
        "modified_at_in_partition": gxe.ExpectColumnValuesToBeBetween(
            column="modified_at",
            min_value=pd.Timestamp(window_start),
            max_value=pd.Timestamp(window_end),
            strict_max=True,
        ),
    }


def orphan_expectations(*columns: str) -> dict[str, Any]:
    """Foreign keys: each column names a child row whose parent is missing, null when it exists."""
    import great_expectations.expectations as gxe

    return {f"no_{column}": gxe.ExpectColumnValuesToBeNull(column=column) for column in columns}


def merge_outcomes(per_slice: list[list[Outcome]]) -> list[Outcome]:
    """One outcome per expectation over every slice: failed if it failed in any, counts summed."""
    merged = []
    for same in zip(*per_slice, strict=True):
        counts = [o.unexpected_count for o in same if o.unexpected_count is not None]
        merged.append(
            Outcome(
                same[0].name,
                all(o.success for o in same),
                sum(counts) if counts else None,
                [v for o in same for v in o.sample][:5],
            )
        )
    return merged


@dataclass(frozen=True)
class RowMemory:
    """Where a check remembers the rows of its last passing validation, so that the next one
    validates only what is new (`validate_query`). `path`: a DuckDB file beside the build file (not
    published); `check`: the check's name (its table and name); `forget`: validate every row this
    time (a full rebuild), and remember them afresh if they pass."""

    path: Path
    check: str
    forget: bool = False


@dataclass(frozen=True)
class Validation:
    outcomes: list[Outcome]
    rows_checked: int  # rows Great Expectations validated
    rows_known: int  # rows identical to rows of the last passing validation: not validated again


# Expectations whose verdict on a row depends on that row's values alone (with `mostly` at 1): a row
# that passed them once passes them again
_ROW_LEVEL = frozenset(
    {
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToBeNull",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnValueLengthsToBeBetween",
        "ExpectColumnPairValuesAToBeGreaterThanB",
    }
)


def _unique_keys(suite: dict[str, Any]) -> list[tuple[str, ...]] | None:
    """The column sets a suite requires unique, if every other expectation in it is row-level (the
    suite can then be validated over the new rows alone, and in slices); None if not."""
    keys: list[tuple[str, ...]] = []
    for expectation in suite.values():
        kind = type(expectation).__name__
        if getattr(expectation, "mostly", 1) != 1:
            return None
        if kind == "ExpectColumnValuesToBeUnique":
            keys.append((expectation.column,))
        elif kind == "ExpectCompoundColumnsToBeUnique":
            keys.append(tuple(expectation.column_list))
        elif kind not in _ROW_LEVEL:
            return None
    return keys


def _fingerprint(frame_sql: str, suite: dict[str, Any]) -> str:
    """What a remembered row passed: the frame's query and every expectation's configuration."""
    configs = [[name, e.configuration.to_json_dict()] for name, e in suite.items()]
    text = json.dumps([frame_sql, configs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def validate_query(
    conn: duckdb.DuckDBPyConnection,
    frame_sql: str,
    expectations: Callable[[], dict[str, Any]],
    memory: RowMemory | None = None,
) -> Validation:
    """Validate the rows `frame_sql` selects; once they are many, a slice of about SLICE_ROWS at a
    time, so memory follows the slice, not the table (`_validate_table`).

    With `memory`, a suite of row-level expectations and unique keys validates only the rows that
    are not identical (same values in every column of the frame: a 64-bit hash) to a row of its last
    passing validation, plus, for each unique key, every row sharing a key value with such a row and
    every row that occurs twice. That gives the verdict a validation of every row gives: a
    remembered row passed the row-level expectations with these very values, and two remembered
    rows with one key cannot both be here, since they were both in a frame whose keys were unique.
    A failing validation does not replace the memory (the new rows are validated again next time);
    a different query or suite (the fingerprint) validates everything. When no row is new, the last
    pass's verdict stands and GX is not run."""
    suite = expectations()
    keys = _unique_keys(suite)
    # what a large frame is cut by (`_validate_table`): its one unique key's hash, computed here with
    # the row's; by row number without a key; None: validated whole
    cut_by: str | None = None
    key_hash = "null"
    if keys is not None and len(keys) == 1:
        cut_by, key_hash = "_key_hash", f"hash({', '.join(_quoted(c) for c in keys[0])})"
    elif keys == []:
        cut_by = "rowid"
    conn.execute(
        "create or replace temp table check_frame as "
        f"select *, hash(*columns(*)) as _row_hash, {key_hash}::ubigint as _key_hash from ({frame_sql})"
    )
    fingerprint = _fingerprint(frame_sql, suite)
    remembered = None
    try:
        if memory and keys is not None:
            remembered = _attach_memory(conn, memory, fingerprint)
        total = todo_rows = _scalar(conn, "select count(*) from check_frame")
        if remembered:
            _new_rows(conn, remembered, keys or [])
            todo_rows = _scalar(conn, "select count(*) from check_todo")
            if not todo_rows:
                # every row is one the last pass validated, with these values: its verdict stands
                return Validation([Outcome(name, True, 0, []) for name in suite], 0, total)
        todo = "check_todo" if remembered else "check_frame"
        outcomes, checked = _validate_table(conn, todo, todo_rows, expectations, cut_by)
        if memory and keys is not None and all(o.success for o in outcomes):
            _remember(conn, memory, fingerprint)
        return Validation(outcomes, checked, total - checked)
    finally:
        conn.execute("drop table if exists check_frame")
        conn.execute("drop table if exists check_new")
        conn.execute("drop table if exists check_todo")
        if memory and keys is not None:
            conn.execute("detach database if exists validated_rows")


_MEMORY_TABLES = """
create table if not exists validated_rows.checks (check_name varchar primary key, fingerprint varchar,
    rows_table varchar, validated_at timestamptz)
"""


def _attach_memory(conn: duckdb.DuckDBPyConnection, memory: RowMemory, fingerprint: str) -> str | None:
    """The table of row hashes the check's last passing validation remembered, if it is usable."""
    memory.path.parent.mkdir(parents=True, exist_ok=True)
    conn.execute(f"attach if not exists {sql_literal(str(memory.path))} as validated_rows")
    conn.execute(_MEMORY_TABLES)
    row = conn.execute(
        "select fingerprint, rows_table from validated_rows.checks where check_name = ?", [memory.check]
    ).fetchone()
    if memory.forget or row is None or row[0] != fingerprint:
        return None
    return f"validated_rows.{_quoted(row[1])}"


def _new_rows(conn: duckdb.DuckDBPyConnection, remembered: str, keys: list[tuple[str, ...]]) -> None:
    """check_todo: the frame's rows that are new, with what a unique key needs beside them. Built
    from the hashes of the rows to validate (a union of joins against the few new rows) rather than
    an `or` of subqueries per row, which DuckDB cannot turn into joins (0.9 s against 0.2 s over the
    1.4M order lines)."""
    conn.execute(
        "create or replace temp table check_new as select * from check_frame as f "
        f"anti join {remembered} as r on f._row_hash = r.row_hash"
    )
    todo = ["select _row_hash from check_new"]
    if keys:
        # a row that occurs twice: both copies may be remembered, and they share every key
        todo.append("(select _row_hash from check_frame group by _row_hash having count(*) > 1)")
    for key in keys:
        # a remembered row whose key a new row now has too; a row identical to it shares its hash
        same = " and ".join(f"n.{_quoted(c)} is not distinct from f.{_quoted(c)}" for c in key)
        todo.append(f"(select f._row_hash from check_frame as f semi join check_new as n on {same})")
    conn.execute(
        "create or replace temp table check_todo as "
        f"with todo as ({' union all '.join(todo)}) "
        "select * from check_frame as f semi join todo as t on t._row_hash = f._row_hash"
    )


def _remember(conn: duckdb.DuckDBPyConnection, memory: RowMemory, fingerprint: str) -> None:
    """After a pass: the frame's rows (their hashes) are what the check remembers now."""
    table = "rows_" + hashlib.sha256(memory.check.encode()).hexdigest()[:12]
    # not made distinct: a passing frame with a unique key has no two identical rows, and a repeated
    # hash changes nothing in the anti join that reads it (0.03 s against 0.3 s for 1.4M rows)
    conn.execute(
        f"create or replace table validated_rows.{table} as select _row_hash as row_hash from check_frame"
    )
    conn.execute("delete from validated_rows.checks where check_name = ?", [memory.check])
    conn.execute(
        "insert into validated_rows.checks values (?, ?, ?, now())", [memory.check, fingerprint, table]
    )


# Above this many rows a frame is validated a slice at a time: each slice costs a GX run, and below
# ~1M rows slicing saves no memory worth it (benchmarks/results/validation.md)
SLICE_ROWS = 1_000_000


def _validate_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows: int,
    expectations: Callable[[], dict[str, Any]],
    cut_by: str | None,
) -> tuple[list[Outcome], int]:
    """Validate the temp table's `rows` rows; the outcomes and how many rows were validated.

    Above SLICE_ROWS, when the suite is row-level expectations and at most one unique key, in
    slices cut by the hash of the key (`cut_by` "_key_hash", computed with the frame) or by row
    number (`cut_by` "rowid", no key): rows sharing a key value share a slice, so a key unique
    within every slice is unique in the table, and a row-level expectation means the same either
    way; the counts add up (`merge_outcomes`). Any other suite (`cut_by` None) sees the whole table
    at once. A slice is a range of the cut, read from a table stored in that order (row ids are;
    for the key's hash, a sorted copy), so DuckDB skips the row groups outside the range. Cut by
    `% slices` instead, every slice scanned the whole table, and the time grew with the square of
    the rows (30M rows: 52 s of reading slices against 9, benchmarks/results/validation.md)."""
    columns = "* exclude (_row_hash, _key_hash)"
    if cut_by is None or rows <= SLICE_ROWS:
        frame = conn.execute(f"select {columns} from {table}").df()
        return validate(frame, expectations()), len(frame)
    if cut_by == "_key_hash":
        # sorted as a copy of the table, not while the frame's query runs: that ran out of the
        # build's 2 GB at 27M orders (the query reading core.orders_checked's view and sorting at once)
        conn.execute(f"create or replace temp table check_slices as select * from {table} order by _key_hash")
        table = "check_slices"
    per_slice, validated = [], 0
    try:
        for low, high in _slice_ranges(conn, table, cut_by, -(-rows // SLICE_ROWS)):
            # bounds written into the query: as parameters DuckDB cannot use them to skip row groups
            # (a 1M-row slice of a 30M-row table read in 1.1 s against 0.14)
            where = f"{cut_by} between {low} and {high}"
            frame = conn.execute(f"select {columns} from {table} where {where}").df()
            validated += len(frame)
            per_slice.append(validate(frame, expectations()))
    finally:
        conn.execute("drop table if exists check_slices")
    return merge_outcomes(per_slice), validated


def _slice_ranges(
    conn: duckdb.DuckDBPyConnection, table: str, cut_by: str, slices: int
) -> list[tuple[str, str]]:
    """`slices` inclusive ranges of equal width, as SQL literals, that cover every value of `cut_by`:
    the 64-bit hash's whole range (hashes are uniform: slices of about equal rows), or the table's
    row ids."""
    hashed = cut_by == "_key_hash"
    span = 2**64 if hashed else _scalar(conn, f"select max(rowid) + 1 from {table}")
    width = -(-span // slices)
    cast = "::ubigint" if hashed else ""
    lows = [number * width for number in range(slices)]
    return [(f"{low}{cast}", f"{min(low + width, span) - 1}{cast}") for low in lows]


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def outcome_summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """What a check reports: which expectations failed, and each one's count and sample."""
    return {
        "failed_expectations": ", ".join(o.name for o in outcomes if not o.success) or "none",
        "details": {
            o.name: {
                "success": o.success,
                "unexpected_count": o.unexpected_count,
                "sample": [str(v) for v in o.sample],
            }
            for o in outcomes
        },
    }


@functools.lru_cache(maxsize=1)
def _frames() -> Any:
    """The one pandas batch definition every validation passes its frame to."""
    return (
        _context()
        .data_sources.add_pandas("frames")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("all")
    )


_DEFINITIONS: dict[str, tuple[Any, dict[str, str]]] = {}


def _definition(expectations: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """A suite's validation definition (made once per process: GX takes a second to register one)
    and the label of each of its expectation ids."""
    import great_expectations as gx

    key = _fingerprint("", expectations)
    if key not in _DEFINITIONS:
        context = _context()
        suite = context.suites.add(
            gx.ExpectationSuite(name=f"s_{key}", expectations=[e.copy() for e in expectations.values()])
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"v_{key}", data=_frames(), suite=suite)
        )
        # GX orders its results its own way (grouped by column), not as the suite lists them: each
        # result is matched to its expectation by the id the suite gave it
        labels = {e.id: label for label, e in zip(expectations, suite.expectations, strict=True)}
        _DEFINITIONS[key] = (definition, labels)
    return _DEFINITIONS[key]


def validate(frame: pd.DataFrame, expectations: dict[str, Any]) -> list[Outcome]:
    """Every expectation's outcome over `frame`. GX runs first for the verdicts alone (BOOLEAN_ONLY:
    half the cost of a run that also counts and samples, ~6 against ~12 ms an expectation, and most
    validations pass); only when one fails does it run again for the counts and samples. A pass
    means no unexpected value when no expectation allows some (`mostly` below 1)."""
    definition, label_of = _definition(expectations)
    if all(getattr(e, "mostly", 1) == 1 for e in expectations.values()):
        verdicts = _outcomes(_run(definition, frame, "BOOLEAN_ONLY"), label_of)
        if all(o.success for o in verdicts.values()):
            return [Outcome(label, True, 0, []) for label in expectations]
    counted = _outcomes(_run(definition, frame, "SUMMARY"), label_of)
    return [counted[label] for label in expectations]


def _run(definition: Any, frame: pd.DataFrame, result_format: str) -> Any:
    return definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)


def _outcomes(result: Any, label_of: dict[str, str]) -> dict[str, Outcome]:
    outcomes = {}
    for item in result.results:
        label = label_of[item.expectation_config.id]
        info = item.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values()
        )
        if raised:
            raise ValidationCrashed(f"expectation {label} could not be evaluated: {info}")
        outcomes[label] = Outcome(
            label,
            bool(item.success),
            (item.result or {}).get("unexpected_count"),
            list((item.result or {}).get("partial_unexpected_list", []))[:5],
        )
    return outcomes
