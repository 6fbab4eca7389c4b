"""The POS tables the connector reads: the contract between a store POS database and us.

Times are naive local China time (what POS systems store), money is integer fen, phones are plain
(the connector hashes them before anything is written).

`footfall` is our design choice, not a known vendor schema (door-counter systems, 客流计数器, differ
and none was verified): one row per store and business day with the counter's entries (进店人数)
and the POS transactions (成交笔数) of that day, written by the counter system's nightly sync, so a
store's conversion (进店转化率) is transactions / entries.
"""

from __future__ import annotations

import sqlalchemy as sa

METADATA = sa.MetaData()

stores = sa.Table(
    "stores",
    METADATA,
    sa.Column("store_id", sa.String(16), primary_key=True),
    sa.Column("name", sa.Unicode(64), nullable=False),
    sa.Column("city", sa.Unicode(32)),
    sa.Column("opened_on", sa.Date),
)

members = sa.Table(
    "members",
    METADATA,
    sa.Column("member_id", sa.String(32), primary_key=True),
    sa.Column("phone", sa.String(20)),
    sa.Column("name", sa.Unicode(64)),
    sa.Column("home_store_id", sa.String(16)),
    sa.Column("joined_at", sa.DateTime, nullable=False),
    sa.Column("points", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime, nullable=False, index=True),
)

# Platform accounts bound to a member (会员通 / 商家会员 bindings; our design, not a known vendor
# schema): the member's `updated_at` moves to the binding time, so an incremental member pull
# re-reads the member with all its bindings. Optional: a POS without it has no bindings.
member_bindings = sa.Table(
    "member_bindings",
    METADATA,
    sa.Column("member_id", sa.String(32), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("platform_account_id", sa.String(64), primary_key=True),
    sa.Column("bound_at", sa.DateTime, nullable=False),
)

sales = sa.Table(
    "sales",
    METADATA,
    sa.Column("sale_id", sa.String(40), primary_key=True),
    sa.Column("store_id", sa.String(16), nullable=False),
    sa.Column("member_id", sa.String(32)),
    sa.Column("sold_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total_fen", sa.BigInteger, nullable=False),
    sa.Column("discount_fen", sa.BigInteger, nullable=False),
    sa.Column("paid_fen", sa.BigInteger, nullable=False),
    sa.Column("refunded_fen", sa.BigInteger, nullable=False),
    sa.Column("refunded_at", sa.DateTime),
    sa.Column("cashier_id", sa.String(16)),
    sa.Column("updated_at", sa.DateTime, nullable=False, index=True),
)

sale_lines = sa.Table(
    "sale_lines",
    METADATA,
    sa.Column("sale_id", sa.String(40), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sku", sa.String(32), nullable=False),
    sa.Column("title", sa.Unicode(128)),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_fen", sa.BigInteger, nullable=False),
    sa.Column("discount_fen", sa.BigInteger, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("returned", sa.Boolean, nullable=False),
)

footfall = sa.Table(
    "footfall",
    METADATA,
    sa.Column("store_id", sa.String(16), primary_key=True),
    sa.Column("business_date", sa.Date, primary_key=True),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("transactions", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
