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
    ],
)
def test_a_wrong_setting_is_an_error_naming_it(setting, message):
    settings = TEST_WORLD.__class__(**{**TEST_WORLD.__dict__, "platform": (setting,)})
    with pytest.raises(ValueError, match=message):
        SandboxServer(settings)
