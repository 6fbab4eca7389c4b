"""Shop analytics export files: a drop folder per shop, a sensor that notices new files, and one
asset per channel that loads them.

Operators download 生意参谋 / 京东商智 / 拼多多数据中心 reports and drop them in the folder of the
shop's `[[traffic]] source = "exports"` entry. The sensor looks every 10 s; when files have
settled (not modified for `settle_seconds`) it starts `traffic_exports_job` for those channels. The
asset loads each file once (by content hash): a re-dropped identical file changes nothing, a
corrected file for the same days replaces them, a file it cannot read is moved to `_quarantine/`
with the reason beside it and fails the asset naming the file, after the other files loaded.
"""

import hashlib
from typing import Any

import dagster as dg

from connectors.common.errors import ConfigError
from connectors.common.timeutil import utc_now
from connectors.exports.loader import ExportDropLoader
from connectors.registry import CHANNELS, TRAFFIC_SOURCES
from pipelines.landing_assets import traffic_key
from pipelines.resources import OmniResource

EXPORT_CHANNELS = TRAFFIC_SOURCES["exports"].channels
DEFAULT_SETTLE_SECONDS = 10.0


class ExportLoadConfig(dg.Config):
    settle_seconds: float = DEFAULT_SETTLE_SECONDS  # files modified more recently are left for later


def build_export_asset(channel: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=traffic_key(channel, "exports"),
        group_name=channel,
        kinds={"python", "parquet"},
        owners=["team:data-platform"],
        description=(
            f"{CHANNELS[channel].label} shop analytics export files (visitors, page views, paying buyers "
            "per day) loaded from each shop's drop folder, once per file; corrected files replace their days."
        ),
    )
    def export_asset(
        context: dg.AssetExecutionContext, config: ExportLoadConfig, omni: OmniResource
    ) -> dg.MaterializeResult:
        entries = omni.pipeline_config().traffic_for("exports", channel)
        landing = omni.paths().landing
        metadata: dict[str, Any] = {"shops": len(entries)}
        problems: list[str] = []
        counts = {"loaded": 0, "duplicate": 0, "quarantined": 0}
        rows = 0
        for entry in entries:
            try:
                outcomes = ExportDropLoader(entry, landing, config.settle_seconds).load_pending(utc_now())
            except (ConfigError, OSError) as exc:
                problems.append(f"{channel}/{entry.shop_id}: {exc}")
                context.log.error(problems[-1])
                continue
            for outcome in outcomes:
                counts[outcome.status] += 1
                rows += outcome.rows
                where = f"{channel}/{entry.shop_id} {outcome.name}"
                if outcome.status == "quarantined":
                    problems.append(f"{where}: {outcome.reason}")
                    context.log.error(f"{where} quarantined: {outcome.reason}")
                else:
                    context.log.info(f"{where}: {outcome.status}, {outcome.rows} rows, days {outcome.days}")
            metadata[f"{entry.shop_id}/files"] = [
                {"file": o.name, "status": o.status, "rows": o.rows, "reason": o.reason or ""}
                for o in outcomes
            ]
        metadata.update({f"files_{status}": n for status, n in counts.items()}, rows=rows)
        if problems:
            raise dg.Failure(
                description=f"{len(problems)} {channel} export problem(s); the other files loaded: "
                + " | ".join(problems),
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return export_asset


EXPORT_ASSETS = [build_export_asset(channel) for channel in EXPORT_CHANNELS]

traffic_exports_job = dg.define_asset_job(
    "traffic_exports_job",
    selection=dg.AssetSelection.assets(*EXPORT_ASSETS),
    description="Load the shop analytics export files waiting in the drop folders.",
)


@dg.sensor(
    job=traffic_exports_job,
    minimum_interval_seconds=10,  # one listing of the drop folders: a file loads 10-20 s after it settles
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts the export loading for the channels whose drop folders hold settled new files.",
)
def traffic_export_files(context: dg.SensorEvaluationContext, omni: OmniResource) -> dg.SensorResult:
    try:
        entries = omni.pipeline_config().traffic_for("exports")
    except ConfigError as exc:
        return dg.SensorResult(skip_reason=f"config: {exc}")
    landing = omni.paths().landing
    waiting: dict[str, list[str]] = {}
    for entry in entries:
        for path in ExportDropLoader(entry, landing, DEFAULT_SETTLE_SECONDS).pending():
            stat = path.stat()
            waiting.setdefault(entry.channel, []).append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
    if not waiting:
        return dg.SensorResult(skip_reason="no new export files")
    files = sorted(f for fs in waiting.values() for f in fs)
    # the same files (path, size, mtime) never start a second run; a changed file does
    run_key = hashlib.sha256("\n".join(files).encode("utf-8")).hexdigest()[:32]
    context.log.info(f"{len(files)} new export file(s) for {', '.join(sorted(waiting))}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                asset_selection=[traffic_key(channel, "exports") for channel in sorted(waiting)],
                tags={"omni/export_files": str(len(files))},
            )
        ]
    )
