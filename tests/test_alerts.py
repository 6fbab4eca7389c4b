"""Alerts reach a webhook (a local HTTP receiver here) naming the channel, shop, partition and
reason: a real failed landing run (a wrong Shopify token) and the full run's failed check."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from pipelines.alerts import WEBHOOK_ENV, alert_on_check_failure, alert_on_run_failure
from pipelines.definitions import defs


@pytest.fixture
def receiver(monkeypatch) -> Iterator[list[dict]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{server.server_address[1]}/hook")
    yield received
    server.shutdown()
    server.server_close()


def test_a_failed_landing_run_alerts_with_channel_shop_partition_and_reason(
    full_run, receiver, monkeypatch, tmp_path
):
    full_run.point(monkeypatch)
    monkeypatch.setenv("OMNI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OMNI_SHOPIFY_INTL_TOKEN", "shpat_wrong")
    instance = dg.DagsterInstance.ephemeral()
    day = full_run.server.world.start.isoformat()
    result = dg.materialize(
        [defs.get_assets_def(dg.AssetKey(["landing", "shopify", "orders"]))],
        partition_key=day,
        instance=instance,
        resources={"omni": defs.resources["omni"]},
        raise_on_error=False,
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=failure, dagster_instance=instance, dagster_run=run
    ).for_run_failure()
    alert_on_run_failure(context)

    [alert] = receiver
    assert alert["kind"] == "run_failure" and alert["partition"] == day
    assert alert["shops"] == [{"channel": "shopify", "shop_id": "shopify-intl"}]
    assert "OMNI_SHOPIFY_INTL_TOKEN" in alert["text"] and "shpat_wrong" not in json.dumps(alert)


def test_each_failed_check_alerts_once(full_run, receiver):
    context = dg.build_sensor_context(instance=full_run.instance)
    alert_on_check_failure(context)
    [alert] = receiver  # the full run's one failing check: the test world's days are long past due
    assert (alert["kind"], alert["check"], alert["severity"], alert["blocking"]) == (
        "check_failure",
        "orders_fresh",
        "WARN",
        False,
    )
    assert {"channel": "tmall", "shop_id": "tmall-flagship"} in alert["shops"]
    assert len(alert["shops"]) >= 10

    again = dg.build_sensor_context(instance=full_run.instance, cursor=context.cursor)
    assert isinstance(alert_on_check_failure(again), dg.SkipReason)
    assert len(receiver) == 1, "a failure is alerted once"


def test_without_a_webhook_the_sensors_skip(full_run, monkeypatch):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    result = alert_on_check_failure(dg.build_sensor_context(instance=full_run.instance))
    assert isinstance(result, dg.SkipReason) and WEBHOOK_ENV in (result.skip_message or "")
