"""The run's connection to the build file (pipelines/resources.py): one for the whole run, unless
DuckDB's cache of the file grows large, then closed and opened again by the next step."""

from __future__ import annotations

import pipelines.resources as resources
from pipelines.resources import OmniResource


def test_the_build_file_stays_open_between_steps_until_its_cache_grows(tmp_path, monkeypatch):
    omni = OmniResource(data_dir=str(tmp_path))
    try:
        with omni.build_connection() as conn:
            conn.execute("create table t as select range as i from range(100000)")
            conn.execute("create temp table scratch as select 1")  # a step's own: gone with its cursor
        held = omni._build
        assert held is not None
        with omni.build_connection() as conn:  # the next step works on the same open file
            assert conn.execute("select count(*) from t").fetchone() == (100000,)
            assert not conn.execute("select * from duckdb_tables() where table_name = 'scratch'").fetchall()
        assert omni._build is held

        monkeypatch.setattr(resources, "RELEASE_CACHE_ABOVE_BYTES", 0)  # any cache is too much
        with omni.build_connection() as conn:
            conn.execute("select sum(i) from t").fetchone()
        assert omni._build is None  # closed after the step, so its cache is released
        with omni.build_connection() as conn:  # the next step opens it again
            assert conn.execute("select count(*) from t").fetchone() == (100000,)
        assert omni._build is None
    finally:
        omni.teardown_after_execution(None)  # type: ignore[arg-type]
    assert omni._build is None
