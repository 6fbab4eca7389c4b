"""The sandbox's store POS database: the world's store sales written into a real relational schema,
and the stores' door-counter footfall beside them.

POS systems keep local, naive China time, integer fen and plain member phones; the connector
has to cope with all three. Works on SQLite, PostgreSQL and MariaDB alike (SQLAlchemy Core).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from connectors.common.timeutil import CHINA_TZ, china_date
from connectors.pos.schema import METADATA, footfall, member_bindings, members, sale_lines, sales, stores
from connectors.sandbox.catalog import STORES
from connectors.sandbox.world import World, visible_orders

_CHUNK = 1000
# When the door-counter system syncs a business day into the POS database: the next day, 00:30 local.
FOOTFALL_SYNC = time(0, 30)
T = TypeVar("T")


def _local(ts: datetime | None) -> datetime | None:
    """Aware UTC -> naive China local time, as a POS stores it."""
    return ts.astimezone(CHINA_TZ).replace(tzinfo=None) if ts else None


def _status(paid_fen: int, refunded_fen: int) -> str:
    if refunded_fen and refunded_fen >= paid_fen:
        return "RETURNED"
    return "PART_RETURNED" if refunded_fen else "COMPLETED"


def _chunks(rows: Iterator[T]) -> Iterator[list[T]]:
    chunk: list[T] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sale_rows(world: World, as_of: datetime) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each store sale as the POS shows it at `as_of`: its `sales` row and its `sale_lines` rows."""
    for order, state in visible_orders(world.orders_for("pos-main"), as_of):
        refund_at = state.refunds[-1].at if state.refunds else None
        sale = {
            "sale_id": order.order_id,
            "store_id": order.store_id,
            "member_id": order.account_id,
            "sold_at": _local(order.created_at),
            "status": _status(state.paid_fen, state.refunded_fen),
            "total_fen": order.total_fen,
            "discount_fen": order.discount_fen,
            "paid_fen": state.paid_fen,
            "refunded_fen": state.refunded_fen,
            "refunded_at": _local(refund_at),
            "cashier_id": f"C{int(order.order_id[-3:]) % 17:03d}",
            "updated_at": _local(state.modified_at),
        }
        returned = state.refunded_lines
        lines = [
            {
                "sale_id": order.order_id,
                "line_no": index + 1,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price_fen": line.unit_price_fen,
                "discount_fen": line.discount_fen,
                "amount_fen": line.amount_fen,
                "returned": index in returned,
            }
            for index, line in enumerate(order.lines)
        ]
        yield sale, lines


def _footfall_rows(world: World, as_of: datetime) -> Iterator[dict[str, Any]]:
    """The door counters' business days that ended before `as_of`, as the nightly sync wrote them."""
    today = china_date(as_of)
    for f in world.traffic.footfall:
        if f.day < today:
            yield {
                "store_id": f.store_id,
                "business_date": f.day,
                "entries": f.entries,
                "transactions": f.transactions,
                "updated_at": datetime.combine(f.day + timedelta(days=1), FOOTFALL_SYNC),
            }


def write_pos_database(world: World, url: str, as_of: datetime | None = None) -> dict[str, int]:
    """(Re)create the POS schema at `url` and fill it with the world's store sales at `as_of` and
    the stores' footfall of the days before it."""
    as_of = as_of or world.as_of
    engine = sa.create_engine(url)
    counts = {"stores": 0, "members": 0, "member_bindings": 0, "sales": 0, "sale_lines": 0, "footfall": 0}
    try:
        with engine.begin() as conn:
            METADATA.drop_all(conn)
            METADATA.create_all(conn)
            store_rows = [
                {"store_id": sid, "name": name, "city": city, "opened_on": world.start}
                for sid, name, city in STORES
            ]
            conn.execute(sa.insert(stores), store_rows)
            counts["stores"] = len(store_rows)

            home_store: dict[str, str] = {}
            for order in world.orders_for("pos-main"):
                if order.account_id and order.store_id:
                    home_store.setdefault(order.account_id, order.store_id)
            people = world.people_by_id
            bindings = [b for b in world.member_bindings if b.bound_at < as_of]
            last_bound: dict[str, datetime] = {}  # a member's record changes with each binding
            for binding in sorted(bindings, key=lambda b: b.bound_at):
                last_bound[binding.member_id] = binding.bound_at

            def member_rows() -> Iterator[dict[str, Any]]:
                for account in world.accounts_for("pos"):
                    if account.created_at >= as_of:
                        continue
                    person = people[account.person_id]
                    joined = _local(account.created_at)
                    updated = _local(
                        max(account.created_at, last_bound.get(account.account_id, account.created_at))
                    )
                    yield {
                        "member_id": account.account_id,
                        "phone": person.phone,
                        "name": person.name,
                        "home_store_id": home_store.get(account.account_id),
                        "joined_at": joined,
                        "points": 0,
                        "updated_at": updated,
                    }

            for chunk in _chunks(member_rows()):
                conn.execute(sa.insert(members), chunk)
                counts["members"] += len(chunk)
            binding_rows = (
                {
                    "member_id": b.member_id,
                    "channel": b.channel,
                    "platform_account_id": b.account_id,
                    "bound_at": _local(b.bound_at),
                }
                for b in bindings
            )
            for chunk in _chunks(binding_rows):
                conn.execute(sa.insert(member_bindings), chunk)
                counts["member_bindings"] += len(chunk)

            for batch in _chunks(_sale_rows(world, as_of)):
                conn.execute(sa.insert(sales), [sale for sale, _ in batch])
                lines = [line for _, rows in batch for line in rows]
                if lines:
                    conn.execute(sa.insert(sale_lines), lines)
                counts["sales"] += len(batch)
                counts["sale_lines"] += len(lines)

            for chunk in _chunks(_footfall_rows(world, as_of)):
                conn.execute(sa.insert(footfall), chunk)
                counts["footfall"] += len(chunk)
    finally:
        engine.dispose()
    return counts
