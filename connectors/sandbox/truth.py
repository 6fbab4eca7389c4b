"""The world's ground truth as tables: what the pipeline should end up with."""

from __future__ import annotations

from datetime import date, datetime
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


TRUTH_ACCOUNTS_FILE = "truth_accounts.parquet"  # beside the sandbox's POS database, for quality metrics


def write_truth_accounts(world: World, sandbox_dir: Path) -> Path:
    """Who owns each platform account: what the pipeline's identity resolution is measured against
    (`<data>/sandbox/truth_accounts.parquet`; real shops have no such file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sandbox_dir.mkdir(parents=True, exist_ok=True)
    path = sandbox_dir / TRUTH_ACCOUNTS_FILE
    pq.write_table(pa.Table.from_pandas(truth_accounts(world), preserve_index=False), path)
    return path


def truth_accounts(world: World, as_of: datetime | None = None) -> pd.DataFrame:
    as_of = as_of or world.as_of
    rows = [
        {"channel": a.channel, "shop_id": a.shop_id, "account_id": a.account_id, "person_id": a.person_id}
        for a in world.accounts
        if a.created_at < as_of
    ]
    return pd.DataFrame(rows, columns=["channel", "shop_id", "account_id", "person_id"])


TRAFFIC_COLUMNS = [
    "channel",
    "shop_id",
    "traffic_date",
    "visitors",
    "page_views",
    "sessions",
    "converted_sessions",
    "paying_buyers",
    "ad_spend_cny",
    "ad_clicks",
    "ad_impressions",
]


def truth_traffic(
    world: World, export_shops: set[str], ga4_shops: set[str], footfall_shops: set[str]
) -> pd.DataFrame:
    """One row per shop and report day of what its traffic sources say: the export files' shop-level
    figures, GA4's day totals (in the property's zone), the stores' door counters (entries and POS
    transactions summed over the stores) and the ad platforms' spend. Which shops have export files,
    GA4 and door counters is the pipeline's configuration, so the caller names them."""
    rows: dict[tuple[str, str, date], dict[str, object]] = {}

    def row(channel: str, shop_id: str, day: date) -> dict[str, object]:
        return rows.setdefault((channel, shop_id, day), dict.fromkeys(TRAFFIC_COLUMNS[3:]))

    for shop_id in export_shops:
        for d in world.traffic.shop_days(shop_id):
            row(d.channel, shop_id, d.day).update(
                visitors=d.visitors, page_views=d.page_views, paying_buyers=d.paying_buyers
            )
    for shop_id in ga4_shops:
        channel = world.shop(shop_id).channel
        for day in sorted({r.day for r in world.traffic.ga4_rows(shop_id)}):
            day_rows = [r for r in world.traffic.ga4_rows(shop_id) if r.day == day]
            row(channel, shop_id, day).update(
                visitors=world.traffic.ga4_day_users(shop_id, day),
                page_views=sum(r.page_views for r in day_rows),
                sessions=sum(r.sessions for r in day_rows),
                converted_sessions=sum(r.converted_sessions for r in day_rows),
            )
    for shop_id in footfall_shops:
        if shop_id != "pos-main":
            raise ValueError(f"the world's footfall is pos-main's stores', not {shop_id}'s")
        for day, counts in _footfall_days(world).items():
            row(world.shop(shop_id).channel, shop_id, day).update(visitors=counts[0], paying_buyers=counts[1])
    for spec in world.shops():
        for ad in world.traffic.ad_days(spec.shop_id):
            row(ad.channel, ad.shop_id, ad.day).update(
                ad_spend_cny=fen_to_cny(ad.cost_fen), ad_clicks=ad.clicks, ad_impressions=ad.impressions
            )
    records = [{"channel": c, "shop_id": s, "traffic_date": d, **v} for (c, s, d), v in sorted(rows.items())]
    return pd.DataFrame(records, columns=TRAFFIC_COLUMNS)


def _footfall_days(world: World) -> dict[date, tuple[int, int]]:
    """Per China day the door-counter entries and the POS transactions of all stores."""
    out: dict[date, tuple[int, int]] = {}
    for f in world.traffic.footfall:
        entries, transactions = out.get(f.day, (0, 0))
        out[f.day] = (entries + f.entries, transactions + f.transactions)
    return out


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
