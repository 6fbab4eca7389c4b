"""Shared fixtures: a small sandbox world served over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.common.pii import PiiHasher
from connectors.sandbox.server import SandboxServer, SandboxSettings

# Small, but it crosses Double 11 so peak days and multi-page windows are exercised.
TEST_WORLD = SandboxSettings(
    seed=11, people=400, start=date(2026, 11, 5), end=date(2026, 11, 14), rate_limits=False
)
TEST_PII_KEY = "test-pii-key"
# The test worlds run with their rate limits off, so clients need not pace their calls to the
# platforms' quotas (TOP's and Meituan's pacing made the suite ~2 minutes longer); a sandbox
# started with its limits on turns pacing back on (`make_sandbox`). Subprocesses get it explicitly.
os.environ.setdefault("OMNI_HTTP_PACING", "off")


def requires_server(name: str) -> Callable[[str], None]:
    """Skip when a database server is absent locally; never skip under CI=true."""

    def fail_or_skip(reason: str) -> None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required under CI=true: {reason}")
        pytest.skip(f"{name} not available: {reason}")

    return fail_or_skip


@pytest.fixture(scope="session")
def world_settings() -> SandboxSettings:
    return TEST_WORLD


@pytest.fixture(scope="session")
def sandbox(world_settings: SandboxSettings) -> Iterator[SandboxServer]:
    """The shared sandbox, rate limits off (connector correctness tests)."""
    with SandboxServer(world_settings) as server:
        yield server


@pytest.fixture
def make_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SandboxServer]]:
    """Start an extra sandbox with other settings (rate limits on, fault injection, ...); with
    its rate limits on, clients pace their calls as they would against the platform."""
    started: list[SandboxServer] = []

    def make(**overrides: Any) -> SandboxServer:
        settings = SandboxSettings(**{**TEST_WORLD.__dict__, **overrides})
        if settings.rate_limits:
            monkeypatch.setenv("OMNI_HTTP_PACING", "on")
        server = SandboxServer(settings).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def pii() -> PiiHasher:
    return PiiHasher(TEST_PII_KEY)


def subprocess_env(data_dir: Any, **extra: str) -> dict[str, str]:
    """The environment of a pipeline command run as a user runs it: this environment without its
    OMNI_/DAGSTER_ settings, the venv's commands on PATH, data under `data_dir`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNI_", "DAGSTER_"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        OMNI_DATA_DIR=str(data_dir),
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        GX_ANALYTICS_ENABLED="false",
        **extra,
    )
    return env


def point_pipeline_at(server: SandboxServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Environment for a pipeline run against `server`: a data folder under tmp_path, the POS
    database and the ownership truth beside it, the built-in sandbox config."""
    from connectors.sandbox.pos_db import write_pos_database
    from connectors.sandbox.truth import write_truth_accounts

    pos = tmp_path / "pos.sqlite"
    write_pos_database(server.world, f"sqlite:///{pos}")
    write_truth_accounts(server.world, tmp_path / "data" / "sandbox")
    monkeypatch.setenv("OMNI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OMNI_SANDBOX_URL", server.url)
    monkeypatch.setenv("OMNI_POS_DATABASE_URL", f"sqlite:///{pos}")
    monkeypatch.delenv("OMNI_CONFIG", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path / "data"


@dataclass
class FullRun:
    """The whole test world through the pipeline once: orders, traffic APIs, the export files an
    operator dropped, customers. Tests that read what it published share it (a full run is the
    suite's most expensive step); a test that runs the pipeline again on it must leave it equal."""

    data: Any
    instance: Any
    tmp_path: Any
    server: SandboxServer

    def point(self, monkeypatch: pytest.MonkeyPatch) -> Any:
        monkeypatch.setenv("OMNI_DATA_DIR", str(self.data))
        monkeypatch.setenv("OMNI_SANDBOX_URL", self.server.url)
        monkeypatch.setenv("OMNI_POS_DATABASE_URL", f"sqlite:///{self.tmp_path / 'pos.sqlite'}")
        monkeypatch.delenv("OMNI_CONFIG", raising=False)
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        return self.data


@pytest.fixture(scope="session")
def full_run(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> FullRun:
    """Built once per test session: under pytest-xdist the first worker to need it builds it in the
    workers' shared folder while the others wait on a file lock (two workers each building it cost a
    build, ~40 s, of the suite); every worker then works on its own copy of the folder and of the
    run's Dagster records. The worlds of the workers' sandboxes are the same world."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = shared.parent
    built = shared / "full_run"
    with FileLock(str(shared / "full_run.lock")):
        if not (built / DAGSTER_RECORDS).exists():
            _build_full_run(sandbox, built)
    tmp_path = tmp_path_factory.mktemp("full_run")
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    return FullRun(tmp_path / "data", _load_instance(tmp_path / DAGSTER_RECORDS), tmp_path, sandbox)


DAGSTER_RECORDS = "dagster-records.jsonl"  # written last: its presence says the build finished


def _build_full_run(sandbox: SandboxServer, folder: Path) -> None:
    import dagster as dg

    from connectors.sandbox.exports import write_exports
    from pipelines.runner import run_range

    folder.mkdir(parents=True, exist_ok=True)
    world = sandbox.world
    with pytest.MonkeyPatch.context() as monkeypatch:
        data = point_pipeline_at(sandbox, folder, monkeypatch)
        write_exports(world, data / "drops")
        instance = dg.DagsterInstance.ephemeral()
        result = run_range(world.start, world.end, instance=instance, settle_seconds=0)
        assert result.ok, result.failures
    # the runs and their events, for each worker's own in-memory instance (an instance on disk
    # would make every run of the tests that use it ~10 s slower: SQLite commits each event)
    lines = []
    for record in reversed(instance.get_run_records()):
        run = record.dagster_run
        if run.job_snapshot_id:
            lines.append(
                json.dumps({"job": dg.serialize_value(instance.get_job_snapshot(run.job_snapshot_id))})
            )
        if run.execution_plan_snapshot_id:
            plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            lines.append(json.dumps({"plan": dg.serialize_value(plan)}))
        lines.append(json.dumps({"run": dg.serialize_value(run)}))
        lines += [json.dumps({"event": dg.serialize_value(e)}) for e in instance.all_logs(run.run_id)]
    (folder / DAGSTER_RECORDS).write_text("\n".join(lines) + "\n")


def _load_instance(records: Path) -> Any:
    import dagster as dg

    instance = dg.DagsterInstance.ephemeral()
    for line in records.read_text().splitlines():
        [(kind, value)] = json.loads(line).items()
        if kind == "job":
            instance.run_storage.add_job_snapshot(dg.deserialize_value(value))
        elif kind == "plan":
            instance.run_storage.add_execution_plan_snapshot(dg.deserialize_value(value))
        elif kind == "run":
            instance.add_run(dg.deserialize_value(value, dg.DagsterRun))
        else:
            instance.event_log_storage.store_event(dg.deserialize_value(value, dg.EventLogEntry))
    return instance


# A test marked slow without its own estimate (a module's `pytestmark`): seconds on this machine
SLOW_SECONDS = 15


def _expected_seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return 0.0 if marker is None else float(marker.kwargs.get("seconds", SLOW_SECONDS))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, longest first (`@pytest.mark.slow(seconds=...)`, measured on this
    2-core machine), so that a long test never starts last: with `--dist worksteal` (make test) the
    worker that finishes its share takes from the end of the other's queue, and the test running
    there and the one after it are never taken — longest first leaves those two short. At equal
    estimates, tests without the shared full run first: one worker runs them while the other
    builds it."""
    items.sort(key=lambda item: (-_expected_seconds(item), "full_run" in getattr(item, "fixturenames", ())))
