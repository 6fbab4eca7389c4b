"""The Dagster asset checks themselves, invoked on small hand-made warehouses and landing files:
each foreign key check fails naming the dangling row and passes once its parent exists, the
reconciliation check names the channel and day that do not add up; the landing suite fails on a
repeated version, an out-of-partition version and an empty id; the landed orders' key check, read
from raw.record_winners, fails on an order id two shops share."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.common.records import LANDING_SCHEMA
from connectors.common.timeutil import china_days_window
from pipelines.landing_assets import _check_landed
from pipelines.model_assets import FOREIGN_KEY_CHECKS, MODEL_CHECKS, RECONCILIATION_CHECK
from pipelines.resources import OmniResource

CHECKS = {
    spec.name: check for check in (*FOREIGN_KEY_CHECKS, RECONCILIATION_CHECK) for spec in check.check_specs
}

# (check, tables with one dangling child row, the statement that adds the missing parent, sample)
CASES = [
    (
        "gx_lines_have_orders",
        {
            "marts.fct_orders": "select 'jd:1' as order_key",
            "marts.fct_order_lines": "select * from (values ('jd:1:a', 'jd:1'), ('jd:2:a', 'jd:2')) "
            "as t(order_line_key, order_key)",
        },
        "insert into marts.fct_orders values ('jd:2')",
        "jd:2:a",
    ),
    (
        "gx_redemptions_have_orders",
        {
            "marts.fct_orders": "select 'meituan:7' as order_key",
            "marts.fct_voucher_redemptions": "select * from (values ('V1', 'meituan:7'), "
            "('V2', 'meituan:8')) as t(voucher_code, order_key)",
        },
        "insert into marts.fct_orders values ('meituan:8')",
        "V2",
    ),
    (
        "gx_orders_have_customers",
        {
            "marts.fct_orders": "select * from (values ('tmall:1', 'tmall:u1', 'C1'), "
            "('pos:9', null, null), ('jd:3', 'jd:u3', 'C3')) as t(order_key, customer_key, customer_id)",
            "marts.dim_customers": "select 'C1' as customer_id",
        },
        "insert into marts.dim_customers values ('C3')",
        "jd:3",
    ),
    (
        "gx_landed_equals_published",
        {
            "audit.order_reconciliation": "select * from (values ('jd', date '2026-11-11', 0, 0, 0.00), "
            "('pos', date '2026-11-11', 1, 0, 0.00)) as t(channel, partition_date, unexplained_orders, "
            "published_not_landed, paid_difference_cny)",
        },
        "update audit.order_reconciliation set unexplained_orders = 0",
        "pos 2026-11-11: 1 orders neither published nor quarantined, 0 published but never landed, "
        "paid differs by 0.00 CNY",
    ),
]


def _build(tmp_path, tables: dict[str, str]) -> OmniResource:
    (tmp_path / "warehouse").mkdir()
    with duckdb.connect(str(tmp_path / "warehouse" / "build.duckdb")) as conn:
        for schema in {table.split(".")[0] for table in tables}:
            conn.execute(f"create schema {schema}")
        for table, sql in tables.items():
            conn.execute(f"create table {table} as {sql}")
    return OmniResource(data_dir=str(tmp_path))


@pytest.mark.parametrize(("check", "tables", "repair", "dangling"), CASES, ids=[c[0] for c in CASES])
def test_a_dangling_foreign_key_fails_by_name_and_passes_once_the_parent_exists(
    tmp_path, check, tables, repair, dangling
):
    omni = _build(tmp_path, tables)
    result = CHECKS[check](context=dg.build_asset_check_context(), omni=omni)
    assert not result.passed
    details = result.metadata["details"].value
    failed = {name: d for name, d in details.items() if not d["success"]}
    assert [d["sample"] for d in failed.values()] == [[dangling]], details

    with duckdb.connect(str(tmp_path / "warehouse" / "build.duckdb")) as conn:
        conn.execute(repair)
    assert CHECKS[check](context=dg.build_asset_check_context(), omni=omni).passed


def test_an_order_with_a_buyer_account_but_no_unified_customer_is_named(tmp_path):
    omni = _build(
        tmp_path,
        {
            "marts.fct_orders": "select 'douyin:5' as order_key, 'douyin:u5' as customer_key, "
            "null::varchar as customer_id",
            "marts.dim_customers": "select 'C1' as customer_id",
        },
    )
    result = CHECKS["gx_orders_have_customers"](context=dg.build_asset_check_context(), omni=omni)
    details = result.metadata["details"].value
    assert not result.passed and details["no_unattributed_order"]["sample"] == ["douyin:5"]


def _landed_file(tmp_path, name: str, rows: list[tuple[str, datetime]]):
    stamp = datetime(2026, 11, 12, tzinfo=UTC)
    table = pa.table(
        {
            "record_id": [r[0] for r in rows],
            "modified_at": [r[1] for r in rows],
            "status": ["paid"] * len(rows),
            "record": ["{}"] * len(rows),
            "extracted_at": [stamp] * len(rows),
        },
        schema=LANDING_SCHEMA,
    )
    path = tmp_path / f"{name}.parquet"
    pq.write_table(table, path)
    return path


def test_the_landing_suite_fails_on_a_repeated_version_an_outside_day_and_an_empty_id(tmp_path):
    start, end = china_days_window(date(2026, 11, 11), date(2026, 11, 11))
    inside = datetime(2026, 11, 11, 2, tzinfo=UTC)  # 10:00 in China on the 11th
    clean = _landed_file(tmp_path, "clean", [("1", inside), ("2", inside)])
    assert _check_landed({"shop-a": [clean], "shop-b": [clean]}, start, end).passed  # two shops, one id

    bad = _landed_file(
        tmp_path,
        "bad",
        [("1", inside), ("1", inside), ("3", datetime(2026, 11, 11, 17, tzinfo=UTC)), ("", inside)],
    )
    result = _check_landed({"shop-a": [bad]}, start, end)
    details = result.metadata["details"].value
    assert not result.passed
    assert {name for name, d in details.items() if not d["success"]} == {
        "version_unique",
        "modified_at_in_partition",  # 01:00 on the 12th in China
        "record_id_not_empty",
    }
    assert details["modified_at_in_partition"]["unexpected_count"] == 1


def test_the_landed_orders_key_check_reads_the_winners_and_names_an_order_id_two_shops_share(tmp_path):
    """core.orders_landed is a view over every landing file; its key check reads the same rows from
    raw.record_winners (its `checked_from`) and still fails on an order id landed by two shops."""
    landed = next(
        c
        for c in MODEL_CHECKS
        if c.check_specs and next(iter(c.check_specs)).asset_key.path == ["core", "orders_landed"]
    )
    winners = (
        "select * from (values "
        "('top__orders', 'tmall', 'shop-a', '1', timestamptz '2026-11-11 02:00:00+00'), "
        "('top__orders', 'tmall', 'shop-b', '2', timestamptz '2026-11-11 02:00:00+00'), "
        "('top__customers', 'tmall', 'shop-b', '1', timestamptz '2026-11-11 02:00:00+00'), "
        "('jd__orders', 'jd', 'shop-j', '1', timestamptz '2026-11-11 02:00:00+00')"
        ") as t(entity, channel, shop_id, record_id, modified_at)"
    )
    omni = _build(
        tmp_path,
        {
            "raw.record_winners": winners,
            "raw.channels": "select * from (values ('tmall', 'top'), ('jd', 'jd')) as t(channel, source)",
        },
    )
    assert landed(context=dg.build_asset_check_context(), omni=omni).passed  # another entity, another channel

    with duckdb.connect(str(tmp_path / "warehouse" / "build.duckdb")) as conn:
        conn.execute(
            "update raw.record_winners set record_id = '1' "
            "where shop_id = 'shop-b' and entity = 'top__orders'"
        )
    result = landed(context=dg.build_asset_check_context(), omni=omni)
    details = result.metadata["details"].value
    assert not result.passed
    assert [name for name, d in details.items() if not d["success"]] == ["key_unique"]
