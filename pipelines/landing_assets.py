"""Landing assets: one daily-partitioned asset per channel x entity.

Each run pulls its partition range from every shop of the channel in as few platform windows as
the platform allows and lands one extraction per shop. A shop that fails (bad credential,
platform down) does not stop the others; the asset fails at the end naming every failed shop.
"""

import time
import warnings
from typing import Any

import dagster as dg

from connectors.common.errors import ConfigError, ConnectorError
from connectors.common.pii import PiiHasher
from connectors.common.timeutil import china_days_window, utc_now
from connectors.registry import CHANNELS, ChannelSpec
from pipelines.partitions import DAILY, partition_dates
from pipelines.resources import OmniResource
from warehouse.landing import LandingWriter

# single_run backfills are what `--partition-range` and one-run UI backfills need; the flag is beta.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def landing_key(channel: str, entity: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", channel, entity])


def build_landing_asset(spec: ChannelSpec, entity: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=landing_key(spec.channel, entity),
        group_name=spec.channel,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"python", "parquet"},
        owners=["team:data-platform"],
        description=(
            f"{spec.label} {entity}: every version whose modification time falls in the China day, "
            f"pulled from each configured shop and landed as Parquet (PII hashed). Source: `{spec.source}`."
        ),
    )
    def landing_asset(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
        first, last = partition_dates(context)
        start, end = china_days_window(first, last)
        config = omni.pipeline_config()
        shops = config.shops_for(spec.channel)
        writer = LandingWriter(omni.paths().landing)
        metadata: dict[str, Any] = {
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "days": (last - first).days + 1,
            "shops": len(shops),
        }
        failures: list[str] = []
        total = 0
        for shop in shops:
            started = time.monotonic()
            try:
                source = spec.build(shop, PiiHasher(config.pii_key))
                try:
                    result = writer.land(
                        spec.channel,
                        entity,
                        shop.shop_id,
                        first,
                        last,
                        source.pull(entity, start, end),
                        extracted_at=utc_now(),
                    )
                finally:
                    source.close()
            except (ConnectorError, ConfigError) as exc:
                failures.append(str(exc))
                context.log.error(f"{spec.channel}/{shop.shop_id} {entity}: {exc}")
                continue
            seconds = time.monotonic() - started
            total += result.rows
            metadata[f"{shop.shop_id}/rows"] = result.rows
            metadata[f"{shop.shop_id}/stats"] = {
                **source.stats.as_metadata(),
                "seconds": round(seconds, 2),
                "rows_outside_window": result.rows_outside_window,
            }
            for note in source.stats.notes:
                context.log.warning(f"{spec.channel}/{shop.shop_id} {entity}: {note}")
            context.log.info(
                f"{spec.channel}/{shop.shop_id} {entity}: {result.rows} rows in {seconds:.1f}s "
                f"({source.stats.requests} requests, {source.stats.retries} retries)"
            )
        metadata["rows"] = total
        if failures:
            raise dg.Failure(
                description=f"{len(failures)} of {len(shops)} {spec.channel} shops failed: "
                + " | ".join(failures),
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return landing_asset


LANDING_ASSETS = [build_landing_asset(spec, entity) for spec in CHANNELS.values() for entity in spec.entities]
