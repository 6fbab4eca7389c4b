"""Landing assets: one daily-partitioned asset per channel x entity, and per channel x traffic source.

Each run pulls its partition range from every shop of the channel in as few platform windows as
the platform allows and lands one extraction per shop. A shop that fails (bad credential,
platform down) does not stop the others; the asset fails at the end naming every failed shop.

Traffic reports that operators download (生意参谋, 京东商智, 拼多多数据中心) are not pulled: one
unpartitioned asset per channel loads the files dropped in its shops' folders, started by the
`traffic_export_files` sensor (or by hand in the UI); see `pipelines/traffic_exports.py`.
"""

import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.common.errors import ConfigError, ConnectorError
from connectors.common.pii import PiiHasher
from connectors.common.timeutil import china_days_window, utc_now
from connectors.config import PipelineConfig, ShopConfig
from connectors.registry import CHANNELS, TRAFFIC_ENTITY, TRAFFIC_SOURCES, ChannelSpec, Source, TrafficSpec
from pipelines.partitions import DAILY, partition_dates
from pipelines.resources import OmniResource
from warehouse.landing import LandingWriter

# single_run backfills are what `--partition-range` and one-run UI backfills need; the flag is beta.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def landing_key(channel: str, entity: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", channel, entity])


def traffic_key(channel: str, source: str) -> dg.AssetKey:
    return landing_key(channel, f"{TRAFFIC_ENTITY}_{source}")


LANDED_CHECK = "gx_landed_extraction"


def _landed_check_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        LANDED_CHECK,
        asset=key,
        blocking=True,
        description="Great Expectations on what this run landed (its partitions only, so the cost "
        "follows the day's data, not the history): record ids present, no version of a record "
        "twice, every version inside the partition's China days. Blocking.",
    )


def _read_landed(shop_id: str, path: Path) -> pa.Table:
    table = pq.read_table(path, columns=["record_id", "modified_at"])
    return table.append_column("shop_id", pa.array([shop_id] * table.num_rows, pa.string()))


def _check_landed(landed: dict[str, list[Path]], start: datetime, end: datetime) -> dg.AssetCheckResult:
    from warehouse.quality import landing_expectations, outcome_summary, validate

    began = time.monotonic()
    tables = [_read_landed(shop_id, path) for shop_id, paths in landed.items() for path in paths]
    frame = pa.concat_tables(tables).to_pandas() if tables else None
    if frame is None or frame.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows_checked": 0})
    outcomes = validate(frame, landing_expectations(start, end))
    failed = [o for o in outcomes if not o.success]
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows_checked": len(frame),
            "validation_seconds": round(time.monotonic() - began, 3),
            **outcome_summary(outcomes),
        },
    )


def _land_every_shop(
    context: dg.AssetExecutionContext,
    omni: OmniResource,
    channel: str,
    landing_entity: str,
    shops_of: Callable[[PipelineConfig], Sequence[ShopConfig]],
    build: Callable[[ShopConfig, PiiHasher], Source],
    pull_entity: str,
) -> dg.MaterializeResult:
    first, last = partition_dates(context)
    start, end = china_days_window(first, last)
    config = omni.pipeline_config()
    shops = shops_of(config)
    writer = LandingWriter(omni.paths().landing)
    metadata: dict[str, Any] = {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "days": (last - first).days + 1,
        "shops": len(shops),
    }
    failures: list[str] = []
    landed: dict[str, list[Path]] = {}
    total = 0
    for shop in shops:
        where = f"{channel}/{shop.shop_id} {landing_entity}"
        started = time.monotonic()
        try:
            source = build(shop, PiiHasher(config.pii_key))
            try:
                result = writer.land(
                    channel,
                    landing_entity,
                    shop.shop_id,
                    first,
                    last,
                    source.pull(pull_entity, start, end),
                    extracted_at=utc_now(),
                )
            finally:
                source.close()
        except (ConnectorError, ConfigError) as exc:
            failures.append(str(exc))
            context.log.error(f"{where}: {exc}")
            continue
        seconds = time.monotonic() - started
        landed[shop.shop_id] = result.files
        total += result.rows
        metadata[f"{shop.shop_id}/rows"] = result.rows
        metadata[f"{shop.shop_id}/stats"] = {
            **source.stats.as_metadata(),
            "seconds": round(seconds, 2),
            "rows_outside_window": result.rows_outside_window,
        }
        for note in source.stats.notes:
            context.log.warning(f"{where}: {note}")
        context.log.info(
            f"{where}: {result.rows} rows in {seconds:.1f}s "
            f"({source.stats.requests} requests, {source.stats.retries} retries)"
        )
    metadata["rows"] = total
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} of {len(shops)} {channel} {landing_entity} pulls failed: "
            + " | ".join(failures),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata, check_results=[_check_landed(landed, start, end)])


def build_landing_asset(spec: ChannelSpec, entity: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=landing_key(spec.channel, entity),
        group_name=spec.channel,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"python", "parquet"},
        owners=["team:data-platform"],
        check_specs=[_landed_check_spec(landing_key(spec.channel, entity))],
        description=(
            f"{spec.label} {entity}: every version whose modification time falls in the China day, "
            f"pulled from each configured shop and landed as Parquet (PII hashed). Source: `{spec.source}`."
        ),
    )
    def landing_asset(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
        return _land_every_shop(
            context, omni, spec.channel, entity, lambda c: c.shops_for(spec.channel), spec.build, entity
        )

    return landing_asset


def build_traffic_asset(spec: TrafficSpec, channel: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=traffic_key(channel, spec.source),
        group_name=channel,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"python", "parquet"},
        owners=["team:data-platform"],
        check_specs=[_landed_check_spec(traffic_key(channel, spec.source))],
        description=(
            f"{CHANNELS[channel].label} traffic from {spec.label}: one report per day (the report's "
            f"own day), pulled for each `[[traffic]]` entry of source `{spec.source}`. "
            "A re-pull replaces the day."
        ),
    )
    def traffic_asset(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
        return _land_every_shop(
            context,
            omni,
            channel,
            f"{TRAFFIC_ENTITY}/{spec.source}",
            lambda c: c.traffic_for(spec.source, channel),
            spec.build,
            TRAFFIC_ENTITY,
        )

    return traffic_asset


LANDING_ASSETS = [
    *(build_landing_asset(spec, entity) for spec in CHANNELS.values() for entity in spec.entities),
    *(
        build_traffic_asset(spec, channel)
        for spec in TRAFFIC_SOURCES.values()
        if not spec.from_files
        for channel in spec.channels
    ),
]
