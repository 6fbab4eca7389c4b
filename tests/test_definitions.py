"""The whole Dagster definitions graph loads and is wired the way the design says."""

from datetime import datetime

import dagster as dg

from connectors.registry import CHANNELS, sources
from pipelines.definitions import defs
from pipelines.model_assets import MODELS, PUBLISHED_KEY
from warehouse.models import discover_models


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_one_landing_asset_per_channel_and_entity_and_one_asset_per_model():
    keys = {spec.key for spec in defs.resolve_all_asset_specs()}
    for spec in CHANNELS.values():
        for entity in spec.entities:
            assert dg.AssetKey(["landing", spec.channel, entity]) in keys
    for model in discover_models():
        assert dg.AssetKey([model.layer, model.name]) in keys
    assert PUBLISHED_KEY in keys


def test_model_dependencies_come_from_the_sql():
    graph = defs.resolve_asset_graph()
    stg_top = graph.get(dg.AssetKey(["staging", "stg_top__orders"]))
    assert stg_top.parent_keys == {
        dg.AssetKey(["landing", "tmall", "orders"]),
        dg.AssetKey(["landing", "taobao", "orders"]),
    }
    checked = graph.get(dg.AssetKey(["core", "orders_checked"]))
    assert {k.path[-1] for k in checked.parent_keys} == {f"stg_{source}__orders" for source in sources()}, (
        "every connector family's staging feeds the unified orders"
    )
    landed = graph.get(dg.AssetKey(["core", "orders_landed"]))  # reconciliation starts from every landing
    assert landed.parent_keys == {
        dg.AssetKey(["landing", channel, "orders"])
        for channel, spec in CHANNELS.items()
        if "orders" in spec.entities
    }
    fct = graph.get(dg.AssetKey(["marts", "fct_orders"]))
    assert {k.path[-1] for k in fct.parent_keys} == {
        "orders_checked",  # the orders that map (the others wait in audit.quarantine)
        "customer_accounts",  # identity resolution gives every order its unified customer
    }
    publish = graph.get(PUBLISHED_KEY)
    assert {k.path[-1] for k in publish.parent_keys} == {
        *(m.name for m in MODELS if m.layer in ("marts", "audit")),
        "customer_ltv",
    }
    assert "quarantine" in {k.path[-1] for k in publish.parent_keys}
    # a table a model's comments mention is not a dependency
    traffic = graph.get(dg.AssetKey(["marts", "fct_channel_traffic_daily"]))
    assert traffic.parent_keys == {dg.AssetKey(["staging", "stg_traffic__reports"])}


def test_every_model_has_a_blocking_gx_check_and_writers_share_one_pool():
    checks = {key.asset_key for key in defs.resolve_asset_graph().asset_check_keys}
    for model in MODELS:
        assert dg.AssetKey([model.layer, model.name]) in checks
    # blocking vs warning is declared per check: bad money stops publishing, an unknown currency warns
    blocking = {
        spec.name: spec.blocking
        for checks_def in defs.asset_checks or []
        for spec in checks_def.check_specs
        if spec.asset_key == dg.AssetKey(["marts", "fct_orders"])
    }
    assert blocking == {"gx_keys_and_not_null": True, "gx_amounts": True, "gx_currency_known": False}
    foreign_keys = {
        (spec.asset_key.path[-1], spec.name): spec.blocking
        for checks_def in defs.asset_checks or []
        for spec in checks_def.check_specs
        if spec.name.endswith(("_have_orders", "_have_customers"))
    }
    assert foreign_keys == {
        ("fct_order_lines", "gx_lines_have_orders"): True,
        ("fct_voucher_redemptions", "gx_redemptions_have_orders"): True,
        ("dim_customers", "gx_orders_have_customers"): True,
    }
    # every landing asset validates what each run landed, in the same step
    for node in defs.resolve_asset_graph().asset_nodes:
        if node.key.path[0] == "landing" and node.is_partitioned:
            assert dg.AssetCheckKey(node.key, "gx_landed_extraction") in node.check_keys, node.key
    fresh = [s for c in defs.asset_checks or [] for s in c.check_specs if s.name == "orders_fresh"]
    assert [(s.asset_key, s.blocking) for s in fresh] == [(PUBLISHED_KEY, False)]
    for node in defs.resolve_asset_graph().asset_nodes:
        if node.key.path[0] in ("staging", "marts") or node.key == PUBLISHED_KEY:
            assert node.pools == {"duckdb_writer"}, node.key


def test_nightly_schedule_runs_yesterday_at_two_in_china():
    schedule = defs.resolve_schedule_def("nightly_landing")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime.fromisoformat("2026-11-25T02:00:00+08:00"),
        repository_def=defs.get_repository_def(),
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-11-24"]
