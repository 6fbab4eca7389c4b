"""Real Dagster runs (in-process) from the sandbox to the published warehouse, checked against the
world's ground truth, run twice, with an analyst holding the published file open."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import pandas as pd
import pytest

from connectors.common.timeutil import china_days_window
from connectors.registry import CHANNELS
from connectors.sandbox.truth import truth_orders, truth_redemptions
from pipelines.runner import run_range
from tests.conftest import point_pipeline_at

MART_COLUMNS = [
    "order_key",
    "channel",
    "shop_id",
    "order_id",
    "order_date",
    "status",
    "gmv_cny",
    "paid_cny",
    "refunded_cny",
    "net_cny",
    "platform_discount_cny",
]


@pytest.fixture
def pipeline_env(tmp_path, monkeypatch, sandbox):
    return point_pipeline_at(sandbox, tmp_path, monkeypatch)


def published(data_dir, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as conn:
        return conn.execute(sql).df()


def assert_published_equal(data_dir, reference_dir, *queries: str) -> None:
    """Each query gives exactly the same rows in two published warehouses."""
    for sql in queries:
        pd.testing.assert_frame_equal(
            published(data_dir, sql), published(reference_dir, sql), check_exact=True
        )


def orders_snapshot(data_dir) -> pd.DataFrame:
    """Money as exact decimal text: pandas would turn DECIMAL into float."""
    columns = [f"cast({c} as varchar) as {c}" if c.endswith("_cny") else c for c in MART_COLUMNS]
    return published(data_dir, f"select {', '.join(columns)} from marts.fct_orders order by order_key")


@pytest.mark.slow(seconds=50)
def test_full_range_matches_truth_and_a_second_run_changes_nothing(full_run, tmp_path, monkeypatch):
    world = full_run.server.world
    pipeline_env = full_run.point(monkeypatch)

    got = orders_snapshot(pipeline_env)
    truth = truth_orders(world)
    money = ("gmv_cny", "paid_cny", "refunded_cny", "platform_discount_cny")
    for column in money:
        truth[column] = truth[column].map(lambda d: f"{d:.2f}")
    assert len(got) == len(truth), "every order must be present exactly once"
    merged = truth.merge(
        got, on=["channel", "order_id"], how="outer", indicator=True, suffixes=("_truth", "")
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["shop_id_truth"] == merged["shop_id"]).all()
    assert (merged["created_date"] == merged["order_date"].dt.date).all()
    assert (merged["status_truth"] == merged["status"]).all(), merged.loc[
        merged["status_truth"] != merged["status"], ["channel", "order_id", "status_truth", "status"]
    ].head()
    assert set(truth["channel"]) == set(CHANNELS), "the test world has orders on every channel"
    for column in money:
        mismatched = merged[merged[f"{column}_truth"] != merged[column]]
        assert mismatched.empty, mismatched[["channel", "order_id", f"{column}_truth", column]].head()

    daily = published(pipeline_env, "select * from marts.fct_channel_daily order by all")
    assert daily["orders"].sum() == len(truth)
    # Per channel and China day, the daily mart's orders, paid and refunded equal the truth's.
    truth_daily = (
        truth_orders(world)
        .groupby(["channel", "created_date"])
        .agg(orders=("order_id", "size"), paid=("paid_cny", "sum"), refunded=("refunded_cny", "sum"))
    )
    mart_daily = published(
        pipeline_env,
        "select channel, order_date as created_date, sum(orders) as orders, "
        "cast(sum(paid_cny) as varchar) as paid, cast(sum(refunded_cny) as varchar) as refunded "
        "from marts.fct_channel_daily where orders > 0 group by all",
    )
    mart_daily["created_date"] = mart_daily["created_date"].dt.date
    mart_daily = mart_daily.set_index(["channel", "created_date"]).sort_index()
    assert list(mart_daily.index) == list(truth_daily.index)
    assert (mart_daily["orders"] == truth_daily["orders"]).all()
    assert (mart_daily["paid"].map(Decimal) == truth_daily["paid"]).all()
    assert (mart_daily["refunded"].map(Decimal) == truth_daily["refunded"]).all()
    net_sql = "select cast(sum(net_cny) as varchar) as n from marts.fct_channel_daily"
    net = published(pipeline_env, net_sql)["n"][0]
    assert Decimal(net) == sum(truth_orders(world).eval("paid_cny - refunded_cny"))
    comments = published(
        pipeline_env,
        "select column_name, comment from duckdb_columns() "
        "where schema_name = 'marts' and table_name = 'fct_orders'",
    )
    assert comments["comment"].notna().all(), comments[comments["comment"].isna()]
    # O2O revenue: every redeemed voucher once, in the redeeming store, on the redemption date.
    redemptions = published(
        pipeline_env,
        "select voucher_code, redeemed_store_id, redeemed_date, cast(amount_cny as varchar) as amount "
        "from marts.fct_voucher_redemptions order by voucher_code",
    )
    expected = truth_redemptions(world).sort_values("voucher_code").reset_index(drop=True)
    assert len(expected) > 0 and list(redemptions["voucher_code"]) == list(expected["voucher_code"])
    assert list(redemptions["redeemed_store_id"]) == list(expected["redeemed_store_id"])
    assert list(redemptions["redeemed_date"].dt.date) == list(expected["redeemed_date"])
    assert list(redemptions["amount"].map(Decimal)) == list(expected["amount_cny"])
    models = published(pipeline_env, "select distinct channel, sales_model from marts.fct_orders")
    assert dict(zip(models["channel"], models["sales_model"], strict=True)) == {
        channel: spec.sales_model for channel, spec in CHANNELS.items()
    }, "every channel's orders carry the registry's sales model (1688 is b2b, Meituan o2o, ...)"

    # Backfill part of the range again, then all of it: landing grows, the warehouse must not change.
    # On a copy: the shared full run's landing stays as one run left it for the tests reading it.
    copy = tmp_path / "data"
    shutil.copytree(pipeline_env, copy)
    monkeypatch.setenv("OMNI_DATA_DIR", str(copy))
    pipeline_env = copy
    before_daily = daily
    assert run_range(
        world.start + timedelta(days=2),
        world.start + timedelta(days=4),
        instance=dg.DagsterInstance.ephemeral(),
    ).ok
    assert run_range(world.start, world.end, instance=dg.DagsterInstance.ephemeral()).ok
    pd.testing.assert_frame_equal(orders_snapshot(pipeline_env), got)
    pd.testing.assert_frame_equal(
        published(pipeline_env, "select * from marts.fct_channel_daily order by all"), before_daily
    )


@pytest.mark.slow(seconds=60)
def test_an_analyst_holding_the_file_open_never_blocks_a_run(pipeline_env, sandbox):
    world = sandbox.world
    first_day = world.start
    assert run_range(first_day, first_day, instance=dg.DagsterInstance.ephemeral()).ok
    analyst = duckdb.connect(str(pipeline_env / "analytics.duckdb"), read_only=True)
    try:
        before = analyst.execute("select count(*) from marts.fct_orders").fetchone()[0]
        result = run_range(first_day, first_day + timedelta(days=3), instance=dg.DagsterInstance.ephemeral())
        assert result.ok, result.failures
        # the open session keeps its consistent (old) view ...
        assert analyst.execute("select count(*) from marts.fct_orders").fetchone()[0] == before
    finally:
        analyst.close()
    # ... and a new connection sees the new build
    after = published(pipeline_env, "select count(*) as n from marts.fct_orders")["n"][0]
    assert after > before


@pytest.mark.slow(seconds=25)
def test_a_channel_with_bad_credentials_fails_alone(pipeline_env, sandbox, monkeypatch):
    monkeypatch.setenv("OMNI_SHOPIFY_INTL_TOKEN", "shpat_wrong")
    day = date.fromisoformat(str(sandbox.world.start))
    result = run_range(day, day + timedelta(days=1), instance=dg.DagsterInstance.ephemeral())
    assert not result.landing_ok
    assert result.warehouse_ok, "the other channels must still build and publish"
    message = " ".join(result.failures)
    assert "shopify/shopify-intl" in message and "OMNI_SHOPIFY_INTL_TOKEN" in message
    assert "shpat_wrong" not in message, "a credential value must never appear in an error"
    shops = set(published(pipeline_env, "select distinct shop_id from marts.fct_orders")["shop_id"])
    world = sandbox.world
    start, end = china_days_window(day, day + timedelta(days=1))
    landed_then = {  # the platforms list an order by its last change: those changed in the range
        o.shop_id
        for o in world.orders
        if (state := o.state(world.as_of)) and start <= state.modified_at < end
    }
    assert len(landed_then) >= 3 and shops == landed_then - {"shopify-intl"}, "the others must publish"
    landed = {
        p.parent.parent.name
        for p in (pipeline_env / "landing" / "shopify" / "orders").glob("*/dt=*/*.parquet")
    }
    assert landed == {"shop=shopify-eu"}, "the other shop of the failing channel must still land"


@pytest.mark.slow(seconds=30)
def test_landed_history_survives_the_platforms_forgetting_it(full_run, tmp_path, monkeypatch, make_sandbox):
    """TOP serves 3 months and Shopify 60 days: a backfill after that gets nothing back. Landing is
    append-only, so the warehouse keeps what was landed before (the shared full run, copied)."""
    world = full_run.server.world
    before = orders_snapshot(full_run.data)
    months_later = make_sandbox(now=world.as_of + timedelta(days=120))
    data_dir = tmp_path / "data"
    shutil.copytree(full_run.data, data_dir)
    point_pipeline_at(months_later, tmp_path, monkeypatch)
    assert run_range(world.start, world.end, instance=dg.DagsterInstance.ephemeral()).ok
    latest = sorted((data_dir / "landing" / "tmall" / "orders").glob("shop=*/dt=*/*.parquet"))[-1]
    assert published(data_dir, f"select count(*) as n from '{latest}'")["n"][0] == 0, "the platform forgot"
    pd.testing.assert_frame_equal(orders_snapshot(data_dir), before)
    assert {"shopify", "tmall", "taobao"} <= set(before["channel"])
