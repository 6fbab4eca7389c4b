"""The daily KPI report, written by the pipeline's `kpi_report` asset, opened in headless Chromium
(Debian's, driven by Playwright): its charts render, with the day's numbers from the warehouse."""

from __future__ import annotations

import duckdb

from tests.browser import artifacts_dir, chromium
from warehouse.report import write_report


def _money(value) -> str:
    return f"¥{float(value or 0):,.2f}"


def test_the_report_renders_the_days_numbers_in_chromium(full_run, tmp_path):
    published = full_run.data / "analytics.duckdb"
    path = write_report(published, tmp_path / "reports")
    assert path is not None and (tmp_path / "reports" / "latest.html").read_bytes() == path.read_bytes()
    day = path.stem.removeprefix("kpi-")
    assert day == full_run.server.world.end.isoformat(), "the newest day with orders"
    with duckdb.connect(str(published), read_only=True) as conn:
        net_by_channel = dict(
            conn.execute(
                "select channel, sum(net_cny) filter (where order_date = $day) from marts.fct_channel_daily "
                "where order_date between $day::date - 6 and $day group by channel",
                {"day": day},
            ).fetchall()
        )
        days = conn.execute(
            "select count(distinct order_date) from marts.fct_channel_daily "
            "where order_date between $day::date - 29 and $day",
            {"day": day},
        ).fetchone()
        segments = conn.execute("select count(distinct segment) from marts.customer_rfm").fetchone()

    artifacts = artifacts_dir(tmp_path)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 1200})
        page.goto(path.as_uri())
        assert page.title() == f"KPI report {day}"
        bars = page.locator("#net-by-channel-day g.bar")
        assert bars.count() == len(net_by_channel) >= 5
        shown = {}
        for i in range(bars.count()):
            bar = bars.nth(i)
            shown[bar.get_attribute("data-label")] = bar.locator("text.value").text_content()
            box = bar.locator("rect").bounding_box()
            assert box is not None and box["height"] > 0, "the bar is drawn"
            if float(bar.get_attribute("data-value") or 0) > 0:
                assert box["width"] > 0
        assert shown == {channel: _money(net) for channel, net in net_by_channel.items()}
        assert page.locator("#net-by-day g.bar").count() == (days or [0])[0]
        assert page.locator("#segments g.bar").count() == (segments or [0])[0]
        assert page.locator("#new-vs-returning g.bar").count() == 2
        page.screenshot(path=str(artifacts / f"kpi-{day}.png"), full_page=True)
    assert (artifacts / f"kpi-{day}.png").stat().st_size > 10_000


def test_the_pipeline_writes_the_report_after_publishing(full_run):
    reports = full_run.data / "reports"
    written = sorted(p.name for p in reports.glob("*.html"))
    assert written == ["kpi-" + full_run.server.world.end.isoformat() + ".html", "latest.html"]
    assert (reports / "latest.html").read_text(encoding="utf-8").endswith("</body></html>")
