"""Analysts reach the published warehouse read-only from Python (duckdb, pandas) and through
SQLAlchemy (duckdb-engine, what BI tools use); nothing they do can write to it."""

from __future__ import annotations

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
