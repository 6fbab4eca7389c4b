"""The nightly path (staging models take only the records that changed) gives the warehouse a full
rebuild gives: the test world's landing zone built in two steps, re-landed days and a removed file
included, compared table by table with a full rebuild (real in-process Dagster runs)."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.definitions import defs
from pipelines.model_assets import FULL_REBUILD_TAG
from tests.conftest import point_pipeline_at
from warehouse.models import RUN_LOG_TABLES

pytestmark = pytest.mark.slow

INCREMENTAL_TABLE = ["staging", "stg_top__orders"]


def _copy(files: list[Path], source: Path, target: Path) -> None:
    for path in files:
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)


def _day(path: Path) -> str:
    return next(p for p in path.parts if p.startswith("dt="))[3:]


def _build(instance: dg.DagsterInstance, full: bool = False) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def("warehouse_job").execute_in_process(
        instance=instance, tags={FULL_REBUILD_TAG: "true"} if full else {}, raise_on_error=False
    )
    failures = [e.step_key for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    return result


def _rows_validated(result: dg.ExecuteInProcessResult) -> tuple[int, int]:
    """The orders' key check of the run: rows it validated, rows it knew from its last pass."""
    [evaluation] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["marts", "fct_orders"]) and e.check_name == "gx_keys_and_not_null"
    ]
    return int(evaluation.metadata["rows_checked"].value), int(evaluation.metadata["rows_unchanged"].value)


def _tables(data: Path) -> dict[str, tuple[int, int]]:
    """Every table of the build's staging, core, marts and audit schemas: (rows, an
    order-independent hash of all their values)."""
    with duckdb.connect(str(data / "warehouse" / "build.duckdb"), read_only=True) as conn:
        names = conn.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name in ('staging', 'core', 'marts', 'audit') order by 1"
        ).fetchall()
        sums = {}
        for (table,) in names:
            if table in RUN_LOG_TABLES:
                continue
            row = conn.execute(f"select count(*), coalesce(bit_xor(hash(t)), 0) from {table} as t").fetchone()
            assert row is not None
            sums[table] = (int(row[0]), int(row[1]))
    return sums


def _build_mode(instance: dg.DagsterInstance, key: list[str]) -> tuple[str, int | None]:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event and event.asset_materialization
    metadata = event.asset_materialization.metadata
    changed = metadata.get("changed_records")
    return str(metadata["build"].value), int(changed.value) if changed else None


def _identity_run(instance: dg.DagsterInstance) -> dict[str, object]:
    event = instance.get_latest_materialization_event(dg.AssetKey(["core", "customer_accounts"]))
    assert event and event.asset_materialization
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.slow(seconds=85)
def test_the_nightly_path_equals_a_full_rebuild(full_run, tmp_path, monkeypatch, sandbox):
    data = point_pipeline_at(sandbox, tmp_path, monkeypatch)
    landed = full_run.data / "landing"
    files = sorted(landed.glob("**/dt=*/*.parquet"))
    days = sorted({_day(p) for p in files})
    last_two = set(days[-2:])
    instance = dg.DagsterInstance.ephemeral()

    # the history: everything but the last two days, built once (a first build is a full one)
    _copy([p for p in files if _day(p) not in last_two], landed, data / "landing")
    _build(instance)
    assert _build_mode(instance, INCREMENTAL_TABLE)[0] == "full"
    history_orders = _tables(data)["staging.stg_top__orders"][0]

    # the nightly: the last two days land, and an earlier day is landed again (a backfill: the same
    # versions in newer files, which win the tie on extraction time)
    again = [p for p in files if _day(p) == days[-5]]
    _copy([p for p in files if _day(p) in last_two], landed, data / "landing")
    for path in again:
        copy = path.with_name("z-relanded-" + path.name)
        shutil.copy2(path, data / "landing" / copy.relative_to(landed))
    nightly_run = _build(instance)
    mode, changed = _build_mode(instance, INCREMENTAL_TABLE)
    assert mode == "incremental"
    # the checks validate what changed, not the history they passed the night before
    checked, known = _rows_validated(nightly_run)
    assert 0 < checked < known
    assert changed and 0 < changed < _tables(data)["staging.stg_top__orders"][0], (
        "only the records of the new files are rebuilt"
    )
    assert _tables(data)["staging.stg_top__orders"][0] > history_orders
    nightly = _tables(data)
    for fact in ("fct_orders", "fct_order_lines"):  # the order facts replace the changed orders' rows
        mode, orders = _build_mode(instance, ["marts", fact])
        assert mode == "incremental" and orders and 0 < orders < nightly["marts.fct_orders"][0], fact
    # identity resolution resolves again only the customers the new sightings touch
    identity = _identity_run(instance)
    assert identity["mode"] == "incremental" and 0 < identity["accounts_resolved"] < identity["accounts"]

    rebuild_run = _build(instance, full=True)
    assert _build_mode(instance, INCREMENTAL_TABLE) == ("full", None)
    assert _rows_validated(rebuild_run) == (sum(_rows_validated(nightly_run)), 0)
    assert _identity_run(instance)["mode"] == "full"
    rebuilt = _tables(data)
    assert set(nightly) == set(rebuilt)
    differing = {t: (nightly[t], rebuilt[t]) for t in rebuilt if nightly[t] != rebuilt[t]}
    assert not differing, f"the nightly path differs from a full rebuild: {differing}"

    # nothing new: staging stays as it is, and so does every table
    unchanged_run = _build(instance)
    assert _build_mode(instance, INCREMENTAL_TABLE) == ("unchanged", 0)
    assert _rows_validated(unchanged_run) == (0, sum(_rows_validated(nightly_run)))
    assert _tables(data) == rebuilt

    # a landed file removed (an operator took out a bad extraction): the winners are recomputed and
    # the models reading them rebuild in full, dropping its records
    top_files = sorted((data / "landing" / "tmall" / "orders").glob("shop=*/dt=*/*.parquet"))
    ids = {path: set(pq.read_table(path, columns=["record_id"]).column(0).to_pylist()) for path in top_files}
    removed = next(  # a file holding some order that no other file holds
        path for path in top_files if ids[path] - set().union(*(v for k, v in ids.items() if k != path))
    )
    os.remove(removed)
    _build(instance)
    assert _build_mode(instance, INCREMENTAL_TABLE)[0] == "full"
    assert _build_mode(instance, ["marts", "fct_order_lines"])[0] == "full"
    after_removal = _tables(data)
    _build(instance, full=True)
    assert _tables(data) == after_removal
    assert after_removal["staging.stg_top__orders"][0] < rebuilt["staging.stg_top__orders"][0]


def test_a_model_whose_sql_changed_rebuilds_in_full(tmp_path, monkeypatch):
    """The code hash: an incremental model built by other SQL is rebuilt, not patched."""
    from warehouse.models import build_model, parse_model, prepare_connection
    from warehouse.raw import create_raw_views

    landing = tmp_path / "landing"
    monkeypatch.chdir(tmp_path)
    model = parse_model(Path(__file__).parents[1] / "transforms" / "staging" / "stg_pos__customers.sql")
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    prepare_connection(conn)
    create_raw_views(conn, landing, "run-1", only={"pos__customers"})
    assert build_model(conn, model).mode == "full"
    create_raw_views(conn, landing, "run-2", only={"pos__customers"})
    assert build_model(conn, model).mode == "unchanged"
    changed = model.__class__(**{**model.__dict__, "sql": model.sql.replace("select", "select  ", 1)})
    assert build_model(conn, changed).mode == "full"
    assert build_model(conn, changed).mode == "unchanged"
    conn.close()


def test_a_model_that_became_a_view_replaces_the_table_an_earlier_build_left(tmp_path):
    """An upgrade that turns a model into a view (core.orders_checked did) or back builds over the
    warehouse the earlier version built: DuckDB's `create or replace` alone refuses."""
    from warehouse.models import Model, run_model

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("create schema core")
    as_table = Model("core", "orders", tmp_path / "orders.sql", "select 1 as order_id")
    as_view = Model("core", "orders", tmp_path / "orders.sql", "select 2 as order_id", materialized="view")
    for model, rows in ((as_table, 1), (as_view, None), (as_table, 1)):
        assert run_model(conn, model) == rows
    assert conn.execute("select order_id from core.orders").fetchall() == [(1,)]
    assert run_model(conn, as_view) is None
    assert conn.execute("select order_id from core.orders").fetchall() == [(2,)]
    conn.close()


def test_a_model_reads_only_the_landing_files_its_query_names(tmp_path):
    """`landing_files_from` (audit.quarantine's: the files holding the bad orders' versions): the
    model's `raw.orders` reads those files alone, not the entity's whole history."""
    from datetime import UTC, datetime

    from connectors.common.records import LANDING_SCHEMA
    from warehouse.models import Model, prepare_connection, run_model
    from warehouse.raw import create_raw_views

    landing = tmp_path / "landing"
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    files = {}
    for day, ids in (("2026-11-01", ["a1", "a2"]), ("2026-11-02", ["b1"])):
        path = landing / "jd" / "orders" / "shop=jd-pop" / f"dt={day}" / "part-1.parquet"
        path.parent.mkdir(parents=True)
        rows = [
            {"record_id": i, "modified_at": stamp, "status": "x", "record": "{}", "extracted_at": stamp}
            for i in ids
        ]
        pq.write_table(pa.Table.from_pylist(rows, schema=LANDING_SCHEMA), path)
        files[day] = path
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    prepare_connection(conn)
    create_raw_views(conn, landing, "run-1", only={"orders"})
    conn.execute(f"create table named as select '{files['2026-11-01']}' as landing_file")
    sql = "select record_id from raw.orders"
    every_file = Model("audit", "every_file", tmp_path / "every_file.sql", sql)
    named_only = Model(
        "audit", "named", tmp_path / "named.sql", sql, landing_files_from="select * from named"
    )
    assert run_model(conn, every_file) == 3
    assert run_model(conn, named_only) == 2
    assert conn.execute("select record_id from audit.named order by 1").fetchall() == [("a1",), ("a2",)]
    # the other day's file is not even opened: unreadable, it fails only the model reading every file
    files["2026-11-02"].write_bytes(b"not a parquet file")
    assert run_model(conn, named_only) == 2
    with pytest.raises(duckdb.Error):
        run_model(conn, every_file)
    conn.close()


def test_an_order_fact_replaces_the_orders_of_a_customer_identity_resolution_moved(full_run, tmp_path):
    """marts.fct_orders takes the customer of each order's account from identity resolution: an
    account that moved to another customer changes its orders' rows though no record changed."""
    from warehouse.models import build_model, discover_models, prepare_connection

    shutil.copytree(full_run.data / "warehouse", tmp_path / "warehouse")
    conn = duckdb.connect(str(tmp_path / "warehouse" / "build.duckdb"))
    prepare_connection(conn)
    fct_orders = next(m for m in discover_models() if m.table == "marts.fct_orders")
    build_model(conn, fct_orders)  # up to date with this code
    channel, account, orders = conn.execute(
        "select channel, account_id, count(*) from marts.fct_orders where account_id is not null "
        "group by all order by 3 desc, 1, 2 limit 1"
    ).fetchone()
    conn.execute(
        "update core.customer_accounts set customer_id = 'moved-customer' "
        "where channel = ? and account_id = ?",
        [channel, account],
    )
    build = build_model(conn, fct_orders)
    assert build.mode == "incremental" and build.changed_records == orders
    moved = conn.execute(
        "select count(*) from marts.fct_orders where customer_id = 'moved-customer'"
    ).fetchone()
    nightly = conn.execute("select count(*), bit_xor(hash(t)) from marts.fct_orders as t").fetchone()
    assert build_model(conn, fct_orders, full=True).mode == "full"
    rebuilt = conn.execute("select count(*), bit_xor(hash(t)) from marts.fct_orders as t").fetchone()
    conn.close()
    assert moved == (orders,) and nightly == rebuilt


def test_an_order_fact_follows_a_staging_model_that_fell_behind_its_records(full_run, tmp_path):
    """The order facts are made from what the staging tables hold. A night whose fact steps failed,
    then a night whose order-lines staging step failed while the winners moved on again: each fact
    built then holds exactly what its SQL gives over the tables of that moment (an order updated on
    both nights has a version in staging that is neither the fact's nor the latest landed)."""
    from warehouse.models import build_model, discover_models, prepare_connection
    from warehouse.raw import create_raw_views

    landed = tmp_path / "landed"  # the test world's landing zone, with earlier versions of some orders
    shutil.copytree(full_run.data / "landing", landed)
    files = sorted(landed.glob("**/dt=*/*.parquet"))
    *_, third_last, second_last, last = sorted({_day(p) for p in files})
    finished = '"status":"TRADE_FINISHED"'
    earlier = 0
    for path in (p for p in files if _day(p) == last and p.parts[-5] == "tmall"):
        table = pq.read_table(path)
        for back, day, status in (
            (1, second_last, "WAIT_BUYER_CONFIRM_GOODS"),
            (2, third_last, "WAIT_SELLER_SEND_GOODS"),
        ):
            records = [r for r in table.to_pylist() if finished in r["record"]]
            for record in records:  # the same order shipped a day before and paid two days before
                record["record"] = record["record"].replace(finished, f'"status":"{status}"')
                record["status"] = status
                record["modified_at"] -= timedelta(days=back)
            folder = path.parent.with_name(f"dt={day}")
            folder.mkdir(exist_ok=True)
            pq.write_table(
                pa.Table.from_pylist(records, schema=table.schema), folder / f"earlier-{path.name}"
            )
            earlier += len(records)
    assert earlier > 0
    files = sorted(landed.glob("**/dt=*/*.parquet"))
    landing = tmp_path / "landing"
    models = {m.table: m for m in discover_models()}
    facts = [models["marts.fct_orders"], models["marts.fct_order_lines"]]
    inputs = [m for m in models.values() if m.name.endswith(("__orders", "__order_lines"))]
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    prepare_connection(conn)
    conn.execute(
        "create table core.customer_accounts (channel varchar, account_id varchar, customer_id varchar)"
    )

    def build(run: str, days: set[str], *tables: str) -> None:
        _copy([p for p in files if _day(p) in days], landed, landing)
        create_raw_views(conn, landing, run)
        for model in discover_models():  # in build order
            if model.table in tables:
                build_model(conn, model)

    def is_what_its_sql_gives(model) -> bool:
        table = conn.execute(f"select count(*), bit_xor(hash(t)) from {model.table} as t").fetchone()
        fresh = conn.execute(f"select count(*), bit_xor(hash(t)) from ({model.sql}) as t").fetchone()
        return table == fresh

    staging_and_facts = [*(m.table for m in inputs), "core.orders_checked", *(f.table for f in facts)]
    build("run-1", {d for d in map(_day, files) if d < second_last}, *staging_and_facts)
    # night one: every order staging model runs, the facts do not
    build("run-2", {second_last}, *(m.table for m in inputs))
    # night two: the Tmall/Taobao lines' staging step fails; the facts run
    build("run-3", {last}, *(m.table for m in inputs if m.table != "staging.stg_top__order_lines"))
    for fact in facts:
        assert build_model(conn, fact).mode == "incremental"
        assert is_what_its_sql_gives(fact), fact.table
    # night three: the lines catch up, and so do the facts
    create_raw_views(conn, landing, "run-4")
    assert build_model(conn, models["staging.stg_top__order_lines"]).mode == "incremental"
    for fact in facts:
        assert build_model(conn, fact).mode == "incremental"
        assert is_what_its_sql_gives(fact), fact.table
    conn.close()


@pytest.mark.parametrize("source", ["top__orders", "jd__orders", "meituan__orders"])
def test_a_full_build_in_batches_equals_one_statement(full_run, tmp_path, monkeypatch, source):
    """At retail scale a full build of an incremental model takes its records in batches of landing
    files (memory follows the batch); the table is the one a single statement builds."""
    from warehouse.models import _batches, build_model, discover_models, prepare_connection
    from warehouse.raw import create_raw_views

    monkeypatch.chdir(tmp_path)
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    prepare_connection(conn)
    create_raw_views(conn, full_run.data / "landing", "run-1", only={source})
    models = [m for m in discover_models() if m.raw_source == source]
    sums: dict[str, list[tuple]] = {}
    for batch_records in ("", "7"):
        monkeypatch.setenv("OMNI_BUILD_BATCH_RECORDS", batch_records)
        assert len(_batches(conn, source)) > 1 if batch_records else len(_batches(conn, source)) == 1
        for model in models:
            assert build_model(conn, model, full=True).mode == "full"
            row = conn.execute(f"select count(*), bit_xor(hash(t)) from {model.table} as t").fetchone()
            assert row is not None
            sums.setdefault(model.table, []).append(row)
    conn.close()
    assert len(sums) >= 2  # the orders and their lines (and Meituan's vouchers)
    for table, (whole, batched) in sums.items():
        assert whole == batched and whole[0] > 0, table
