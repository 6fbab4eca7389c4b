"""Alerts: every failed run and every failed check is POSTed as JSON to the webhook in
`OMNI_ALERT_WEBHOOK_URL` (a chat bot, an on-call tool), naming the channel, shop, partition and
reason. Two sensors, both running by default; without the variable they skip and say why.

A payload: `{"kind": "run_failure" | "check_failure", "text": one line for a chat, "job",
"run_id", "partition", "shops": [{"channel", "shop_id"}], ...}` plus, for a run, every failed step
and its error, and for a check, the asset, check, severity (ERROR blocks, WARN does not) and what
it found. The shops come from the messages: every connector error names `[channel/shop]`, and the
freshness check names `channel/shop` of each late shop.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import dagster as dg
import requests

from connectors.registry import CHANNELS
from pipelines.status import FailedCheck, failed_checks

WEBHOOK_ENV = "OMNI_ALERT_WEBHOOK_URL"
_SHOP = re.compile(r"\b([a-z0-9_]+)/([A-Za-z0-9][A-Za-z0-9_.-]*)")


def shops_named(text: str) -> list[dict[str, str]]:
    """Every `channel/shop` a message names, for a known channel, in order, once each."""
    seen: dict[tuple[str, str], None] = {}
    for channel, shop_id in _SHOP.findall(text):
        if channel in CHANNELS:
            seen[(channel, shop_id.rstrip(".:"))] = None
    return [{"channel": c, "shop_id": s} for c, s in seen]


def partition_of(run: dg.DagsterRun | None) -> str:
    if run is None:
        return ""
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    return f"{start}..{end}" if start and end else ""


def post(url: str, payload: dict[str, Any]) -> None:
    """Deliver one alert; a webhook that refuses it fails the sensor tick (red in the UI)."""
    response = requests.post(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        timeout=10,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    response.raise_for_status()


def run_failure_payload(context: dg.RunFailureSensorContext) -> dict[str, Any]:
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        steps.append({"step": event.step_key or "", "error": error.message.strip() if error else ""})
    reasons = " | ".join(s["error"] for s in steps) or (context.failure_event.message or "")
    partition = partition_of(run)
    return {
        "kind": "run_failure",
        "text": f"run {run.job_name} failed"
        + (f" for {partition}" if partition else "")
        + f": {reasons[:500]}",
        "job": run.job_name,
        "run_id": run.run_id,
        "partition": partition,
        "shops": shops_named(reasons),
        "failed_steps": steps,
    }


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    monitor_all_code_locations=False,
    description=f"POST every failed run to the webhook in {WEBHOOK_ENV}: job, partition, shop, reason.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return dg.SkipReason(f"{WEBHOOK_ENV} is not set: no alert sent")
    post(url, run_failure_payload(context))
    return None


def check_failure_payload(failed: FailedCheck, run: dg.DagsterRun | None) -> dict[str, Any]:
    partition = partition_of(run)
    return {
        "kind": "check_failure",
        "text": f"check {failed.check} on {failed.asset} failed ({failed.severity}): {failed.said[:500]}",
        "asset": failed.asset,
        "check": failed.check,
        "severity": failed.severity,
        "blocking": failed.severity == "ERROR",
        "reason": failed.said,
        "run_id": failed.run_id,
        "partition": partition,
        "shops": shops_named(failed.said),
    }


@dg.sensor(
    name="alert_on_check_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description=f"POST every check that failed (blocking or warning) to the webhook in {WEBHOOK_ENV}, once.",
)
def alert_on_check_failure(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
    """The cursor holds, per check, the newest evaluation already alerted on."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return dg.SkipReason(f"{WEBHOOK_ENV} is not set: no alert sent")
    from pipelines.definitions import defs

    alerted: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    keys = list(defs.resolve_asset_graph().asset_check_keys)
    sent = 0
    for failed in failed_checks(context.instance, keys):
        name = f"{failed.asset}:{failed.check}"
        if alerted.get(name, -1) >= failed.record_id:
            continue
        post(url, check_failure_payload(failed, context.instance.get_run_by_id(failed.run_id)))
        alerted[name] = failed.record_id
        sent += 1
        context.update_cursor(json.dumps(alerted))  # each alert once, even if a later one fails
    return None if sent else dg.SkipReason("no new check failure")
