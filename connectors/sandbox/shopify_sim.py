"""Shopify REST Admin simulator: `orders.json` and `customers.json` for each sandbox shop.

Faithful to what a connector must survive (channel-protocols.md §10): the access-token header,
`status=open` by default, `limit` ≤ 250, opaque `page_info` cursors in an absolute `Link` header
(rel="next" and rel="previous"; filters live in the cursor; only `limit`/`fields` may accompany it),
a leaky bucket of 40 calls leaking 2 per second per shop with `X-Shopify-Shop-Api-Call-Limit` and
429 + Retry-After, ISO timestamps in the shop's own offset, decimal-string money with `*_set`
presentment amounts. Unverified details (the status code for `limit` > 250, the cursor's contents)
are our choice.
"""

from __future__ import annotations

import base64
import bisect
import functools
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sandbox.catalog import ShopSpec
from connectors.sandbox.credentials import shopify_token
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.world import Account, Order, OrderState, World, visible_orders

BUCKET_SIZE = 40
LEAK_PER_SECOND = 2.0
MAX_LIMIT = 250
# Without the read_all_orders scope an app sees only the last 60 days of orders (§10.1).
HISTORY = timedelta(days=60)
READ_ALL_ORDERS = False
DEFAULT_LIMIT = 50
_PATH = re.compile(r"^/([^/]+)/admin/api/([^/]+)/(orders|customers)\.json$")
_CURSOR_ALLOWED = {"limit", "page_info", "fields"}
_FILTERS = ("status", "updated_at_min", "updated_at_max", "created_at_min", "created_at_max")


class _LeakyBucket:
    def __init__(self) -> None:
        self.level = 0.0
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> tuple[bool, int, float]:
        """(allowed, calls now in the bucket, seconds until one more call fits)."""
        with self.lock:
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.updated) * LEAK_PER_SECOND)
            self.updated = now
            if self.level + 1 > BUCKET_SIZE:
                return False, BUCKET_SIZE, (self.level + 1 - BUCKET_SIZE) / LEAK_PER_SECOND
            self.level += 1
            return True, round(self.level), 0.0


def _money(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):.2f}"


@dataclass(frozen=True)
class _Row:
    updated_at: datetime
    id: int
    created_at: datetime
    status: str  # open, closed, cancelled (Shopify's `status` filter)
    body: dict[str, Any]


def _cursor(filters: dict[str, str], direction: str, row: _Row) -> str:
    """Opaque to clients: the filters of the first request plus where this page starts or ends."""
    payload = {"filters": filters, "direction": direction, "mark": [row.updated_at.isoformat(), row.id]}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode_cursor(token: str) -> tuple[dict[str, str], str, tuple[datetime, int]]:
    """Raises ValueError/KeyError/TypeError for anything we did not issue (answered with a 400)."""
    cursor = json.loads(base64.urlsafe_b64decode(token.encode()))
    filters, direction, (at, row_id) = cursor["filters"], cursor["direction"], cursor["mark"]
    if direction not in ("next", "previous") or not isinstance(row_id, int):
        raise ValueError(direction)
    if not isinstance(filters, dict) or not all(
        k in _FILTERS and isinstance(v, str) for k, v in filters.items()
    ):
        raise ValueError(filters)
    mark = datetime.fromisoformat(at)
    if mark.tzinfo is None:
        raise ValueError(at)
    return filters, direction, (mark, row_id)


def _error(status: int, errors: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse.json({"errors": errors}, status=status, headers=headers)


class ShopifySimulator:
    prefix = "/shopify"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.world = world
        self.settings = settings
        self.now = settings.now or world.as_of
        self.shops = {s.shop_id: s for s in world.shops("shopify")}
        self.buckets = {shop_id: _LeakyBucket() for shop_id in self.shops}

    # --- rendering -------------------------------------------------------------------------

    def _iso(self, spec: ShopSpec, ts: datetime | None) -> str | None:
        return ts.astimezone(ZoneInfo(spec.timezone)).isoformat() if ts else None

    def _amount_set(self, spec: ShopSpec, fen: int) -> dict[str, Any]:
        presentment = (Decimal(fen).scaleb(-2) * Decimal(spec.presentment_per_cny)).quantize(Decimal("0.01"))
        return {
            "shop_money": {"amount": _money(fen), "currency_code": "CNY"},
            "presentment_money": {"amount": f"{presentment:.2f}", "currency_code": spec.presentment_currency},
        }

    def _address(self, order: Order) -> dict[str, Any]:
        name = order.receiver_name or ""
        return {
            "first_name": name[1:],
            "last_name": name[:1],
            "name": name,
            "address1": order.receiver_address,
            "address2": None,
            "phone": f"+86{order.receiver_phone}" if order.receiver_phone else None,
            "city": order.receiver_city,
            "province": None,
            "country": "China",
            "country_code": "CN",
            "zip": None,
        }

    def _customer(self, spec: ShopSpec, account_id: str) -> dict[str, Any]:
        account, orders = self._accounts(spec.shop_id)[account_id]
        person = self.world.people_by_id[account.person_id]
        return {
            "id": int(account.account_id),
            "email": person.email,
            "phone": f"+86{person.phone}",
            "first_name": person.name[1:],
            "last_name": person.name[:1],
            "state": "enabled",
            "created_at": self._iso(spec, account.created_at),
            "updated_at": self._iso(spec, max(o.created_at for o in orders)),
            "orders_count": len(orders),
            "total_spent": _money(
                sum(s.paid_fen - s.refunded_fen for _, s in visible_orders(orders, self.now))
            ),
            "currency": "CNY",
            "default_address": {
                "city": person.city,
                "country": "China",
                "country_code": "CN",
                "address1": person.address,
                "phone": f"+86{person.phone}",
                "zip": None,
            },
        }

    def _order(self, spec: ShopSpec, order: Order, state: OrderState, number: int) -> dict[str, Any]:
        iso = functools.partial(self._iso, spec)
        financial = {
            "created": "pending",
            "cancelled": "voided",
            "refunded": "refunded",
            "partially_refunded": "partially_refunded",
        }.get(state.status, "paid")
        lines = [
            {
                "id": int(line.line_id),
                "variant_id": 40_000_000 + i,
                "product_id": 8_000_000 + i,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "price": _money(line.unit_price_fen),
                "price_set": self._amount_set(spec, line.unit_price_fen),
                "total_discount": _money(line.discount_fen),
                "fulfillment_status": "fulfilled" if state.shipped_at else None,
            }
            for i, line in enumerate(order.lines)
        ]
        refunds = [
            {
                "id": int(refund.refund_id),
                "created_at": iso(refund.at),
                "note": None,
                "refund_line_items": [
                    {
                        "id": int(refund.refund_id) * 10 + i,
                        "line_item_id": int(order.lines[i].line_id),
                        "quantity": order.lines[i].quantity,
                        "subtotal": _money(order.lines[i].amount_fen),
                    }
                    for i in refund.line_indexes
                ],
                "transactions": [
                    {
                        "id": int(refund.refund_id) + 1,
                        "kind": "refund",
                        "status": "success",
                        "amount": _money(refund.amount_fen),
                        "currency": "CNY",
                        "created_at": iso(refund.at),
                    }
                ],
            }
            for refund in state.refunds
        ]
        goods_before_discount = sum(line.unit_price_fen * line.quantity for line in order.lines)
        return {
            "id": int(order.order_id),
            "name": f"#{1000 + number}",
            "order_number": 1000 + number,
            "email": order.email,
            "contact_email": order.email,
            "phone": f"+86{order.receiver_phone}" if order.receiver_phone else None,
            "currency": "CNY",
            "presentment_currency": spec.presentment_currency,
            "created_at": iso(order.created_at),
            "updated_at": iso(state.modified_at),
            "processed_at": iso(order.created_at),
            "closed_at": iso(state.completed_at),
            "cancelled_at": iso(state.cancelled_at),
            "cancel_reason": "customer" if state.cancelled_at else None,
            "financial_status": financial,
            "fulfillment_status": "fulfilled" if state.shipped_at else None,
            "total_line_items_price": _money(goods_before_discount),
            "total_discounts": _money(order.discount_fen),
            "subtotal_price": _money(order.goods_fen),
            "total_price": _money(order.total_fen),
            "total_tax": "0.00",
            "total_price_set": self._amount_set(spec, order.total_fen),
            "subtotal_price_set": self._amount_set(spec, order.goods_fen),
            "total_shipping_price_set": self._amount_set(spec, order.shipping_fen),
            "source_name": "web",
            "tags": "",
            "line_items": lines,
            "fulfillments": [
                {"id": int(order.order_id) + 7, "status": "success", "created_at": iso(state.shipped_at)}
            ]
            if state.shipped_at
            else [],
            "refunds": refunds,
            "customer": self._customer(spec, order.account_id) if order.account_id else None,
            "billing_address": self._address(order),
            "shipping_address": self._address(order),
        }

    # --- indexes (the world is fixed at `now`, so each shop is rendered once) -----------------

    @functools.cache  # noqa: B019 - one simulator per server; the cache lives as long as the world
    def _accounts(self, shop_id: str) -> dict[str, tuple[Account, list[Order]]]:
        accounts: dict[str, tuple[Account, list[Order]]] = {
            a.account_id: (a, [])
            for a in self.world.accounts_for("shopify", shop_id)
            if a.created_at < self.now
        }
        for order in self.world.orders_for(shop_id):
            if order.account_id in accounts and order.created_at < self.now:
                accounts[order.account_id][1].append(order)
        return accounts

    @functools.cache  # noqa: B019
    def _rows(self, shop_id: str, entity: str) -> list[_Row]:
        spec = self.shops[shop_id]
        rows = []
        if entity == "orders":
            for number, (order, state) in enumerate(
                visible_orders(self.world.orders_for(shop_id), self.now), 1
            ):
                if not READ_ALL_ORDERS and order.created_at < self.now - HISTORY:
                    continue
                status = "cancelled" if state.cancelled_at else ("closed" if state.completed_at else "open")
                rows.append(
                    _Row(
                        state.modified_at,
                        int(order.order_id),
                        order.created_at,
                        status,
                        self._order(spec, order, state, number),
                    )
                )
        else:
            for account_id, (account, orders) in self._accounts(shop_id).items():
                if orders:
                    updated = max(o.created_at for o in orders)
                    rows.append(
                        _Row(
                            updated,
                            int(account_id),
                            account.created_at,
                            "open",
                            self._customer(spec, account_id),
                        )
                    )
        rows.sort(key=lambda r: (r.updated_at, r.id))
        return rows

    # --- HTTP --------------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        match = _PATH.match(request.path)
        if not match or match.group(1) not in self.shops or request.method != "GET":
            return _error(404, "Not Found")
        shop_id, version, entity = match.groups()
        if request.headers.get("x-shopify-access-token") != shopify_token(shop_id):
            return _error(401, "[API] Invalid API key or access token (unrecognized login or wrong password)")
        headers: dict[str, str] = {}
        if self.settings.rate_limits:
            allowed, level, wait = self.buckets[shop_id].take()
            headers["X-Shopify-Shop-Api-Call-Limit"] = f"{level}/{BUCKET_SIZE}"
            if not allowed:
                headers["Retry-After"] = f"{max(wait, 0.5):.1f}"
                return _error(
                    429,
                    "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                    "uninterrupted service.",
                    headers,
                )
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _error(400, {"limit": ["must be an integer"]}, headers)
        if limit > MAX_LIMIT:
            return _error(400, {"limit": [f"must be less than or equal to {MAX_LIMIT}"]}, headers)
        if limit < 1:
            return _error(400, {"limit": ["must be greater than or equal to 1"]}, headers)
        if "page_info" in request.query:
            extra = set(request.query) - _CURSOR_ALLOWED
            if extra:
                return _error(
                    400, {"page_info": [f"cannot be combined with {', '.join(sorted(extra))}"]}, headers
                )
            try:
                filters, direction, mark = _decode_cursor(request.query["page_info"])
            except (ValueError, KeyError, TypeError):
                return _error(400, {"page_info": ["is invalid"]}, headers)
        else:
            filters = {k: request.query[k] for k in _FILTERS if k in request.query}
            direction, mark = "next", None
        try:
            rows = self._filter(self._rows(shop_id, entity), filters, entity)
        except ValueError as exc:
            return _error(400, {"updated_at": [str(exc)]}, headers)
        keys = [(r.updated_at, r.id) for r in rows]
        if mark is None:
            begin, stop = 0, limit
        elif direction == "previous":
            stop = bisect.bisect_left(keys, mark)
            begin = max(0, stop - limit)
        else:
            begin = bisect.bisect_right(keys, mark)
            stop = begin + limit
        page = rows[begin:stop]
        links = []
        path = f"{request.base_url}/{shop_id}/admin/api/{version}/{entity}.json"
        if page and begin > 0:
            links.append(
                f'<{path}?limit={limit}&page_info={_cursor(filters, "previous", page[0])}>; rel="previous"'
            )
        if page and stop < len(rows):
            links.append(f'<{path}?limit={limit}&page_info={_cursor(filters, "next", page[-1])}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return SimResponse.json({entity: [r.body for r in page]}, headers=headers)

    @staticmethod
    def _filter(rows: list[_Row], filters: dict[str, str], entity: str) -> list[_Row]:
        def bound(name: str) -> datetime | None:
            value = filters.get(name)
            if not value:
                return None
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError(f"{name} needs a UTC offset: {value}")
            return parsed

        status = filters.get("status", "open") if entity == "orders" else "any"
        lo_u, hi_u, lo_c, hi_c = (
            bound(n) for n in ("updated_at_min", "updated_at_max", "created_at_min", "created_at_max")
        )
        return [
            r
            for r in rows
            if (status == "any" or r.status == status)
            and (lo_u is None or r.updated_at >= lo_u)
            and (hi_u is None or r.updated_at <= hi_u)
            and (lo_c is None or r.created_at >= lo_c)
            and (hi_c is None or r.created_at <= hi_c)
        ]
