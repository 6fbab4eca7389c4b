"""`omni status` on a built warehouse: every configured shop with its newest orders day and
freshness, the quarantine, and the checks that failed at their latest evaluation."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.config import DEFAULT_CONFIG, load_config
from pipelines.definitions import defs
from pipelines.status import status
from warehouse.paths import WarehousePaths


def test_status_names_each_shop_its_newest_day_and_the_failed_checks(full_run):
    world = full_run.server.world
    shops = [(s.channel, s.shop_id) for s in load_config(DEFAULT_CONFIG, env={}).shops]
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # 17:00 in China: 2026-12-04 is due
    keys = list(defs.resolve_asset_graph().asset_check_keys)
    report = status(
        WarehousePaths(full_run.data), [*shops, ("jd", "jd-new-shop")], now, full_run.instance, keys
    )

    newest = {(s.channel, s.shop_id): s.latest_day for s in report.shops}
    assert newest[("jd", "jd-new-shop")] is None, "a shop never pulled shows as such"
    assert all(day == world.end for key, day in newest.items() if key != ("jd", "jd-new-shop"))
    assert all(s.late for s in report.shops), "the test world ended weeks before the due day"
    assert report.quarantined == {} and report.unreconciled == {}
    # the full run's only failing check: freshness, a warning naming the late shops
    assert [(f.check, f.severity) for f in report.failed_checks] == [("orders_fresh", "WARN")]
    assert report.failed_checks[0].said.startswith("late: alibaba_1688/wholesale-1688: newest orders day")

    text = report.render()
    assert "jd/jd-new-shop" in text and "never" in text and "LATE" in text
    assert "orders_fresh" in text and "published warehouse: 2026-" in text
