"""The unified customer in real Dagster runs: identity resolution over every channel's accounts,
its quality against the sandbox truth, stable ids across runs, and the customer marts."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from connectors.sandbox.truth import truth_accounts
from pipelines.definitions import defs
from tests.test_pipeline import published


def _pairs(groups: pd.Series) -> int:
    sizes = groups.value_counts()
    return int((sizes * (sizes - 1) // 2).sum())


def _materialization(instance: dg.DagsterInstance, key: list[str]) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def built(full_run):
    """The shared full run, and a second warehouse run on the same data."""
    data, instance = full_run.data, full_run.instance
    before = published(data, "select * from marts.customer_accounts order by all")
    with pytest.MonkeyPatch.context() as monkeypatch:
        full_run.point(monkeypatch)
        rerun = defs.resolve_job_def("warehouse_job").execute_in_process(instance=instance)
        assert rerun.success
    return data, instance, full_run.server.world, before


def test_every_account_resolves_and_quality_is_measured_against_the_truth(built):
    data, instance, world, _ = built
    accounts = published(data, "select channel, account_id, customer_id from marts.customer_accounts")
    assert not accounts.duplicated(["channel", "account_id"]).any()
    orders = published(
        data, "select channel, account_id, customer_id from marts.fct_orders where account_id is not null"
    )
    assert orders["customer_id"].notna().all(), "every order with a buyer account has a customer"
    assert set(map(tuple, orders[["channel", "account_id"]].values)) <= set(
        map(tuple, accounts[["channel", "account_id"]].values)
    )
    # Precision and recall, recomputed here from the truth, equal the asset's metadata.
    truth = truth_accounts(world).merge(accounts, on=["channel", "account_id"])
    truth_pairs = _pairs(truth["person_id"])
    predicted_pairs = _pairs(truth["customer_id"])
    correct = _pairs(truth["person_id"] + "|" + truth["customer_id"])
    metadata = _materialization(instance, ["core", "customer_accounts"])
    assert metadata["true_pairs"] == truth_pairs and metadata["predicted_pairs"] == predicted_pairs
    assert metadata["precision"] == pytest.approx(correct / predicted_pairs, abs=1e-4)
    assert metadata["recall"] == pytest.approx(correct / truth_pairs, abs=1e-4)
    # Tmall and Taobao accounts of one person share the buyer_open_uid: always one customer.
    top = truth[truth["channel"].isin(["tmall", "taobao"])]
    assert (top.groupby("person_id")["customer_id"].nunique() == 1).all()


def test_ids_are_stable_across_runs(built):
    data, _, _, before = built
    after = published(data, "select * from marts.customer_accounts order by all")
    pd.testing.assert_frame_equal(before, after)
    history = published(data, "select event, count(*) as n from core.customer_id_history group by all")
    assert set(history["event"]) == {"created"}, history


def test_customer_marts_agree_with_the_orders(built):
    data, instance, _, _ = built
    paid = published(
        data,
        "select customer_id, channel, order_date, created_at, order_key, cast(net_cny as double) as net "
        "from marts.fct_orders where customer_id is not null and paid_cny > 0 and sales_model <> 'b2b'",
    )
    customers = paid["customer_id"].nunique()
    cohorts = published(data, "select * from marts.customer_cohorts")
    assert cohorts.loc[cohorts["months_since_first"] == 0, "customers_active"].sum() == customers
    assert cohorts["orders"].sum() == len(paid)

    first = paid.sort_values(["created_at", "order_key"]).groupby("customer_id").head(1)
    later = paid.drop(first.index).merge(
        first[["customer_id", "channel"]].rename(columns={"channel": "first_channel"}), on="customer_id"
    )
    expected = later.groupby(["first_channel", "channel"]).agg(
        customers=("customer_id", "nunique"), orders=("order_key", "size")
    )
    migration = published(data, "select * from marts.channel_migration").set_index(
        ["first_channel", "later_channel"]
    )
    expected.index.names = migration.index.names
    pd.testing.assert_frame_equal(
        migration[["customers", "orders"]].sort_index(), expected.sort_index(), check_dtype=False
    )

    rfm = published(data, "select * from marts.customer_rfm")
    assert len(rfm) == customers
    assert rfm[["r_score", "f_score", "m_score"]].isin(range(1, 6)).all().all()
    one_order = rfm[rfm["frequency"] == 1]["f_score"]
    assert one_order.nunique() == 1, "ties share a score"

    dim = published(data, "select * from marts.dim_customers")
    assert dim["customer_id"].is_unique
    assert (
        dim["orders"].sum()
        == published(
            data, "select count(*) as n from marts.fct_orders where customer_id is not null and paid_cny > 0"
        )["n"][0]
    )
    assert dim.loc[dim["rfm_segment"].notna(), "customer_id"].nunique() == customers

    ltv = published(data, "select * from marts.customer_ltv")
    assert len(ltv) == customers
    metadata = _materialization(instance, ["marts", "customer_ltv"])
    if str(metadata["model"]).endswith("GammaGamma"):
        assert ltv["clv_12m_cny"].notna().all() and (ltv["clv_12m_cny"] >= 0).all()
        assert ltv["p_alive"].between(0, 1).all()
    else:
        assert str(metadata["model"]).startswith("not fitted") and ltv["clv_12m_cny"].isna().all()

    comments = published(
        data,
        "select table_name, column_name from duckdb_columns() "
        "where schema_name = 'marts' and comment is null",
    )
    assert comments.empty, comments
