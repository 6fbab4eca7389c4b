"""Taobao Open Platform (TOP) simulator: `taobao.trades.sold.increment.get` for Tmall and Taobao shops,
`taobao.simba.rpt.custbase.get` (直通车, served by `simba_sim.py`) and `taobao.top.oaid.decrypt`
(served by `top_decrypt_sim.py`), all behind the same checks and the same call limit.

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

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.common.signing import SIGN_METHODS, sign
from connectors.common.timeutil import format_cst, parse_cst
from connectors.sandbox.credentials import TOP_APP_KEY, TOP_APP_SECRET, top_session
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import OrderFeed, PlatformClock, Record, TokenBucket, cipher, stage, yuan
from connectors.sandbox.world import Order, OrderState, World

METHOD = "taobao.trades.sold.increment.get"
RESPONSE_ROOT = "trades_sold_increment_get_response"
MAX_WINDOW = timedelta(days=1)
HISTORY = timedelta(days=90)  # "只能获取到三个月以内的交易信息": older trades are simply not served
CALLS_PER_SECOND = 40.0  # per app key; the real per-minute quotas are unpublished
WINDOW_ERROR = (41, "Invalid Arguments", "isv.invalid-parameter")  # exact code unverified
THROTTLE_SUB_CODE = "accesscontrol.limited-by-api-access-count"  # unverified family
RECEIVER_FIELDS = {"receiver_name", "receiver_address", "created", "receiver_mobile", "receiver_phone"}
TOP_CHANNELS = ("tmall", "taobao")


class TopError(Exception):
    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


TRADE_STATUS = {  # TOP tells a trade closed unpaid from one closed by a full refund
    "cancelled": "TRADE_CLOSED_BY_TAOBAO",
    "refunded": "TRADE_CLOSED",
    "completed": "TRADE_FINISHED",
    "shipped": "WAIT_BUYER_CONFIRM_GOODS",
    "paid": "WAIT_SELLER_SEND_GOODS",
    "unpaid": "WAIT_BUYER_PAY",
}


def trade_status(state: OrderState) -> str:
    return TRADE_STATUS[stage(state)]


def oaid_of(order: Order, reissued: bool = False) -> str:
    """The trade's Open Addressee ID, one per receiver. TOP issues a new one when the receiver
    changes; `reissued` is that new one (the decrypt simulator's stale-oaid case)."""
    receiver = f"{order.receiver_name}|{order.receiver_phone}|{order.receiver_address}"
    return hashlib.sha256(f"oaid|{receiver}{'|reissued' if reissued else ''}".encode()).hexdigest()[:32]


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
            "price": yuan(line.unit_price_fen),
            "num": line.quantity,
            "total_fee": yuan(line.amount_fen),
            "discount_fee": yuan(line.discount_fen),
            "adjust_fee": "0.00",
            # single-line trades fold the postage into the sub-order's payment (§2.6)
            "payment": yuan(line.amount_fen + (order.shipping_fen if single_line else 0)),
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
        "total_fee": yuan(sum(line.unit_price_fen * line.quantity for line in order.lines)),
        "discount_fee": yuan(order.discount_fen),
        "adjust_fee": "0.00",
        "post_fee": yuan(order.shipping_fen),
        "payment": yuan(order.total_fen),
        "received_payment": yuan(state.paid_fen - state.refunded_fen) if state.completed_at else "0.00",
        "buyer_open_uid": order.account_id,
        "buyer_nick": f"t**{(order.account_id or '0')[-1]}",
        "seller_nick": order.shop_id,
        "receiver_name": cipher(order.receiver_name, salt),
        "receiver_mobile": cipher(order.receiver_phone, salt),
        "receiver_phone": None,
        "receiver_address": cipher(order.receiver_address, salt),
        "receiver_state": order.receiver_city,
        "receiver_city": order.receiver_city,
        "receiver_district": None,
        "oaid": oaid_of(order),
        "trade_from": "WAP,TAOBAO",
        "orders": {"order": sub_orders},
    }


def _restamp(trade: Record, modified: datetime) -> Record:
    return {**trade, "modified": format_cst(modified)}


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
        self.settings = settings
        self.clock = PlatformClock(settings)
        shop_ids = [s.shop_id for ch in TOP_CHANNELS for s in world.shops(ch)]
        self.shops = {top_session(shop_id): shop_id for shop_id in shop_ids}
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        self.feed = OrderFeed(world, settings, shop_ids, render_trade, _restamp, history=HISTORY)
        # Imported here: simba_sim and top_decrypt_sim raise this module's TopError.
        from connectors.sandbox import simba_sim, top_decrypt_sim

        self.decrypt = top_decrypt_sim.OaidDecrypt(world, settings, shop_ids)
        # method -> (response root, handler(shop_id, params) -> response body)
        self.methods: dict[str, tuple[str, Callable[[str, dict[str, str]], dict[str, Any]]]] = {
            METHOD: (RESPONSE_ROOT, self._trades),
            simba_sim.METHOD: (simba_sim.RESPONSE_ROOT, simba_sim.SimbaReport(world, settings)),
            top_decrypt_sim.METHOD: (top_decrypt_sim.RESPONSE_ROOT, self.decrypt),
        }

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != "/router/rest":
            return SimResponse.json({"error": "not found"}, status=404)
        request_id = uuid.uuid4().hex[:12]
        params = request.form
        try:
            shop_id = self._authenticate(params)
            if self.settings.rate_limits and not self.bucket.take():
                raise TopError(
                    7, "App Call Limited", THROTTLE_SUB_CODE, "This ban will last for 1 more seconds"
                )
            root, serve = self.methods[params["method"]]
            body = serve(shop_id, params)
        except TopError as exc:
            error = {k: v for k, v in exc.body.items() if v is not None}
            return SimResponse.json({"error_response": {**error, "request_id": request_id}})
        body["request_id"] = request_id
        return SimResponse.json({root: body})

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
        if self.clock.rejects(sent):
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
        if params.get("method") not in self.methods:
            raise TopError(22, "Invalid Method", sub_msg=f"the sandbox serves {', '.join(self.methods)} only")
        return self.shops[session]

    def _trades(self, shop_id: str, params: dict[str, str]) -> dict[str, Any]:
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

        page, total = self.feed.page(shop_id, start, end, (page_no - 1) * page_size, page_size)
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
            body["has_next"] = page_no * page_size < total
        else:
            body["total_results"] = total
        return body
