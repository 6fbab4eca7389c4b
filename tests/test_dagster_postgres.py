"""The production instance (config/dagster-postgres/dagster.yaml) against the real PostgreSQL on
this machine: the warehouse job runs with runs, event logs and check results stored there, the
nightly schedule's tick is evaluated against it, and the run queue and writer pool are configured."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from pipelines.definitions import defs
from pipelines.status import failed_checks
from tests.conftest import requires_server

pytestmark = pytest.mark.db

PRODUCTION = Path(__file__).resolve().parent.parent / "config" / "dagster-postgres"
ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def postgres_instance(tmp_path, monkeypatch):
    name = f"omni_dagster_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"create database {name}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        requires_server("postgresql")(str(exc.orig).splitlines()[0])
    for variable, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": name,
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "OMNI_DAGSTER_STORAGE": str(tmp_path / "dagster"),
    }.items():
        monkeypatch.setenv(variable, value)
    instance = dg.DagsterInstance.from_config(str(PRODUCTION))
    try:
        yield instance, name
    finally:
        instance.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"drop database if exists {name} with (force)"))
        admin.dispose()


def test_the_warehouse_job_and_the_schedule_run_on_postgres_storage(
    postgres_instance, full_run, tmp_path, monkeypatch
):
    instance, database = postgres_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    data = tmp_path / "data"
    shutil.copytree(full_run.data, data)
    full_run.point(monkeypatch)
    monkeypatch.setenv("OMNI_DATA_DIR", str(data))

    result = defs.resolve_job_def("warehouse_job").execute_in_process(instance=instance)
    assert result.success
    # stored in PostgreSQL: the run, its events, the checks' results
    with sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}").connect() as conn:
        assert conn.execute(sa.text("select count(*) from runs")).scalar() == 1
        assert conn.execute(sa.text("select count(*) from event_logs")).scalar() > 100
    keys = list(defs.resolve_asset_graph().asset_check_keys)
    assert [f.check for f in failed_checks(instance, keys)] == ["orders_fresh"]

    # the nightly schedule's tick against this instance: yesterday (China) as one partition
    schedule = defs.resolve_schedule_def("nightly_landing")
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime.fromisoformat("2026-11-25T02:00:00+08:00"),
        repository_def=defs.get_repository_def(),
    )
    [request] = schedule.evaluate_tick(context).run_requests or []
    assert request.partition_key == "2026-11-24"

    # the queue and the single DuckDB writer slot come from the file
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
