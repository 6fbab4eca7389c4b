"""Analysts reach the published warehouse read-only from the DuckDB CLI, Python (duckdb, pandas) and
through SQLAlchemy (duckdb-engine, what BI tools use); nothing they do can write to it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa


@pytest.fixture(scope="module")
def warehouse(full_run):
    return full_run.data / "analytics.duckdb"


def _orders(warehouse) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        row = conn.execute("select count(*) from marts.fct_orders").fetchone()
    assert row is not None
    return int(row[0])


def test_python_and_pandas_read_only(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        frame = conn.execute(
            "select channel, sum(net_cny) as net_cny from marts.fct_orders group by all"
        ).df()
        assert isinstance(frame, pd.DataFrame) and len(frame) >= 5
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            conn.execute("delete from marts.fct_orders")


def test_sqlalchemy_duckdb_engine_read_only(warehouse):
    expected = _orders(warehouse)  # (one process may not mix differently configured connections)
    engine = sa.create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True})
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.text("select count(*) from marts.fct_orders")).scalar()
            assert count == expected > 0
            frame = pd.read_sql(sa.text("select * from marts.fct_channel_daily limit 5"), conn)
            assert len(frame) == 5 and "net_cny" in frame.columns
            with pytest.raises(sa.exc.SQLAlchemyError, match="read-only"):
                conn.execute(sa.text("delete from marts.fct_orders"))
    finally:
        engine.dispose()


def test_duckdb_cli_read_only(warehouse):
    """The `duckdb` shell (duckdb-cli, installed with the project) opens the published file read-only:
    it answers a query with the same number the library gives and refuses a write."""
    cli = shutil.which("duckdb") or str(Path(sys.executable).parent / "duckdb")
    expected = _orders(warehouse)
    query = subprocess.run(
        [
            cli,
            "-readonly",
            "-csv",
            "-noheader",
            str(warehouse),
            "-c",
            "select count(*) from marts.fct_orders",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert query.returncode == 0, query.stderr
    assert int(query.stdout.strip()) == expected > 0
    write = subprocess.run(
        [cli, "-readonly", str(warehouse), "-c", "delete from marts.fct_orders"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert write.returncode != 0 and "read-only" in (write.stdout + write.stderr)
    assert _orders(warehouse) == expected
