"""Daily partitions in China time: partition D holds what changed during [D 00:00, D+1 00:00) +08:00."""

from __future__ import annotations

from datetime import date

import dagster as dg

DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="Asia/Shanghai")


def partition_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """First and last China day of the run: works for one partition and for single-run ranges."""
    keys = context.partition_keys
    return date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
