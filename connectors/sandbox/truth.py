"""The world's ground truth as tables: what the pipeline should end up with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from connectors.common.timeutil import china_date
from connectors.sandbox.world import World, visible_orders


def fen_to_cny(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def truth_orders(world: World, as_of: datetime | None = None) -> pd.DataFrame:
    """One row per order that exists at `as_of` (default: the end of the world), amounts exact."""
    as_of = as_of or world.as_of
    rows = [
        {
            "channel": order.channel,
            "shop_id": order.shop_id,
            "order_id": order.order_id,
            "person_id": order.person_id,
            "account_id": order.account_id,
            "store_id": order.store_id,
            "created_date": china_date(order.created_at),
            "status": state.status,
            "gmv_cny": fen_to_cny(order.total_fen),
            "paid_cny": fen_to_cny(state.paid_fen),
            "refunded_cny": fen_to_cny(state.refunded_fen),
            "platform_discount_cny": fen_to_cny(order.platform_discount_fen),
        }
        for order, state in visible_orders(world.orders, as_of)
    ]
    columns = [
        "channel",
        "shop_id",
        "order_id",
        "person_id",
        "account_id",
        "store_id",
        "created_date",
        "status",
        "gmv_cny",
        "paid_cny",
        "refunded_cny",
        "platform_discount_cny",
    ]
    return pd.DataFrame(rows, columns=columns)


def truth_redemptions(world: World, as_of: datetime | None = None) -> pd.DataFrame:
    """One row per Meituan voucher redeemed before `as_of`: where and when its revenue belongs."""
    as_of = as_of or world.as_of
    rows = [
        {
            "voucher_code": voucher.code,
            "order_id": order.order_id,
            "purchase_store_id": order.store_id,
            "redeemed_store_id": voucher.redeemed_store_id,
            "redeemed_date": china_date(voucher.redeemed_at),
            "amount_cny": fen_to_cny(order.lines[0].unit_price_fen),
        }
        for order in world.orders
        if order.channel == "meituan" and order.created_at < as_of
        for voucher in order.vouchers
        if voucher.redeemed_at is not None and voucher.redeemed_at < as_of
    ]
    columns = [
        "voucher_code",
        "order_id",
        "purchase_store_id",
        "redeemed_store_id",
        "redeemed_date",
        "amount_cny",
    ]
    return pd.DataFrame(rows, columns=columns)


def truth_accounts(world: World, as_of: datetime | None = None) -> pd.DataFrame:
    as_of = as_of or world.as_of
    rows = [
        {"channel": a.channel, "shop_id": a.shop_id, "account_id": a.account_id, "person_id": a.person_id}
        for a in world.accounts
        if a.created_at < as_of
    ]
    return pd.DataFrame(rows, columns=["channel", "shop_id", "account_id", "person_id"])


def write_truth(world: World, out_dir: Path) -> dict[str, Path]:
    """orders.parquet and accounts.parquet; money as DECIMAL(18,2), ids as strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    orders = truth_orders(world)
    money = pa.decimal128(18, 2)
    order_schema = pa.schema(
        [
            ("channel", pa.string()),
            ("shop_id", pa.string()),
            ("order_id", pa.string()),
            ("person_id", pa.string()),
            ("account_id", pa.string()),
            ("store_id", pa.string()),
            ("created_date", pa.date32()),
            ("status", pa.string()),
            ("gmv_cny", money),
            ("paid_cny", money),
            ("refunded_cny", money),
            ("platform_discount_cny", money),
        ]
    )
    paths = {"orders": out_dir / "orders.parquet", "accounts": out_dir / "accounts.parquet"}
    pq.write_table(pa.Table.from_pandas(orders, schema=order_schema, preserve_index=False), paths["orders"])
    accounts = truth_accounts(world)
    pq.write_table(pa.Table.from_pandas(accounts, preserve_index=False), paths["accounts"])
    return paths
