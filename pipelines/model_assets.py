"""Warehouse assets: one per SQL model in transforms/, a Great Expectations check beside each,
and the publish step that hands analysts a fresh read-only copy.

Models are built from landing (which keeps every version), so re-running any range of partitions
leaves the warehouse identical. Staging models take only the records whose latest version changed
since their last build (warehouse/models.py, "incremental"); the rest rebuild in full; a run tagged
`omni/full_rebuild=true` rebuilds everything from all landed files and gives the same tables.
All of them write the one build file, so they share
the `duckdb_writer` pool: DuckDB allows a single writer.
"""

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from connectors.registry import CHANNELS, TRAFFIC_ENTITY, TRAFFIC_SOURCES, sources
from pipelines.landing_assets import landing_key, traffic_key
from pipelines.resources import OmniResource
from warehouse.models import Model, build_model, discover_models
from warehouse.publish import publish
from warehouse.raw import create_raw_views

POOL = "duckdb_writer"
# A fact's China date
FACT_DATE = "order_date"
STATUSES = ["created", "paid", "shipped", "completed", "cancelled", "refunded", "partially_refunded"]
MODELS = discover_models()
PUBLISHED_KEY = dg.AssetKey(["analytics_warehouse"])


def model_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _upstream(model: Model) -> list[dg.AssetKey]:
    keys = []
    for ref in model.refs:
        schema, name = ref.split(".")
        if schema != "raw":
            keys.append(model_key(ref))
            continue
        source, _, entity = name.removesuffix("_latest").partition("__")
        landing_it = [ch for ch, spec in CHANNELS.items() if source in spec.entities]
        if not entity and landing_it:  # every source's views of one entity (raw.orders)
            keys += [landing_key(ch, source) for ch in landing_it]
            continue
        if entity == TRAFFIC_ENTITY:
            keys += [traffic_key(ch, source) for ch in TRAFFIC_SOURCES[source].channels]
            continue
        keys += [
            landing_key(ch, entity) for ch in sources().get(source, []) if entity in CHANNELS[ch].entities
        ]
    return keys


FULL_REBUILD_TAG = "omni/full_rebuild"


def full_rebuild(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> bool:
    """A run rebuilds every model from all landed files, instead of the staging models taking only
    the records that changed (and its checks validate every row, instead of the rows that changed
    since their last pass), when tagged `omni/full_rebuild=true` (the UI's launchpad, `dagster job
    launch --tags`) or started with OMNI_FULL_REBUILD=1 (`omni run --full-rebuild`)."""
    tagged = context.op_execution_context.run_tags.get(FULL_REBUILD_TAG, "").lower() == "true"
    return tagged or os.environ.get("OMNI_FULL_REBUILD", "") == "1"


def _markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(empty)"
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v)[:40] for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, *rows])


AMOUNT_COLUMNS = ("gmv_cny", "paid_cny", "net_cny", "line_amount_cny", "amount_cny")


def _fact_metadata(conn: duckdb.DuckDBPyConnection, model: Model) -> dict[str, Any]:
    """For a dated mart: its money totals (numbers the UI plots across materializations) and a
    small chart of rows per day over its last 14 days."""
    if model.layer != "marts" or FACT_DATE not in model.columns:
        return {}
    amounts = [c for c in AMOUNT_COLUMNS if c in model.columns]
    metadata: dict[str, Any] = {}
    if amounts:
        totals = conn.execute(
            f"select {', '.join(f'sum({c})' for c in amounts)} from {model.table}"
        ).fetchone()
        for column, total in zip(amounts, totals or (), strict=True):
            metadata[f"total_{column}"] = float(total or 0)
    daily = conn.execute(
        f"select {FACT_DATE}, count(*) from {model.table} where {FACT_DATE} is not null "
        f"group by all order by {FACT_DATE} desc limit 14"
    ).fetchall()
    top = max((n for _, n in daily), default=0) or 1
    chart = "\n".join(
        f"| {day} | {n:,} | {'█' * max(1, round(20 * n / top))} |" for day, n in reversed(daily)
    )
    metadata["daily_volumes"] = dg.MetadataValue.md(f"| day | rows | |\n|---|---:|---|\n{chart}")
    return metadata


def build_model_asset(model: Model) -> dg.AssetsDefinition:
    @dg.asset(
        key=model_key(model.table),
        deps=_upstream(model),
        group_name=model.layer,
        kinds={"duckdb", "sql"},
        pool=POOL,
        owners=["team:data-platform"],
        description=f"{model.description}\n\nGrain: {model.grain}. Key: {', '.join(model.key)}. "
        f"SQL: `transforms/{model.layer}/{model.name}.sql`.",
    )
    def model_asset(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
        full = full_rebuild(context)
        with omni.build_connection() as conn:
            raw = {ref.split(".")[1].removesuffix("_latest") for ref in model.refs if ref.startswith("raw.")}
            if raw:
                create_raw_views(conn, omni.paths().landing, context.run.run_id, only=raw, full=full)
            build = build_model(conn, model, full=full)
            rows = build.rows
            # a view is not previewed: five rows of core.orders_landed took a second, reading landing files
            preview = conn.execute(f"select * from {model.table} limit 5").df() if rows is not None else None
            facts = _fact_metadata(conn, model)
        changed = f", {build.changed_records} records changed" if build.changed_records is not None else ""
        size = "a view" if rows is None else f"{rows} rows"
        context.log.info(f"{model.table}: {size} ({build.mode}{changed})")
        return dg.MaterializeResult(
            metadata={
                **({"rows": rows} if rows is not None else {}),
                "build": build.mode,
                **({"changed_records": build.changed_records} if build.changed_records is not None else {}),
                "table": model.table,
                **({"preview": dg.MetadataValue.md(_markdown(preview))} if preview is not None else {}),
                **facts,
            }
        )

    return model_asset


def build_gx_check(
    table: str,
    name: str,
    frame_sql: str,
    expectations: Callable[[], dict[str, Any]],
    description: str,
    blocking: bool = True,
    also_reads: tuple[str, ...] = (),
) -> dg.AssetChecksDefinition:
    """A Great Expectations suite over the frame `frame_sql` selects (from `table` and, for a
    foreign key, the tables in `also_reads`, which the check waits for) as a Dagster asset check
    on `table`; a large frame is validated a slice at a time, so memory stays bounded as history
    grows. Rows identical to rows of the check's last pass are not validated again
    (warehouse/quality.py: validate_query; the metadata says how many). Blocking checks fail with
    ERROR and stop what depends on the table; the others warn (WARN) and let it publish. A
    validation that crashes raises (the check errors) instead of reporting bad data."""

    @dg.asset_check(
        asset=model_key(table),
        name=name,
        blocking=blocking,
        pool=POOL,
        additional_deps=[model_key(t) for t in also_reads],
        description=f"Great Expectations: {description}. {'Blocking' if blocking else 'Warning only'}.",
    )
    def gx_check(context: dg.AssetCheckExecutionContext, omni: OmniResource) -> dg.AssetCheckResult:
        from warehouse.quality import RowMemory, outcome_summary, validate_query

        began = time.monotonic()
        memory = RowMemory(omni.paths().validated_rows_db, f"{table}:{name}", forget=full_rebuild(context))
        with omni.build_connection() as conn:
            validation = validate_query(conn, frame_sql, expectations, memory)
        failed = [o for o in validation.outcomes if not o.success]
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_checked": validation.rows_checked,
                "rows_unchanged": validation.rows_known,
                "validation_seconds": round(time.monotonic() - began, 3),
                **outcome_summary(validation.outcomes),
            },
        )

    return gx_check


def build_model_check(model: Model) -> dg.AssetChecksDefinition:
    """Every model's standard suite: key unique and not null, declared columns not null, and a
    `status` column in the common lifecycle."""
    from warehouse.quality import key_expectations

    value_sets: dict[str, list[str]] = {
        c: STATUSES for c in ("status", "order_status") if c in model.not_null
    }
    # a column checked only for nulls is read as a flag (null stays null): the check never pulls a
    # wide column (a landed record's JSON) into memory
    columns = [
        c if c in model.key or c in value_sets else f"nullif({c} is not null, false) as {c}"
        for c in dict.fromkeys((*model.key, *model.not_null))
    ]
    return build_gx_check(
        model.table,
        "gx_keys_and_not_null",
        f"select {', '.join(columns)} from {model.checked_from or model.table} as checked_rows",
        lambda: key_expectations(model.key, model.not_null, value_sets),
        f"key ({', '.join(model.key)}) unique and not null; not null: {', '.join(model.not_null) or '-'}"
        + (f"; {' and '.join(value_sets)} in the common lifecycle" if value_sets else "")
        + (f"; rows read from {model.checked_from}" if model.checked_from else ""),
    )


def _order_amounts() -> dict[str, Any]:
    from warehouse.quality import amount_expectations

    return amount_expectations("paid_cny", "refunded_cny", "gmv_cny", "shipping_cny")


def _order_currency() -> dict[str, Any]:
    from warehouse.quality import currency_expectations

    return currency_expectations("currency")


def _orphans(*columns: str) -> Callable[[], dict[str, Any]]:
    def expectations() -> dict[str, Any]:
        from warehouse.quality import orphan_expectations

        return orphan_expectations(*columns)

    return expectations


ORDER_CHECKS = [
    build_gx_check(
        "marts.fct_orders",
        "gx_amounts",
        "select paid_cny, refunded_cny, gmv_cny, shipping_cny from marts.fct_orders",
        _order_amounts,
        "no negative amount (paid, refunded, GMV, shipping); refunded at most paid",
    ),
    build_gx_check(
        "marts.fct_orders",
        "gx_currency_known",
        "select currency from marts.fct_orders",
        _order_currency,
        "the currency the buyer saw is a known one",
        blocking=False,
    ),
]

# Foreign keys: each frame has one row per child row and an `orphan_*` column that is null when the
# parent exists and otherwise names the child's dangling key (GX shows a sample of them).
FOREIGN_KEY_CHECKS = [
    build_gx_check(
        "marts.fct_order_lines",
        "gx_lines_have_orders",
        "select case when o.order_key is null then l.order_line_key end as orphan_line "
        "from marts.fct_order_lines as l left join marts.fct_orders as o using (order_key)",
        _orphans("orphan_line"),
        "every order line belongs to an order in marts.fct_orders",
        also_reads=("marts.fct_orders",),
    ),
    build_gx_check(
        "marts.fct_voucher_redemptions",
        "gx_redemptions_have_orders",
        "select case when o.order_key is null then r.voucher_code end as orphan_voucher "
        "from marts.fct_voucher_redemptions as r left join marts.fct_orders as o using (order_key)",
        _orphans("orphan_voucher"),
        "every redeemed voucher belongs to an order in marts.fct_orders",
        also_reads=("marts.fct_orders",),
    ),
    build_gx_check(
        "marts.dim_customers",
        "gx_orders_have_customers",
        "select case when o.customer_id is not null and c.customer_id is null then o.order_key end "
        "as orphan_order, "
        "case when o.customer_key is not null and o.customer_id is null then o.order_key end "
        "as unattributed_order "
        "from marts.fct_orders as o left join marts.dim_customers as c using (customer_id)",
        _orphans("orphan_order", "unattributed_order"),
        "every order's customer_id is a customer in marts.dim_customers, and every order with a "
        "buyer account has a customer_id",
        also_reads=("marts.fct_orders",),
    ),
]


@dg.asset_check(
    asset=PUBLISHED_KEY,
    name="orders_fresh",
    blocking=False,
    description="Every configured shop's orders of yesterday (China) have landed by 08:00 China "
    "time; a late shop fails this check by name (a warning: the others publish).",
)
def orders_fresh(omni: OmniResource) -> dg.AssetCheckResult:
    from connectors.common.timeutil import utc_now
    from warehouse.freshness import freshness

    shops = [(s.channel, s.shop_id) for s in omni.pipeline_config().shops]
    report = freshness(omni.paths().landing, shops, utc_now())
    late = [f for f in report if f.late]
    return dg.AssetCheckResult(
        passed=not late,
        severity=dg.AssetCheckSeverity.WARN,
        description="late: " + "; ".join(f.describe() for f in late) if late else "every shop is fresh",
        metadata={
            "due_day": report[0].due_day.isoformat() if report else "-",
            "late_shops": ", ".join(f"{f.channel}/{f.shop_id}" for f in late) or "none",
            "shops": {f"{f.channel}/{f.shop_id}": f.describe() for f in report},
        },
    )


MODEL_ASSETS = [build_model_asset(m) for m in MODELS]
RECONCILIATION_CHECK = build_gx_check(
    "audit.order_reconciliation",
    "gx_landed_equals_published",
    "select case when unexplained_orders <> 0 or published_not_landed <> 0 or paid_difference_cny <> 0 "
    "then channel || ' ' || partition_date || ': ' || unexplained_orders || ' orders neither published "
    "nor quarantined, ' || published_not_landed || ' published but never landed, paid differs by ' "
    "|| paid_difference_cny || ' CNY' end as unreconciled_day from audit.order_reconciliation",
    _orphans("unreconciled_day"),
    "per channel and landing day, every landed order is published or quarantined (not both), "
    "nothing published that did not land, the published paid amount equals staging's",
)

MODEL_CHECKS = [
    *(build_model_check(m) for m in MODELS),
    *ORDER_CHECKS,
    *FOREIGN_KEY_CHECKS,
    RECONCILIATION_CHECK,
    orders_fresh,
]


@dg.asset(
    key=PUBLISHED_KEY,
    deps=[
        *(model_key(m.table) for m in MODELS if m.layer in ("marts", "audit")),
        model_key("marts.customer_ltv"),
    ],
    group_name="publish",
    kinds={"duckdb"},
    pool=POOL,
    owners=["team:data-platform"],
    description="The analysts' warehouse ($OMNI_DATA_DIR/analytics.duckdb): a copy of the build, "
    "replaced atomically only after every model and blocking check succeeded.",
)
def analytics_warehouse(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
    paths = omni.paths()
    published = publish(paths.build_db, paths.published_db)
    with duckdb.connect(str(published), read_only=True) as conn:
        counts = dict(
            conn.execute(
                "select schema_name || '.' || table_name, estimated_size from duckdb_tables() "
                "where schema_name = 'marts' order by 1"
            ).fetchall()
        )
    context.log.info(f"published {published}")
    return dg.MaterializeResult(
        metadata={"path": str(published), "bytes": published.stat().st_size, "mart_rows": counts}
    )


@dg.asset(
    key=dg.AssetKey(["kpi_report"]),
    deps=[PUBLISHED_KEY],
    group_name="publish",
    kinds={"html"},
    owners=["team:data-platform"],
    description="The daily omnichannel KPI report ($OMNI_DATA_DIR/reports/kpi-<day>.html and latest.html): "
    "sales by channel, 30-day trend, traffic and conversion, new vs returning customers on the "
    "unified id, channel migration, RFM segments; static HTML with inline charts, written from the "
    "published warehouse after each rebuild.",
)
def kpi_report(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
    from warehouse.report import write_report

    paths = omni.paths()
    path = write_report(paths.published_db, paths.data_dir / "reports")
    if path is None:
        context.log.info("no orders published yet: no report")
        return dg.MaterializeResult(metadata={"path": "-"})
    context.log.info(f"KPI report: {path}")
    return dg.MaterializeResult(metadata={"path": str(path), "day": path.stem.removeprefix("kpi-")})


def transform_assets() -> Iterator[dg.AssetsDefinition]:
    yield from MODEL_ASSETS
    yield analytics_warehouse
    yield kpi_report
