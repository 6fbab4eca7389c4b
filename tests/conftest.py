"""Shared fixtures: a small sandbox world served over real HTTP on loopback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from connectors.common.pii import PiiHasher
from connectors.sandbox.server import SandboxServer, SandboxSettings

# Small, but it crosses Double 11 so peak days and multi-page windows are exercised.
TEST_WORLD = SandboxSettings(
    seed=11, people=400, start=date(2026, 11, 5), end=date(2026, 11, 14), rate_limits=False
)
TEST_PII_KEY = "test-pii-key"


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
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start an extra sandbox with other settings (rate limits on, fault injection, ...)."""
    started: list[SandboxServer] = []

    def make(**overrides: Any) -> SandboxServer:
        settings = SandboxSettings(**{**TEST_WORLD.__dict__, **overrides})
        server = SandboxServer(settings).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def pii() -> PiiHasher:
    return PiiHasher(TEST_PII_KEY)
