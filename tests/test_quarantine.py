"""Records that cannot be mapped go to audit.quarantine with the reason and the record as landed;
everything else publishes, and every landed order is in marts.fct_orders or in the quarantine.
Schema drift that loses nothing (a new field, a number for a decimal string, a missing optional
field) publishes as before."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.common.records import LANDING_SCHEMA
from connectors.common.timeutil import china_date
from pipelines.definitions import defs
from tests.test_pipeline import orders_snapshot, published
from warehouse.landing import LandingWriter

pytestmark = pytest.mark.slow

CORRUPTIONS = {  # JD order fields -> what a changed platform (or a bug) sends instead
    "status": ({"orderState": "WAIT_SOMETHING_NEW"}, "unknown platform status 'WAIT_SOMETHING_NEW'"),
    "amount": (
        {"orderSellerPrice": "1,299.00元", "orderPayment": "1,299.00元"},
        "an amount is missing or unreadable",
    ),
    "time": ({"orderStartTime": "2026/11/07 25:61"}, "creation time missing or unreadable"),
    "missing": ({"orderState": None}, "unknown platform status null"),  # None: the field is gone
}
# Schema drift that must change nothing: a new field (kept in the raw JSON), an amount sent as a
# JSON number instead of a decimal string, a missing optional field.
DRIFT = (
    {"newMemberLevel": {"level": 3, "name": "PLUS"}},
    {"orderPayment": "number"},  # replaced by the same amount as a JSON number
    {"orderType": None},  # optional: only says whether JD delivers (orderType 21)
)


def _changed(record: dict, fields: dict) -> dict:
    out = dict(record)
    for key, value in fields.items():
        if value is None:
            out.pop(key, None)
        elif value == "number":
            out[key] = float(out[key])
        else:
            out[key] = value
    return out


def _latest(data, channel: str) -> pd.DataFrame:
    landed = pq.ParquetDataset(sorted((data / "landing" / channel / "orders").rglob("*.parquet"))).read()
    return landed.to_pandas().sort_values(["modified_at", "extracted_at"]).groupby("record_id").tail(1)


def _resend(data, channel: str, shop_id: str, records: pd.DataFrame) -> None:
    """The platform sends these records again (a new extraction of their days)."""
    page = pa.Table.from_pandas(records[LANDING_SCHEMA.names], schema=LANDING_SCHEMA, preserve_index=False)
    days = sorted(china_date(ts.to_pydatetime()) for ts in records["modified_at"])
    LandingWriter(data / "landing").land(
        channel, "orders", shop_id, days[0], days[-1], [page], datetime.now(UTC)
    )


def test_unmappable_orders_are_quarantined_and_everything_else_publishes(full_run, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(full_run.data, data)
    full_run.point(monkeypatch)
    monkeypatch.setenv("OMNI_DATA_DIR", str(data))

    # The platform sends JD orders again: some broken in their own way, some drifted harmlessly.
    latest = _latest(data, "jd")
    picked = latest.sort_values("record_id").head(len(CORRUPTIONS) + len(DRIFT)).reset_index(drop=True)
    broken: dict[str, str] = {}
    sent: dict[str, dict] = {}
    changes = [*CORRUPTIONS.values(), *((fields, None) for fields in DRIFT)]
    for index, (fields, reason) in enumerate(changes):
        record_id = picked.at[index, "record_id"]
        record = _changed(json.loads(picked.at[index, "record"]), fields)
        picked.at[index, "record"] = json.dumps(record, ensure_ascii=False)
        sent[record_id] = record
        if reason:
            broken[record_id] = reason
    _resend(data, "jd", "jd-pop", picked)

    # A Meituan order with a voucher already redeemed in a store arrives with an unreadable
    # creation time: the order is quarantined and its redemptions wait with it (were they
    # published, they would point at an order marts.fct_orders does not have).
    meituan = _latest(data, "meituan")
    redeemed = meituan[meituan["record"].str.contains('"status":"redeemed"')].head(1).reset_index(drop=True)
    meituan_order = redeemed.at[0, "record_id"]
    record = _changed(json.loads(redeemed.at[0, "record"]), {"ctime": "yesterday"})
    redeemed.at[0, "record"] = json.dumps(record, ensure_ascii=False)
    sent[meituan_order] = record
    broken[meituan_order] = "creation time missing or unreadable"
    vouchers_before = published(full_run.data, "select * from marts.fct_voucher_redemptions order by all")
    _resend(data, "meituan", "meituan-o2o", redeemed)

    result = defs.resolve_job_def("warehouse_job").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success, "one channel's bad records must not stop the warehouse"
    # The test world's days are long past their due morning: every shop is late, by name, as a
    # warning; the warehouse published all the same.
    fresh = [e for e in result.get_asset_check_evaluations() if e.check_name == "orders_fresh"]
    assert len(fresh) == 1 and not fresh[0].passed and fresh[0].severity == dg.AssetCheckSeverity.WARN
    assert "jd/jd-pop" in fresh[0].metadata["late_shops"].value

    quarantine = published(data, "select * from audit.quarantine order by record_id")
    assert dict(zip(quarantine["record_id"], quarantine["reason"], strict=True)) == broken
    assert set(quarantine["channel"]) == {"jd", "meituan"} and set(quarantine["entity"]) == {"orders"}
    for record_id, record in zip(quarantine["record_id"], quarantine["record"], strict=True):
        assert json.loads(record) == sent[record_id], "the record as it landed"
    rows_metadata = [
        e.materialization.metadata["rows"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["audit", "quarantine"])
    ]
    assert rows_metadata == [len(broken)], "the quarantine is counted in the asset's metadata"
    [orders_metadata] = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["marts", "fct_orders"])
    ]
    totals = published(
        data,
        "select sum(net_cny) as net, max(order_date) as last_day, count(*) filter "
        "(where order_date = (select max(order_date) from marts.fct_orders)) as n from marts.fct_orders",
    )
    assert orders_metadata["total_net_cny"].value == pytest.approx(float(totals["net"][0]))
    last_row = orders_metadata["daily_volumes"].value.splitlines()[-1]  # the UI's daily volume chart
    assert last_row.startswith(f"| {totals['last_day'][0].date()} | {int(totals['n'][0]):,} | █")

    # every other order published exactly as before (the drifted ones too: the new field waits in
    # the raw JSON); the broken ones are nowhere in the marts
    before = orders_snapshot(full_run.data)
    held = set(quarantine["channel"] + ":" + quarantine["record_id"])
    expected = before[~before["order_key"].isin(held)].reset_index(drop=True)
    pd.testing.assert_frame_equal(orders_snapshot(data), expected)
    vouchers = published(data, "select * from marts.fct_voucher_redemptions order by all")
    waiting = vouchers_before["order_key"] == f"meituan:{meituan_order}"
    assert waiting.sum() >= 1
    pd.testing.assert_frame_equal(vouchers, vouchers_before[~waiting].reset_index(drop=True))
    checks = {(e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("fct_voucher_redemptions", "gx_redemptions_have_orders")]
    assert checks[("fct_order_lines", "gx_lines_have_orders")]
    assert checks[("order_reconciliation", "gx_landed_equals_published")]
    reconciled = published(
        data,
        "select channel, sum(landed_orders) as landed, sum(published_orders) as published, "
        "sum(quarantined_orders) as quarantined, sum(unexplained_orders) as unexplained "
        "from audit.order_reconciliation group by all order by all",
    )
    assert (reconciled["landed"] == reconciled["published"] + reconciled["quarantined"]).all()
    assert reconciled["unexplained"].sum() == 0
    held_by_channel = quarantine.groupby("channel").size().to_dict()
    assert {
        c: q for c, q in zip(reconciled["channel"], reconciled["quarantined"], strict=True) if q
    } == held_by_channel

    # reconciliation: per channel, every landed order is in fct_orders or in the quarantine
    with duckdb.connect() as conn:
        landed_counts = dict(
            conn.execute(
                "select split_part(split_part(filename, '/landing/', 2), '/', 1) as channel, "
                "count(distinct record_id) from read_parquet(?, filename = true) group by 1",
                [str(data / "landing" / "*" / "orders" / "*" / "*" / "*.parquet")],
            ).fetchall()
        )
    published_counts = published(
        data,
        "select channel, count(*) as n from (select channel from marts.fct_orders "
        "union all select channel from audit.quarantine) group by 1",
    )
    assert dict(zip(published_counts["channel"], published_counts["n"], strict=True)) == landed_counts
