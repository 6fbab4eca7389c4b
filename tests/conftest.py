"""Shared fixtures: a small sandbox world served over real HTTP on loopback."""

from __future__ import annotations

import os
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
    import dagster as dg

    from connectors.sandbox.exports import write_exports
    from pipelines.runner import run_range

    tmp_path = tmp_path_factory.mktemp("full_run")
    world = sandbox.world
    with pytest.MonkeyPatch.context() as monkeypatch:
        data = point_pipeline_at(sandbox, tmp_path, monkeypatch)
        write_exports(world, data / "drops")
        instance = dg.DagsterInstance.ephemeral()
        result = run_range(world.start, world.end, instance=instance, settle_seconds=0)
        assert result.ok, result.failures
    return FullRun(data, instance, tmp_path, sandbox)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow end-to-end tests first, so that a long test never starts last: with `--dist
    worksteal` (make test) the worker that finishes its share first takes from the other's queue,
    whose long tests are then behind it (longest first packs two workers best)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
