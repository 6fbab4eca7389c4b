"""The Dagster definitions: what `dagster dev`, the CLI, the daemon and the tests load.

Three jobs. `landing_job` is partitioned by China day and pulls every channel (orders, customers
and traffic APIs); the nightly schedule runs it at 02:00 Asia/Shanghai (OMNI_NIGHTLY_AT) for yesterday.
`traffic_exports_job` loads analytics export files dropped in the shops' folders (its sensor
starts it when files arrive). `warehouse_job` rebuilds staging and marts from
everything landed, runs the blocking checks and publishes. A sensor starts `warehouse_job` after
any run that landed data, whether it succeeded or not, so one failing channel never holds back the
others' data (its asset is red in the UI, the rest publish).
"""

import os

import dagster as dg

from pipelines.alerts import alert_on_check_failure, alert_on_run_failure
from pipelines.customer_assets import CUSTOMER_ASSETS
from pipelines.landing_assets import LANDING_ASSETS
from pipelines.model_assets import MODEL_CHECKS, transform_assets
from pipelines.resources import OmniResource
from pipelines.traffic_exports import EXPORT_ASSETS, traffic_export_files, traffic_exports_job

landing_selection = dg.AssetSelection.key_prefixes("landing")

landing_job = dg.define_asset_job(
    "landing_job",
    # export files are not pulled by day: their own job loads them when they are dropped
    selection=landing_selection - dg.AssetSelection.assets(*EXPORT_ASSETS),
    description="Pull every channel for a range of China days into the landing zone.",
    executor_def=dg.multiprocess_executor.configured(
        {"start_method": {"forkserver": {"preload_modules": ["pipelines.definitions", "great_expectations"]}}}
    ),
)
warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.all() - landing_selection,
    description="Rebuild staging and marts from landing, run the checks, publish analytics.duckdb.",
    # Every step holds the one DuckDB-writer slot, so steps run one at a time anyway; in one
    # process they skip ~3 s of process start-up and imports each.
    executor_def=dg.in_process_executor,
)


def nightly_time(value: str | None) -> tuple[int, int]:
    """The nightly run's China time of day, "HH:MM" (OMNI_NIGHTLY_AT; default 02:00, when every
    platform has closed yesterday's orders and the shops are quiet)."""
    text = (value or "02:00").strip()
    hour, sep, minute = text.partition(":")
    if sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60:
        return int(hour), int(minute)
    raise ValueError(f"OMNI_NIGHTLY_AT={text!r}: expected a China time of day as HH:MM, e.g. 02:00")


NIGHTLY_HOUR, NIGHTLY_MINUTE = nightly_time(os.environ.get("OMNI_NIGHTLY_AT"))
nightly_schedule = dg.build_schedule_from_partitioned_job(
    landing_job,
    name="nightly_landing",
    hour_of_day=NIGHTLY_HOUR,
    minute_of_hour=NIGHTLY_MINUTE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"{NIGHTLY_HOUR:02d}:{NIGHTLY_MINUTE:02d} Asia/Shanghai (OMNI_NIGHTLY_AT): land yesterday "
    "for every channel (the warehouse rebuild follows).",
)


def _landed_something(context: dg.RunStatusSensorContext) -> bool:
    run = context.dagster_run
    if run.job_name == warehouse_job.name:
        return False
    selection = run.asset_selection or set()
    return any(key.path[0] == "landing" for key in selection) or run.job_name == landing_job.name


def _rebuild_request(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    if not _landed_something(context):
        return dg.SkipReason("the run landed nothing")
    return dg.RunRequest(
        run_key=f"after-{context.dagster_run.run_id}", tags={"omni/after_run": context.dagster_run.run_id}
    )


def _rebuild_sensor(name: str, status: dg.DagsterRunStatus, description: str) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        name=name,
        run_status=status,
        request_job=warehouse_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        # a landing's data reaches the warehouse seconds after it lands; one evaluation is one query
        minimum_interval_seconds=5,
        description=description,
    )
    def rebuild(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        return _rebuild_request(context)

    return rebuild


REBUILD_SENSORS = [
    _rebuild_sensor(
        "rebuild_after_landing", dg.DagsterRunStatus.SUCCESS, "Rebuild after a run that landed data."
    ),
    _rebuild_sensor(
        "rebuild_after_failed_landing",
        dg.DagsterRunStatus.FAILURE,
        "A failed channel must not hold back the others: rebuild from what did land.",
    ),
]


defs = dg.Definitions(
    assets=[*LANDING_ASSETS, *EXPORT_ASSETS, *transform_assets(), *CUSTOMER_ASSETS],
    asset_checks=MODEL_CHECKS,
    jobs=[landing_job, traffic_exports_job, warehouse_job],
    schedules=[nightly_schedule],
    sensors=[*REBUILD_SENSORS, traffic_export_files, alert_on_run_failure, alert_on_check_failure],
    resources={"omni": OmniResource()},
)
