"""`omni status`: where every shop stands, readable in a terminal.

Per configured shop: the newest orders day landed and whether it is fresh (yesterday's orders by
08:00 China time), the orders waiting in the quarantine, and the landing days reconciliation could
not balance; then the published warehouse's age, and every asset check whose latest evaluation in
the Dagster instance failed (blocking or warning), with what it said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import duckdb

from warehouse.freshness import ShopFreshness, freshness
from warehouse.paths import WarehousePaths


@dataclass
class FailedCheck:
    asset: str
    check: str
    severity: str  # ERROR (blocking) or WARN
    said: str
    record_id: int = 0  # the evaluation's storage id: newer evaluations have larger ones
    run_id: str = ""


@dataclass
class Status:
    now: datetime
    published_at: datetime | None
    shops: list[ShopFreshness]
    quarantined: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, shop) -> orders
    unreconciled: dict[str, int] = field(default_factory=dict)  # channel -> landing days
    failed_checks: list[FailedCheck] = field(default_factory=list)
    checks_known: bool = False

    def render(self) -> str:
        lines = []
        if self.published_at is None:
            lines.append("published warehouse: none yet (run `omni demo` or `omni run`)")
        else:
            age = self.now - self.published_at
            lines.append(
                f"published warehouse: {self.published_at:%Y-%m-%d %H:%M} UTC "
                f"({age.total_seconds() / 3600:.1f} h ago)"
            )
        lines += ["", f"{'shop':<28} {'newest orders day':<18} {'due':<11} {'fresh':<6} {'quarantined':>11}"]
        for shop in self.shops:
            landed = shop.latest_day.isoformat() if shop.latest_day else "never"
            held = self.quarantined.get((shop.channel, shop.shop_id), 0)
            lines.append(
                f"{shop.channel + '/' + shop.shop_id:<28} {landed:<18} {shop.due_day.isoformat():<11} "
                f"{'LATE' if shop.late else 'yes':<6} {held:>11}"
            )
        if self.unreconciled:
            said = ", ".join(f"{c} ({n} days)" for c, n in sorted(self.unreconciled.items()))
            lines += ["", f"reconciliation does not balance for: {said} (audit.order_reconciliation)"]
        lines.append("")
        if not self.checks_known:
            lines.append("checks: no Dagster instance (set DAGSTER_HOME to read the checks' results)")
        elif not self.failed_checks:
            lines.append("checks: every check passed at its latest evaluation")
        else:
            lines.append(f"checks failed at their latest evaluation ({len(self.failed_checks)}):")
            lines += [f"  {f.severity:<7} {f.asset} {f.check}: {f.said[:300]}" for f in self.failed_checks]
        return "\n".join(lines)


def _published(paths: WarehousePaths, status: Status) -> None:
    published = paths.published_db
    if not published.exists():
        return
    status.published_at = datetime.fromtimestamp(published.stat().st_mtime, UTC)
    with duckdb.connect(str(published), read_only=True) as conn:
        tables = {
            r[0]
            for r in conn.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()
        }
        if "audit.quarantine" in tables:
            rows = conn.execute(
                "select channel, shop_id, count(*) from audit.quarantine group by all"
            ).fetchall()
            status.quarantined = {(c, s): int(n) for c, s, n in rows}
        if "audit.order_reconciliation" in tables:
            rows = conn.execute(
                "select channel, count(*) from audit.order_reconciliation where unexplained_orders <> 0 "
                "or published_not_landed <> 0 or paid_difference_cny <> 0 group by all"
            ).fetchall()
            status.unreconciled = {c: int(n) for c, n in rows}


def failed_checks(instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey]) -> list[FailedCheck]:
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    failed = []
    for key, record in sorted(latest.items(), key=lambda item: item[0].to_user_string()):
        if record.status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        evaluation = record.event.asset_check_evaluation if record.event else None
        severity = evaluation.severity.value if evaluation else "ERROR"
        said = ""
        if evaluation is not None:
            said = evaluation.description or str(
                getattr(evaluation.metadata.get("failed_expectations"), "value", "")
            )
        failed.append(
            FailedCheck(key.asset_key.to_user_string(), key.name, severity, said, record.id, record.run_id)
        )
    return failed


def status(
    paths: WarehousePaths,
    shops: list[tuple[str, str]],
    now: datetime,
    instance: dg.DagsterInstance | None,
    check_keys: list[dg.AssetCheckKey],
) -> Status:
    report = Status(now=now, published_at=None, shops=freshness(paths.landing, shops, now))
    _published(paths, report)
    if instance is not None:
        report.failed_checks = failed_checks(instance, check_keys)
        report.checks_known = True
    return report
