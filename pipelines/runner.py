"""Run the pipeline for a range of China days in this process (what `omni run` and the demo do).

The same jobs the schedule, the sensors and the UI run: `landing_job` over the partition range as
one run, `traffic_exports_job` for export files waiting in the drop folders, then `warehouse_job`,
which rebuilds from whatever landed even if a channel failed. Runs are
recorded in the Dagster instance at DAGSTER_HOME when it is set, so they show in the UI.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg

from pipelines.definitions import defs
from pipelines.traffic_exports import DEFAULT_SETTLE_SECONDS, EXPORT_ASSETS


@dataclass
class RangeRunResult:
    landing_ok: bool
    warehouse_ok: bool
    failures: list[str]

    @property
    def ok(self) -> bool:
        return self.landing_ok and self.warehouse_ok


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            messages.append(f"{event.step_key}: {event.step_failure_data.error.message.strip()}")
    return messages


def _steps(result: dg.ExecuteInProcessResult, began: float) -> str:
    done = sum(1 for e in result.all_events if e.is_step_success)
    failed = sum(1 for e in result.all_events if e.is_step_failure)
    return f"{done} steps done, {failed} failed, {time.monotonic() - began:.0f} s"


def run_range(
    first: date,
    last: date,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "INFO",
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> RangeRunResult:
    """Land [first, last] for every channel and load waiting export files (those unchanged for
    `settle_seconds`), then rebuild and publish. `log_level` is the Dagster console log's level
    (the CLI keeps it at WARNING so the summary stays readable); `progress` gets a line as each
    stage starts and ends (the CLI prints them)."""
    say = progress or (lambda _: None)
    instance = instance or _instance()
    run_config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    say(f"landing {first}..{last} from every configured channel ...")
    began = time.monotonic()
    landing = defs.resolve_job_def("landing_job").execute_in_process(
        instance=instance,
        run_config=run_config,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        raise_on_error=False,
    )
    say(f"  landing: {_steps(landing, began)}")
    say("loading dropped export files ...")
    began = time.monotonic()
    exports = defs.resolve_job_def("traffic_exports_job").execute_in_process(
        instance=instance,
        run_config={
            **run_config,
            "ops": {asset.op.name: {"config": {"settle_seconds": settle_seconds}} for asset in EXPORT_ASSETS},
        },
        raise_on_error=False,
    )
    say(f"  exports: {_steps(exports, began)}")
    say("rebuilding the warehouse, checking and publishing ...")
    began = time.monotonic()
    warehouse = defs.resolve_job_def("warehouse_job").execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=False
    )
    say(f"  warehouse: {_steps(warehouse, began)}")
    return RangeRunResult(
        landing.success and exports.success,
        warehouse.success,
        _failures(landing) + _failures(exports) + _failures(warehouse),
    )
