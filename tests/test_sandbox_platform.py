"""What the reference leaves unverified is a simulator default that configuration can change."""

from __future__ import annotations

import pytest

from connectors.common.errors import FatalError
from connectors.sandbox import jd_sim
from connectors.sandbox.server import SandboxServer
from tests.conftest import TEST_WORLD
from tests.marketplace import pull, whole_world
from tests.test_jd import make_source


def test_a_platform_setting_changes_the_simulator_while_it_runs_and_only_then(make_sandbox):
    server = make_sandbox(platform=(("jd_sim.MAX_PAGE_SIZE", 10),))
    with pytest.raises(FatalError, match="page_size"):
        pull(make_source(server, page_size=11), *whole_world(server))
    assert pull(make_source(server, page_size=10), *whole_world(server)).num_rows > 0
    server.stop()
    assert jd_sim.MAX_PAGE_SIZE == 50, "the default is back once the server stops"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (("jd_sim.NO_SUCH_THING", 1), "jd_sim has no constant NO_SUCH_THING"),
        (("nowhere_sim.MAX_PAGE_SIZE", 1), "no simulator module 'nowhere_sim'"),
        (("jd_sim.MAX_PAGE_SIZE", "many"), "expected int"),
        (("top_sim.HISTORY", "three months"), "expected a duration"),
        (("top_sim.HISTORY", "90 fortnights"), "expected a duration"),
    ],
)
def test_a_wrong_setting_is_an_error_naming_it(setting, message):
    settings = TEST_WORLD.__class__(**{**TEST_WORLD.__dict__, "platform": (setting,)})
    with pytest.raises(ValueError, match=message):
        SandboxServer(settings)


def test_a_duration_setting_is_written_as_text(make_sandbox):
    """TOML has no durations: a timedelta constant takes "<n> days|hours|minutes|seconds" (the
    benchmarks serve three years of history through simulators that keep 90 days)."""
    from datetime import timedelta

    from connectors.sandbox import top_sim

    server = make_sandbox(platform=(("top_sim.HISTORY", "1200 days"),))
    assert timedelta(days=1200) == top_sim.HISTORY
    server.stop()
    assert timedelta(days=90) == top_sim.HISTORY
