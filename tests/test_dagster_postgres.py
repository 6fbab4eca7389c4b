"""The production instance (config/dagster-postgres/dagster.yaml) against the real PostgreSQL on
this machine: the warehouse job runs with runs, event logs and check results stored there, the
nightly schedule's tick is evaluated against it, the run queue and writer pool are configured, and
`dagster-daemon run` on it fires the nightly tick and runs a CLI backfill, whose landings the rebuild
sensor publishes."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa

from pipelines.definitions import defs
from pipelines.status import failed_checks
from tests.conftest import requires_server, subprocess_env
from tests.processes import default_signals, free_port, wait

pytestmark = pytest.mark.db

REPO = Path(__file__).resolve().parent.parent
PRODUCTION = REPO / "config" / "dagster-postgres"
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


@pytest.mark.slow(seconds=30)
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
    assert instance.get_concurrency_config().pool_config.pool_granularity.value == "run"


def _next_nightly_time(lead_seconds: int = 25) -> tuple[str, datetime]:
    """A China time of day (HH:MM) at least `lead_seconds` away, and that moment in UTC."""
    china = ZoneInfo("Asia/Shanghai")
    at = (datetime.now(china) + timedelta(seconds=lead_seconds + 60)).replace(second=0, microsecond=0)
    return at.strftime("%H:%M"), at.astimezone(UTC)


def _runs(instance: dg.DagsterInstance, **tags: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags=tags) if tags else None))


@pytest.mark.slow(seconds=180)
@pytest.mark.timeout(
    600
)  # real processes waiting on each other: 150-250 s here, more when the machine is busy
def test_the_daemon_fires_the_nightly_tick_and_runs_a_cli_backfill_on_postgres(postgres_instance, tmp_path):
    """Production as operators run it: `dagster-daemon run` with the PostgreSQL instance. The nightly
    schedule (set to fire within two minutes) lands yesterday; an engineer's CLI backfill (one day,
    to keep the suite short) is queued and launched by the daemon's run queue; the rebuild sensor
    publishes them, one rebuild after the other."""
    instance, database = postgres_instance
    data = tmp_path / "data"
    nightly_at, fires_at = _next_nightly_time()
    sandbox_port = free_port()
    env = subprocess_env(
        data,
        **{k: v for k, v in os.environ.items() if k.startswith("DAGSTER_PG_")},
        DAGSTER_HOME=str(PRODUCTION),
        OMNI_DAGSTER_STORAGE=os.environ["OMNI_DAGSTER_STORAGE"],
        OMNI_SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}",
        OMNI_NIGHTLY_AT=nightly_at,
    )
    yesterday = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    backfill_days = [(yesterday - timedelta(days=3)).isoformat()]
    started: list[subprocess.Popen] = []

    def start(*args: str, log: str) -> subprocess.Popen:
        proc = subprocess.Popen(  # its own session: everything it starts can be found and stopped
            list(args),
            cwd=REPO,
            env=env,
            stdout=(tmp_path / log).open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=default_signals,
        )
        started.append(proc)
        return proc

    try:
        start(
            sys.executable, "-m", "pipelines.cli", "sandbox", "serve", "--port", str(sandbox_port),
            "--people", "400", log="sandbox.log",
        )  # fmt: skip
        daemon = start(
            str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m", "pipelines.definitions",
            log="daemon.log",
        )  # fmt: skip
        backfill = subprocess.run(
            [
                str(Path(sys.executable).parent / "dagster"), "job", "backfill",
                "-m", "pipelines.definitions", "-j", "landing_job",
                "--partitions", ",".join(backfill_days), "--noprompt",
            ],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert backfill.returncode == 0, backfill.stdout + backfill.stderr
        queued = _runs(instance, **{"dagster/backfill": backfill.stdout.split("`")[-2]})
        assert sorted(r.tags["dagster/partition"] for r in queued) == backfill_days

        def settled() -> list[dg.DagsterRun] | None:
            """Every run done once the nightly tick's landing and a rebuild after it have finished."""
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            runs = _runs(instance)
            nightly = _runs(instance, **{"dagster/schedule_name": "nightly_landing"})
            if not nightly or any(not r.is_finished for r in runs):
                return None
            rebuilt_after = {r.tags.get("omni/after_run") for r in runs if r.job_name == "warehouse_job"}
            return runs if nightly[0].run_id in rebuilt_after else None

        runs = wait(settled, 420, "the nightly tick's landing and the rebuild after it")
    finally:
        for proc in reversed(started):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in started:  # the daemon's code servers and run workers end with it

            def gone(sid: int = proc.pid) -> bool:
                return not subprocess.run(["pgrep", "-s", str(sid)], capture_output=True).stdout

            try:
                wait(gone, 60, f"every process of {proc.args} to end")
            finally:
                subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)], check=False)

    [nightly] = [r for r in runs if r.tags.get("dagster/schedule_name") == "nightly_landing"]
    assert nightly.job_name == "landing_job" and nightly.tags["dagster/partition"] == yesterday.isoformat()
    assert datetime.fromisoformat(nightly.tags[".dagster/scheduled_execution_time"]) == fires_at
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}, [(r.job_name, r.status) for r in runs]
    # rebuilds never interleave (the pool is held per run): each starts after the previous ended
    rebuilds = instance.get_run_records(filters=dg.RunsFilter(job_name="warehouse_job"))
    spans = sorted((r.start_time or 0.0, r.end_time or 0.0) for r in rebuilds)
    assert len(spans) >= 2 and all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    landed = sorted(r.tags["dagster/partition"] for r in runs if r.job_name == "landing_job")
    assert landed == [*backfill_days, yesterday.isoformat()]
    # stored in PostgreSQL: the schedule's tick, and every run the daemon launched
    with sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}").connect() as conn:
        ticks = conn.execute(sa.text("select status, tick_body from job_ticks where type = 'SCHEDULE'")).all()
        assert conn.execute(sa.text("select count(*) from runs")).scalar() == len(runs)
    assert [status for status, body in ticks if nightly.run_id in body] == ["SUCCESS"]

    # the last rebuild published every landed day, reconciled (its blocking checks passed)
    with duckdb.connect(str(data / "analytics.duckdb"), read_only=True) as conn:
        days = conn.execute(
            "select distinct partition_date from audit.order_reconciliation order by 1"
        ).fetchall()
    assert [d.isoformat() for (d,) in days] == landed
    assert date.fromisoformat(landed[-1]) == yesterday
