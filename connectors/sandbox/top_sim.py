"""Taobao Open Platform (TOP) simulator: `taobao.trades.sold.increment.get` for Tmall and Taobao shops.

What it enforces, after channel-protocols.md §2: query string and form merged; md5 / hmac /
hmac-sha256 signatures verified; app key, session (one per shop), timestamp skew (±10 min) and
version checked; the modified window must be ≤ 1 day with end after start; page_size 1–100
(default 40); trades newest-modified first; `use_has_next` swaps `total_results` for `has_next`;
only the requested fields are returned (`orders.<field>` selects sub-order fields), with the
non-simplified `{"trade": [...]}` wrappers; receiver fields are ciphertext and `oaid` appears only
when all five receiver fields are asked for. Every error is HTTP 200 with an `error_response`.
Unverified choices (the code for a window error, the throttle sub_code, JSON only) are module
constants.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.common.timeutil import format_cst, parse_cst
from connectors.sandbox.credentials import TOP_APP_KEY, TOP_APP_SECRET, top_session
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.world import Order, OrderState, World, visible_orders
from connectors.top.signing import SIGN_METHODS, sign

METHOD = "taobao.trades.sold.increment.get"
MAX_WINDOW = timedelta(days=1)
HISTORY = timedelta(days=90)  # "只能获取到三个月以内的交易信息": older trades are simply not served
MAX_SKEW = timedelta(minutes=10)
CALLS_PER_SECOND = 40.0  # per app key; the real per-minute quotas are unpublished
WINDOW_ERROR = (41, "Invalid Arguments", "isv.invalid-parameter")  # exact code unverified
THROTTLE_SUB_CODE = "accesscontrol.limited-by-api-access-count"  # unverified family
RECEIVER_FIELDS = {"receiver_name", "receiver_address", "created", "receiver_mobile", "receiver_phone"}
TOP_CHANNELS = ("tmall", "taobao")


def _money(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):.2f}"


def _cipher(value: str | None, salt: str) -> str | None:
    """Opaque ciphertext in TOP's style; the plain value cannot be read back from it."""
    if not value:
        return None
    digest = hashlib.sha256(f"{salt}|{value}".encode()).digest()
    return "~" + base64.b64encode(digest).decode()[:24] + "~1~"


class _TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class TopError(Exception):
    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def trade_status(state: OrderState) -> str:
    if state.status == "cancelled":
        return "TRADE_CLOSED_BY_TAOBAO"
    if state.status == "refunded":
        return "TRADE_CLOSED"
    if state.completed_at:
        return "TRADE_FINISHED"
    if state.shipped_at:
        return "WAIT_BUYER_CONFIRM_GOODS"
    if state.paid_at:
        return "WAIT_SELLER_SEND_GOODS"
    return "WAIT_BUYER_PAY"


def render_trade(order: Order, state: OrderState) -> dict[str, Any]:
    """A trade as TOP returns it, every field (the handler keeps only the requested ones)."""
    status = trade_status(state)
    refunded = state.refunded_lines
    single_line = len(order.lines) == 1
    ended = (
        state.completed_at
        or state.cancelled_at
        or (state.refunds[-1].at if status == "TRADE_CLOSED" else None)
    )
    sub_orders = [
        {
            "oid": int(line.line_id),
            "num_iid": 600_000_000_000 + int(line.sku.encode().hex(), 16) % 10_000_000,
            "sku_id": str(5_000_000_000 + index),
            "outer_iid": line.sku.rsplit("-", 1)[0],
            "outer_sku_id": line.sku,
            "title": line.title,
            "price": _money(line.unit_price_fen),
            "num": line.quantity,
            "total_fee": _money(line.amount_fen),
            "discount_fee": _money(line.discount_fen),
            "adjust_fee": "0.00",
            # single-line trades fold the postage into the sub-order's payment (§2.6)
            "payment": _money(line.amount_fen + (order.shipping_fen if single_line else 0)),
            "status": status,
            "refund_status": "SUCCESS" if index in refunded else "NO_REFUND",
            "refund_id": next((r.refund_id for r in state.refunds if index in r.line_indexes), None),
            "consign_time": format_cst(state.shipped_at) if state.shipped_at else None,
            "end_time": format_cst(ended) if ended else None,
        }
        for index, line in enumerate(order.lines)
    ]
    salt = order.order_id
    return {
        "tid": int(order.order_id),
        "status": status,
        "type": "fixed",
        "created": format_cst(order.created_at),
        "pay_time": format_cst(state.paid_at) if state.paid_at else None,
        "consign_time": format_cst(state.shipped_at) if state.shipped_at else None,
        "end_time": format_cst(ended) if ended else None,
        "modified": format_cst(state.modified_at),
        "total_fee": _money(sum(line.unit_price_fen * line.quantity for line in order.lines)),
        "discount_fee": _money(order.discount_fen),
        "adjust_fee": "0.00",
        "post_fee": _money(order.shipping_fen),
        "payment": _money(order.total_fen),
        "received_payment": _money(state.paid_fen - state.refunded_fen) if state.completed_at else "0.00",
        "buyer_open_uid": order.account_id,
        "buyer_nick": f"t**{(order.account_id or '0')[-1]}",
        "seller_nick": order.shop_id,
        "receiver_name": _cipher(order.receiver_name, salt),
        "receiver_mobile": _cipher(order.receiver_phone, salt),
        "receiver_phone": None,
        "receiver_address": _cipher(order.receiver_address, salt),
        "receiver_state": order.receiver_city,
        "receiver_city": order.receiver_city,
        "receiver_district": None,
        "oaid": hashlib.sha256(
            f"oaid|{order.receiver_name}|{order.receiver_phone}|{order.receiver_address}".encode()
        ).hexdigest()[:32],
        "trade_from": "WAP,TAOBAO",
        "orders": {"order": sub_orders},
    }


def select_fields(trade: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The requested part of a trade, absent values left out as TOP does. `orders` asks for whole
    sub-orders; `orders.title,orders.oid` (TOP's documented form) for only those sub-order fields."""
    wanted = set(fields)
    if not wanted >= RECEIVER_FIELDS:
        wanted.discard("oaid")
    selected = {k: v for k, v in trade.items() if k in wanted and k != "orders" and v is not None}
    sub_fields = {f.removeprefix("orders.") for f in fields if f.startswith("orders.")}
    if "orders" in wanted or sub_fields:
        selected["orders"] = {
            "order": [
                {k: v for k, v in sub.items() if v is not None and ("orders" in wanted or k in sub_fields)}
                for sub in trade["orders"]["order"]
            ]
        }
    return selected


class TopSimulator:
    prefix = "/top"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.world = world
        self.settings = settings
        self.now = settings.now or world.as_of
        self.shops = {top_session(s.shop_id): s.shop_id for ch in TOP_CHANNELS for s in world.shops(ch)}
        self.bucket = _TokenBucket(CALLS_PER_SECOND)
        self.modified_again: dict[int, datetime] = {}  # tid -> new modified (fault: modify_while_paging)
        self.lock = threading.Lock()

    @functools.cache  # noqa: B019 - one simulator per server; the world is fixed at `now`
    def _trades(self, shop_id: str) -> list[tuple[datetime, int, dict[str, Any]]]:
        """(modified, tid, trade) newest first, as TOP sorts them."""
        rows = [
            (s.modified_at, int(o.order_id), render_trade(o, s))
            for o, s in visible_orders(self.world.orders_for(shop_id), self.now)
            if o.created_at >= self.now - HISTORY
        ]
        rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return rows

    def _matching(self, shop_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Trades whose (current) modified time is in [start, end], newest first."""
        if not self.modified_again:
            return [t for modified, _, t in self._trades(shop_id) if start <= modified <= end]
        current = []
        for modified, tid, trade in self._trades(shop_id):
            if tid in self.modified_again:
                modified = self.modified_again[tid]
                trade = {**trade, "modified": format_cst(modified)}
            if start <= modified <= end:
                current.append((modified, tid, trade))
        current.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return [t for _, _, t in current]

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != "/router/rest":
            return SimResponse.json({"error": "not found"}, status=404)
        request_id = uuid.uuid4().hex[:12]
        try:
            body = self._call(request.form)
        except TopError as exc:
            error = {k: v for k, v in exc.body.items() if v is not None}
            return SimResponse.json({"error_response": {**error, "request_id": request_id}})
        body["request_id"] = request_id
        return SimResponse.json({"trades_sold_increment_get_response": body})

    def _authenticate(self, params: dict[str, str]) -> str:
        if not params.get("app_key"):
            raise TopError(28, "Missing App Key")
        if params["app_key"] != TOP_APP_KEY:
            raise TopError(29, "Invalid App Key", "isv.appkey-not-exists")
        if not params.get("sign"):
            raise TopError(24, "Missing Signature")
        method = params.get("sign_method", "md5")
        if method not in SIGN_METHODS:
            raise TopError(
                41, "Invalid Arguments", "isv.invalid-parameter:sign_method", f"unsupported {method}"
            )
        if sign(params, TOP_APP_SECRET, method) != params["sign"].upper():
            raise TopError(25, "Invalid Signature")
        stamp = params.get("timestamp")
        if not stamp:
            raise TopError(30, "Missing Timestamp")
        try:
            sent = datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp.isdigit() else parse_cst(stamp)
        except (ValueError, OverflowError):
            raise TopError(31, "Invalid Timestamp", sub_msg=f"cannot parse {stamp}") from None
        if abs(datetime.now(UTC) - sent) > MAX_SKEW:
            raise TopError(
                31, "Invalid Timestamp", sub_msg="timestamp differs from server time by more than 10 min"
            )
        if params.get("v") != "2.0":
            raise TopError(
                33 if params.get("v") else 32, "Invalid Version" if params.get("v") else "Missing Version"
            )
        if params.get("format", "xml") != "json":
            raise TopError(23, "Invalid Format", sub_msg="the sandbox serves format=json only")
        session = params.get("session") or params.get("access_token")
        if not session:
            raise TopError(26, "Missing Session")
        if session not in self.shops:
            raise TopError(27, "Invalid Session", "invalid-sessionkey", "session key is invalid or expired")
        if params.get("method") != METHOD:
            raise TopError(22, "Invalid Method", sub_msg=f"the sandbox serves {METHOD} only")
        return self.shops[session]

    def _call(self, params: dict[str, str]) -> dict[str, Any]:
        shop_id = self._authenticate(params)
        if self.settings.rate_limits and not self.bucket.take():
            raise TopError(7, "App Call Limited", THROTTLE_SUB_CODE, "This ban will last for 1 more seconds")
        fields = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
        if not fields:
            raise TopError(40, "Missing Required Arguments", "isv.missing-parameter", "fields")
        try:
            start, end = parse_cst(params["start_modified"]), parse_cst(params["end_modified"])
        except KeyError as exc:
            raise TopError(40, "Missing Required Arguments", "isv.missing-parameter", str(exc)) from None
        except ValueError:
            raise TopError(
                41, "Invalid Arguments", "isv.invalid-parameter", "start/end_modified format"
            ) from None
        if end <= start or end - start > MAX_WINDOW:
            code, msg, sub = WINDOW_ERROR
            raise TopError(
                code, msg, sub, "end_modified must be after start_modified and within one day of it"
            )
        try:
            page_no = int(params.get("page_no", 1))
            page_size = int(params.get("page_size", 40))
        except ValueError:
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter", "page_no/page_size") from None
        if page_no < 1 or not 1 <= page_size <= 100:
            raise TopError(
                41, "Invalid Arguments", "isv.invalid-parameter", "page_size must be 1-100, page_no >= 1"
            )

        with self.lock:
            matching = self._matching(shop_id, start, end)
            page = matching[(page_no - 1) * page_size : page_no * page_size]
            if "modify_while_paging" in self.settings.faults and matching:
                # The newest trade in the window changes again right after this page was served: it
                # leaves the window, and every trade after it moves up one place.
                self.modified_again[int(matching[0]["tid"])] = self.now - timedelta(seconds=1)
        trades = [select_fields(trade, fields) for trade in page]
        simplify = params.get("simplify") == "true"
        body: dict[str, Any] = {}
        if trades:
            if simplify:
                body["trades"] = [
                    {**t, "orders": t["orders"]["order"]} if "orders" in t else t for t in trades
                ]
            else:
                body["trades"] = {"trade": trades}
        else:
            body["trades"] = [] if simplify else {}
        if params.get("use_has_next") == "true":
            body["has_next"] = page_no * page_size < len(matching)
        else:
            body["total_results"] = len(matching)
        return body
