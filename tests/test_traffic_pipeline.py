"""Traffic end to end in real Dagster runs: GA4, Ocean Engine, 直通车 and the stores' door counters
(POS database) pulled with the orders, export files loaded from the drop folders (by the runner and
by the sensor), and the marts checked against the sandbox's traffic truth."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from connectors.config import load_config
from connectors.sandbox.catalog import STORES
from connectors.sandbox.exports import write_export
from connectors.sandbox.truth import truth_traffic
from pipelines.definitions import defs
from pipelines.resources import OmniResource
from pipelines.traffic_exports import traffic_export_files
from tests.conftest import point_pipeline_at
from tests.test_pipeline import published


@pytest.fixture
def traffic_env(tmp_path, monkeypatch, sandbox):
    return point_pipeline_at(sandbox, tmp_path, monkeypatch)


TRAFFIC_MODELS = (
    ["staging", "stg_traffic__reports"],
    ["marts", "fct_channel_daily"],
    ["marts", "fct_channel_traffic_daily"],
    ["analytics_warehouse"],
)


def _age(folder: Path, seconds: float = 60) -> None:
    """Make dropped files look settled (as if copied a minute ago)."""
    past = time.time() - seconds
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def _daily(data: Path) -> pd.DataFrame:
    return published(
        data,
        "select channel, shop_id, order_date as traffic_date, visitors, page_views, sessions, "
        "conversion_numerator, conversion_denominator, conversion_definition, "
        "cast(ad_spend_cny as varchar) as ad_spend_cny, ad_clicks, ad_impressions, "
        "cast(paid_cny as varchar) as paid_cny, cast(roi as varchar) as roi "
        "from marts.fct_channel_daily",
    )


def test_traffic_of_every_source_reaches_the_marts_exactly(full_run):
    """On the shared full run, whose export files were dropped before it ran."""
    config = load_config()
    export_shops = {t.shop_id for t in config.traffic_for("exports")}
    ga4_shops = {t.shop_id for t in config.traffic_for("ga4")}
    footfall_shops = {t.shop_id for t in config.traffic_for("pos_footfall")}
    assert footfall_shops == {"pos-main"}
    data, world = full_run.data, full_run.server.world
    loaded = {p.parent.parent.name for p in (data / "drops").glob("*/*/_loaded/*")}
    assert loaded == export_shops, "every shop's export file was loaded and moved aside"

    truth = truth_traffic(world, export_shops, ga4_shops, footfall_shops)
    truth["traffic_date"] = pd.to_datetime(truth["traffic_date"])
    got = _daily(data).merge(truth, on=["channel", "shop_id", "traffic_date"], suffixes=("", "_truth"))
    assert len(got) == len(truth), "every shop-day of the truth has its row in fct_channel_daily"
    for column in ("visitors", "page_views", "sessions", "ad_clicks", "ad_impressions"):
        expected = got[f"{column}_truth"].astype("Int64")
        assert (got[column].astype("Int64").fillna(-1) == expected.fillna(-1)).all(), column
    spend = got["ad_spend_cny_truth"].map(lambda d: None if pd.isna(d) else f"{d:.2f}")
    assert (got["ad_spend_cny"].fillna("-") == spend.fillna("-")).all()

    # Conversion is each platform's own, named in the data.
    ga4 = got[got["shop_id"].isin(ga4_shops)]
    assert (ga4["conversion_numerator"] == ga4["converted_sessions"]).all()
    assert (ga4["conversion_denominator"] == ga4["sessions"]).all()
    assert ga4["conversion_definition"].str.startswith("GA4").all()
    exported = got[got["shop_id"].isin(export_shops)]
    assert (exported["conversion_numerator"] == exported["paying_buyers"]).all()
    assert (exported["conversion_denominator"] == exported["visitors"]).all()
    assert exported["conversion_definition"].str.contains("访客数").all()
    # Stores: transactions per door-counter entry, every day of the world.
    stores = got[got["shop_id"].isin(footfall_shops)]
    assert len(stores) == (world.end - world.start).days + 1
    assert (stores["conversion_numerator"] == stores["paying_buyers"]).all()
    assert (stores["conversion_denominator"] == stores["visitors"]).all()
    assert (stores["conversion_definition"] == "成交笔数 / 进店人数 (door counters)").all()
    assert (stores["visitors"] >= stores["paying_buyers"]).all() and stores["paying_buyers"].sum() > 0
    # Visitors >= paying buyers, and ROI is paid sales / ad spend, exactly.
    assert (exported["visitors"] >= exported["paying_buyers"]).all()
    ads = got[got["ad_spend_cny"].notna() & (got["ad_spend_cny"] != "0.00")]
    assert set(ads["shop_id"]) == {"douyin-shop", "tmall-flagship", "taobao-store"}
    for row in ads.itertuples():
        expected_roi = (Decimal(row.paid_cny) / Decimal(row.ad_spend_cny)).quantize(Decimal("0.0001"))
        assert abs(Decimal(row.roi) - expected_roi) <= Decimal("0.0001"), row

    # The breakdown: GA4 sessions add up to the day totals; users do not (and the mart says so).
    breakdown = published(
        data,
        "select shop_id, traffic_date, sum(sessions) as sessions, sum(visitors) as visitor_sum "
        "from marts.fct_channel_traffic_daily where report_source = 'ga4' group by all",
    ).merge(ga4, on=["shop_id", "traffic_date"], suffixes=("", "_day"))
    assert (breakdown["sessions"] == breakdown["sessions_day"]).all()
    assert (breakdown["visitor_sum"] > breakdown["visitors"]).any()
    # Door counters: one row per store (no day-total row beside them), entries adding up to the day.
    by_store = published(
        data,
        "select shop_id, traffic_date, count(*) as rows, count(distinct source) as stores, "
        "sum(visitors) as entries, sum(paying_buyers) as transactions, "
        "count(*) filter (where medium <> 'store') as not_store "
        "from marts.fct_channel_traffic_daily where report_source = 'pos_footfall' group by all",
    ).merge(stores, on=["shop_id", "traffic_date"])
    assert len(by_store) == len(stores)
    assert (by_store["rows"] == len(STORES)).all() and (by_store["stores"] == len(STORES)).all()
    assert (by_store["not_store"] == 0).all()
    assert (by_store["entries"] == by_store["visitors"]).all()
    assert (by_store["transactions"] == by_store["paying_buyers"]).all()
    comment = published(
        data,
        "select comment from duckdb_columns() where schema_name = 'marts' "
        "and table_name = 'fct_channel_traffic_daily' and column_name = 'visitors'",
    )["comment"][0]
    assert "not additive" in comment


def test_corrected_and_duplicate_export_files_through_the_sensor(traffic_env, sandbox):
    data = traffic_env
    world = sandbox.world
    instance = dg.DagsterInstance.ephemeral()
    day = world.start
    drop = data / "drops" / "tmall" / "tmall-flagship"
    drop.mkdir(parents=True)
    original = write_export(world, "tmall-flagship", drop)

    def evaluate() -> dg.SensorResult:
        with dg.build_sensor_context(instance=instance, resources={"omni": OmniResource()}) as context:
            return traffic_export_files(context)

    assert evaluate().skip_reason, "a file that is still being written (just modified) waits"
    _age(drop)
    request = evaluate().run_requests[0]
    assert request.asset_selection == [dg.AssetKey(["landing", "tmall", "traffic_exports"])]
    assert evaluate().run_requests[0].run_key == request.run_key, "the same files give the same run key"

    rebuilt = []

    def load_and_rebuild() -> pd.DataFrame:
        job = defs.resolve_job_def("traffic_exports_job")
        assert job.execute_in_process(instance=instance, asset_selection=request.asset_selection).success
        # the first time the whole warehouse; then only what the export files feed, and publishing
        selection = None if not rebuilt else [dg.AssetKey(k) for k in TRAFFIC_MODELS]
        warehouse = defs.resolve_job_def("warehouse_job")
        assert warehouse.execute_in_process(instance=instance, asset_selection=selection).success
        rebuilt.append(True)
        return published(
            data,
            "select order_date, visitors from marts.fct_channel_daily "
            "where shop_id = 'tmall-flagship' order by order_date",
        )

    first = load_and_rebuild()
    truth = {d.day: d.visitors for d in world.traffic.shop_days("tmall-flagship")}
    assert dict(zip(first["order_date"].dt.date, first["visitors"], strict=True)) == truth
    assert evaluate().skip_reason, "loaded files leave the drop folder"

    # A corrected file for one day replaces that day; the other days keep their numbers.
    write_export(world, "tmall-flagship", drop, days=[day], revise={day: truth[day] + 1000})
    _age(drop)
    request = evaluate().run_requests[0]
    corrected = load_and_rebuild()
    visitors = dict(zip(corrected["order_date"].dt.date, corrected["visitors"], strict=True))
    assert visitors == {**truth, day: truth[day] + 1000}

    # The original file dropped again: already loaded, so nothing changes.
    (drop / original.name).write_bytes((drop / "_loaded" / original.name).read_bytes())
    _age(drop)
    request = evaluate().run_requests[0]
    again = load_and_rebuild()
    assert again.equals(corrected)
