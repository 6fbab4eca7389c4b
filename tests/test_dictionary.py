"""The data dictionary is generated from the published warehouse: every marts and audit column has
a comment, every table an example query that runs, and the committed copy equals a fresh build's
(after a model change: OMNI_UPDATE_DICTIONARY=1 pytest tests/test_dictionary.py rewrites it)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from warehouse.dictionary import EXAMPLES, describe, render, undocumented

COMMITTED = Path(__file__).resolve().parent.parent / "warehouse" / "DATA_DICTIONARY.md"


@pytest.fixture(scope="module")
def tables(full_run):
    with duckdb.connect(str(full_run.data / "analytics.duckdb"), read_only=True) as conn:
        return describe(conn)


def test_every_table_and_column_is_described_and_has_an_example(tables):
    assert {t.name.split(".")[0] for t in tables} == {"marts", "audit"}
    assert undocumented(tables) == []


def test_every_example_query_runs_on_the_published_warehouse(full_run, tables):
    with duckdb.connect(str(full_run.data / "analytics.duckdb"), read_only=True) as conn:
        for table in tables:
            conn.execute(EXAMPLES[table.name]).fetchall()


def test_the_committed_dictionary_is_the_warehouse_s(tables):
    text = render(tables)
    if os.environ.get("OMNI_UPDATE_DICTIONARY") == "1":
        COMMITTED.write_text(text, encoding="utf-8")
    assert COMMITTED.read_text(encoding="utf-8") == text, (
        "warehouse/DATA_DICTIONARY.md is stale: OMNI_UPDATE_DICTIONARY=1 pytest tests/test_dictionary.py"
    )


def test_a_column_without_a_comment_is_reported(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute(
            "create schema marts; create table marts.fct_orders (order_key varchar, paid_cny decimal(18,2))"
        )
        conn.execute("comment on table marts.fct_orders is 'Orders.'")
        conn.execute("comment on column marts.fct_orders.order_key is 'The key.'")
        assert undocumented(describe(conn)) == ["marts.fct_orders.paid_cny: no comment"]
        conn.execute("create table marts.new_mart as select 1 as x")
        assert "marts.new_mart: no example query in warehouse/dictionary.py" in undocumented(describe(conn))
