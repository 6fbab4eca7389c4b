"""Daily partitions in China time: partition D holds what changed during [D 00:00, D+1 00:00) +08:00."""

from __future__ import annotations

from datetime import date

import dagster as dg

# Platforms serve ~3 months back, but a retailer's history is years deep in its POS databases, export
# files and Shopify (read_all_orders): the partitions reach back far enough to land three years.
DAILY = dg.DailyPartitionsDefinition(start_date="2023-01-01", timezone="Asia/Shanghai")


def partition_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """First and last China day of the run: works for one partition and for single-run ranges."""
    keys = context.partition_keys
    return date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
