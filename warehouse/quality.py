"""Great Expectations on DataFrames read from DuckDB (GX 1.x cannot validate DuckDB SQL tables:
its SQL datasource silently returns wrong results there; see the stack notes).

`validate` distinguishes bad data (an expectation failed) from a broken validation (GX raised
while computing a metric, which it reports as a failure with `exception_info`): the latter raises
`ValidationCrashed`, so a crash is never mistaken for, or hidden as, bad data.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd


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


def validate_query(
    conn: duckdb.DuckDBPyConnection,
    frame_sql: str,
    expectations: Callable[[], dict[str, Any]],
    month_column: str | None = None,
) -> tuple[list[Outcome], int]:
    """Validate the rows `frame_sql` selects; with `month_column`, one calendar month of it at a
    time (and the rows without a date), so memory follows the largest month, not the table. A
    row-level expectation means the same either way; a key unique within each month is unique in
    the table when the key determines the month (an order has one order date). Returns the
    outcomes and how many rows were checked."""
    if month_column is None:
        frame = conn.execute(frame_sql).df()
        return validate(frame, expectations()), len(frame)
    months = conn.execute(f"select distinct date_trunc('month', {month_column}) from ({frame_sql})")
    per_slice, rows = [], 0
    for (month,) in months.fetchall():
        if month is None:
            sql, params = f"select * from ({frame_sql}) where {month_column} is null", []
        else:
            sql, params = (
                f"select * from ({frame_sql}) where date_trunc('month', {month_column}) = ?",
                [month],
            )
        frame = conn.execute(sql, params).df()
        rows += len(frame)
        per_slice.append(validate(frame, expectations()))
    if not per_slice:  # an empty table still gets its expectations evaluated
        return validate(conn.execute(frame_sql).df(), expectations()), 0
    return merge_outcomes(per_slice), rows


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


def validate(frame: pd.DataFrame, expectations: dict[str, Any]) -> list[Outcome]:
    import great_expectations as gx

    context = _context()
    name = f"v_{uuid.uuid4().hex}"
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(name=name, expectations=[e.copy() for e in expectations.values()])
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    try:
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    finally:
        context.validation_definitions.delete(name)
        context.suites.delete(name)
        context.data_sources.delete(name)
    outcomes = []
    for label, item in zip(expectations, result.results, strict=True):
        info = item.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values()
        )
        if raised:
            raise ValidationCrashed(f"expectation {label} could not be evaluated: {info}")
        outcomes.append(
            Outcome(
                label,
                bool(item.success),
                item.result.get("unexpected_count"),
                list(item.result.get("partial_unexpected_list", []))[:5],
            )
        )
    return outcomes
