"""The order staging models' per-order sums over their JSON lists (sub-orders, SKU lines, vouchers,
refund transactions): partial and full refunds, lines that are not refunds, and orders with an empty
or missing list. The sandbox's test world has no Meituan refunds and no partial refunds on several
channels, so the end-to-end truth comparison does not reach every branch; these records do."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd
import pytest

from warehouse.models import TRANSFORMS_DIR, parse_model, prepare_connection, run_model

MODIFIED = "2026-11-20 02:00:00+00"


def build(source: str, records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run `stg_<source>__orders` over one landed record per order id."""
    conn = duckdb.connect()
    try:
        prepare_connection(conn)
        conn.execute("create schema raw")
        rows = [(order_id, json.dumps(record)) for order_id, record in records.items()]
        conn.execute("create table landed (record_id varchar, record varchar)")
        conn.executemany("insert into landed values (?, ?)", rows)
        conn.execute(
            f"create view raw.{source}__orders_latest as select 'ch' as channel, 'shop' as shop_id, "
            f"record_id, timestamptz '{MODIFIED}' as modified_at, null as status, record from landed"
        )
        run_model(conn, parse_model(TRANSFORMS_DIR / "staging" / f"stg_{source}__orders.sql"))
        # fetched as Python values: money stays Decimal (pandas would make it float)
        result = conn.execute(f"select * from staging.stg_{source}__orders")
        names = [column[0] for column in result.description]
        found = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        conn.close()
    return {row["order_id"]: row for row in found}


def at(epoch_seconds: int) -> pd.Timestamp:
    return pd.Timestamp(epoch_seconds, unit="s", tz="UTC")


def summary(rows: dict[str, dict[str, Any]], *columns: str) -> dict[str, tuple[Any, ...]]:
    return {order_id: tuple(row[c] for c in columns) for order_id, row in rows.items()}


def test_tmall_trades_sum_their_refunded_sub_orders():
    def trade(status: str, payment: str, subs: list[tuple[str, str]] | None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "status": status, "payment": payment,
            "created": "2026-11-20 09:00:00", "pay_time": "2026-11-20 09:01:00",
        }  # fmt: skip
        if subs is not None:
            record["orders"] = {"order": [{"payment": p, "refund_status": r} for p, r in subs]}
        return record

    rows = build(
        "top",
        {
            "partial": trade(
                "WAIT_BUYER_CONFIRM_GOODS", "100.00", [("60.00", "NO_REFUND"), ("40.00", "SUCCESS")]
            ),
            "asked": trade("WAIT_BUYER_CONFIRM_GOODS", "100.00", [("100.00", "WAIT_SELLER_AGREE")]),
            "closed": trade("TRADE_CLOSED", "80.00", [("80.00", "SUCCESS")]),
            "no_list": trade("TRADE_FINISHED", "50.00", None),
            "empty_list": trade("TRADE_FINISHED", "50.00", []),
        },
    )
    assert summary(rows, "status", "refunded_cny", "line_count") == {
        "partial": ("partially_refunded", Decimal("40.00"), 2),
        "asked": ("shipped", Decimal("0.00"), 1),
        "closed": ("refunded", Decimal("80.00"), 1),
        "no_list": ("completed", Decimal("0.00"), 0),
        "empty_list": ("completed", Decimal("0.00"), 0),
    }


def test_shopify_orders_sum_their_successful_refund_transactions():
    def order(financial_status: str, refunds: list[dict[str, Any]] | None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "financial_status": financial_status,
            "total_price_set": {"shop_money": {"currency_code": "CNY", "amount": "100.00"},
                                "presentment_money": {"amount": "100.00"}},
            "presentment_currency": "CNY", "created_at": "2026-11-20T10:00:00+08:00",
        }  # fmt: skip
        if refunds is not None:
            record["refunds"] = refunds
        return record

    def refund(at: str, *transactions: tuple[str, str, str]) -> dict[str, Any]:
        return {
            "created_at": at,
            "transactions": [{"amount": a, "kind": k, "status": s} for a, k, s in transactions],
        }

    rows = build(
        "shopify",
        {
            "two_refunds": order(
                "partially_refunded",
                [
                    refund(
                        "2026-11-21T10:00:00+08:00",
                        ("10.00", "refund", "success"),
                        ("5.00", "refund", "success"),
                    ),
                    refund("2026-11-22T10:00:00+08:00", ("20.00", "refund", "success")),
                    # a later refund whose only transaction failed moved no money
                    refund("2026-11-23T10:00:00+08:00", ("30.00", "refund", "failure")),
                    refund("2026-11-24T10:00:00+08:00", ("40.00", "sale", "success")),
                    {"created_at": "2026-11-25T10:00:00+08:00", "transactions": None},
                ],
            ),
            "no_list": order("paid", None),
            "empty_list": order("paid", []),
        },
    )
    got = summary(rows, "status", "refunded_cny")
    assert got == {
        "two_refunds": ("partially_refunded", Decimal("35.00")),
        "no_list": ("paid", Decimal("0.00")),
        "empty_list": ("paid", Decimal("0.00")),
    }
    # the last refund that moved money
    assert rows["two_refunds"]["last_refund_at"] == pd.Timestamp("2026-11-22T10:00:00+08:00")
    assert pd.isna(rows["no_list"]["last_refund_at"]) and pd.isna(rows["empty_list"]["last_refund_at"])


def test_douyin_orders_count_and_sum_their_refunded_sku_lines():
    def order(status: int, skus: list[tuple[int, int]] | None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "order_status": str(status), "pay_amount": "9000", "promotion_platform_amount": "1000",
            "create_time": "1763600000", "pay_time": "1763600060", "update_time": "1763700000",
        }  # fmt: skip
        if skus is not None:
            record["sku_order_list"] = [
                {"pay_amount": pay, "after_sale_info": {"refund_status": refund}} for pay, refund in skus
            ]
        return record

    rows = build(
        "douyin",
        {
            "partial": order(3, [(6000, 0), (3000, 3)]),
            "asked": order(3, [(9000, 1)]),
            "all": order(3, [(6000, 3), (3000, 3)]),
            "no_list": order(5, None),
            "empty_list": order(5, []),
        },
    )
    assert summary(rows, "status", "refunded_cny", "line_count") == {
        "partial": ("partially_refunded", Decimal("30.00"), 2),
        "asked": ("shipped", Decimal("0.00"), 1),
        # every line refunded: what the merchant was paid, the platform's promotion included
        "all": ("refunded", Decimal("100.00"), 2),
        "no_list": ("completed", Decimal("0.00"), 0),
        "empty_list": ("completed", Decimal("0.00"), 0),
    }


def test_meituan_orders_count_their_vouchers_by_state():
    def order(coupons: list[dict[str, Any]] | None) -> dict[str, Any]:
        record: dict[str, Any] = {"store_id": "s1", "total": "9000", "ctime": "1763600000"}
        if coupons is not None:
            record["coupons"] = coupons
        return record

    def voucher(status: str, price: int, use: int | None = None, refund: int | None = None) -> dict[str, Any]:
        return {"status": status, "price": price, "use_time": use, "refund_time": refund}

    rows = build(
        "meituan",
        {
            "partial": order(
                [
                    voucher("redeemed", 3000, use=1763700000),
                    voucher("refunded", 3000, refund=1763800000),
                    voucher("expired", 3000, refund=1763900000),
                ]
            ),
            "all_refunded": order([voucher("refunded", 4500, refund=1763650000)] * 2),
            "all_redeemed": order(
                [voucher("redeemed", 4500, use=1763610000), voucher("redeemed", 4500, use=1763620000)]
            ),
            "unused": order([voucher("unused", 9000)]),
            "no_list": order(None),
            "empty_list": order([]),
        },
    )
    assert summary(rows, "status", "refunded_cny") == {
        "partial": ("partially_refunded", Decimal("60.00")),
        "all_refunded": ("refunded", Decimal("90.00")),
        "all_redeemed": ("completed", Decimal("0.00")),
        "unused": ("paid", Decimal("0.00")),
        "no_list": ("paid", Decimal("0.00")),
        "empty_list": ("paid", Decimal("0.00")),
    }
    assert rows["partial"]["last_refund_at"] == at(1763900000)  # the expiry's refund, the latest
    assert rows["all_redeemed"]["completed_at"] == at(1763620000)  # the last redemption
    assert pd.isna(rows["all_redeemed"]["last_refund_at"]) and pd.isna(rows["empty_list"]["last_refund_at"])


@pytest.mark.parametrize(
    ("lines", "order_refund_state", "expected"),
    [
        ([("60.00", 0), ("40.00", 2)], 0, ("partially_refunded", Decimal("40.00"), 2)),
        ([("60.00", 2), ("40.00", 2)], 0, ("refunded", Decimal("100.00"), 2)),
        ([("100.00", 1)], 0, ("completed", Decimal("0.00"), 1)),
        ([("100.00", 0)], 1, ("partially_refunded", Decimal("0.00"), 1)),
        (None, 0, ("completed", Decimal("0.00"), 0)),
        ([], 0, ("completed", Decimal("0.00"), 0)),
    ],
)
def test_youzan_orders_count_and_sum_their_refunded_lines(lines, order_refund_state, expected):
    record: dict[str, Any] = {
        "order_info": {"status": "TRADE_SUCCESS", "refund_state": str(order_refund_state),
                       "created": "2026-11-20 09:00:00", "pay_time": "2026-11-20 09:01:00"},
        "pay_info": {"payment": "100.00"},
    }  # fmt: skip
    if lines is not None:
        record["orders"] = [{"payment": p, "refund_state": r} for p, r in lines]
    rows = build("youzan", {"o": record})
    assert summary(rows, "status", "refunded_cny", "line_count")["o"] == expected
