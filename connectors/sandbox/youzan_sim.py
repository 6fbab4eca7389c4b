"""Youzan 有赞 simulator: the brand's mini-program store, hosted on Youzan (channel `mini_program`).

What it serves, after channel-protocols.md §6 (whose Youzan facts come mostly from third-party
clients): `POST /auth/token` (silent grant: client_id, client_secret, grant_id = the shop's kdt_id)
issuing tokens that expire after TOKEN_TTL (with the `token_expiry` fault, after
TOKEN_USES_UNDER_FAULT calls); `youzan.trades.sold.get/4.0.4` and the members list
`youzan.scrm.customer.search/3.0.0` under `/api/<method>/<version>`, GET or POST, `access_token` in
the query, business parameters in the query, a form or a JSON body. Orders come newest-updated
first in `full_order_info_list[].full_order_info` (order_info, pay_info, buyer_info, address_info,
orders[]), money as yuan strings, times as Beijing-time strings ("" = not happened), buyer PII as
`$<base64>$1$` ciphertexts. Every answer is HTTP 200: `{"success":true,"code":200,"data":…}` or
`{"success":false,"code":…,"message":…}`.

Unverified choices, all module constants: the update-window parameter names (`start_update`,
`end_update`, inclusive, also used by the members list), the one-day window cap, the 100 page-size
cap, the error codes, the rate limit, the token lifetime, order-level `refund_state` (0 none,
1 partial, 2 full) and the line-level one (0 / 2: lines are refunded whole), `discount_fee` (the
shop's discounts, yuan), a full refund closing the order (TRADE_CLOSED, pay_time kept), and the
members API: its name, `items`, `card_no`, a plain `mobile` (the merchant's own member data).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from connectors.common.timeutil import format_cst, parse_cst
from connectors.sandbox.credentials import YOUZAN_CLIENT_ID, YOUZAN_CLIENT_SECRET, YOUZAN_KDT_ID
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import OrderFeed, Record, TokenBucket, cipher, stage, yuan
from connectors.sandbox.world import Account, Order, OrderState, World

TRADES = "youzan.trades.sold.get/4.0.4"
MEMBERS = "youzan.scrm.customer.search/3.0.0"  # the reference names no members API (unverified)
MAX_WINDOW = timedelta(days=1)
MAX_PAGE_SIZE = 100
CALLS_PER_SECOND = 40.0
TOKEN_TTL = timedelta(days=7).total_seconds()  # seconds; tests shorten it to make tokens expire
TOKEN_USES_UNDER_FAULT = 5  # with the `token_expiry` fault a token expires after this many calls
CIPHER_STYLE = "${}$1$"
# Errors as (code, message). All codes are unverified choices.
INVALID_CLIENT = (40010, "client_id 或 client_secret 错误")
INVALID_GRANT = (40011, "grant_id 不是已授权的店铺或 authorize_type 不是 silent")
TOKEN_INVALID = (4201, "access_token 无效")
TOKEN_EXPIRED = (4203, "access_token 已过期")
THROTTLED = (4003, "调用频率超过限制")
PARAMETER_INVALID = 141502
STATUS_TEXT = {
    "WAIT_BUYER_PAY": "待付款",
    "WAIT_SELLER_SEND_GOODS": "待发货",
    "WAIT_BUYER_CONFIRM_GOODS": "已发货",
    "TRADE_SUCCESS": "已完成",
    "TRADE_CLOSED": "已关闭",
}
REFUND_NONE, REFUND_PARTIAL, REFUND_FULL = 0, 1, 2


class YouzanError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def parameter_invalid(why: str) -> YouzanError:
    return YouzanError(PARAMETER_INVALID, f"参数错误: {why}")


def _digest(salt: str, person_id: str) -> str:
    return hashlib.sha256(f"{salt}|{person_id}".encode()).hexdigest()


def union_id(person_id: str) -> str | None:
    """A person's WeChat unionid (the same across every WeChat app of the brand), for ~70% of
    people: a WeChat app simulator joining on it must derive it the same way."""
    digest = _digest("wx-union", person_id)
    return f"o{digest[8:35]}" if int(digest[:8], 16) % 10 < 7 else None


def openid(person_id: str) -> str:
    """The person's openid in the mini-program (WeChat openids are per app)."""
    return f"oM{_digest('wx-openid|youzan-mini', person_id)[:26]}"


def card_no(person_id: str) -> str:
    return f"YZ{int(_digest('yz-card', person_id)[:12], 16) % 10**10:010d}"


TRADE_STATUS = {  # closed: unpaid and closed, or closed by a full refund
    "cancelled": "TRADE_CLOSED",
    "refunded": "TRADE_CLOSED",
    "completed": "TRADE_SUCCESS",
    "shipped": "WAIT_BUYER_CONFIRM_GOODS",
    "paid": "WAIT_SELLER_SEND_GOODS",
    "unpaid": "WAIT_BUYER_PAY",
}


def trade_status(state: OrderState) -> str:
    return TRADE_STATUS[stage(state)]


def _cst(ts: datetime | None) -> str:
    return format_cst(ts) if ts else ""


def render_order(order: Order, state: OrderState, shop_name: str) -> Record:
    status = trade_status(state)
    refunded = state.refunded_lines
    refund_state = {"refunded": REFUND_FULL, "partially_refunded": REFUND_PARTIAL}.get(state.status, 0)
    person = order.person_id or ""
    salt = order.order_id
    return {
        "order_info": {
            "tid": order.order_id,
            "status": status,
            "status_str": STATUS_TEXT[status],
            "type": 0,
            "created": _cst(order.created_at),
            "pay_time": _cst(state.paid_at),
            "consign_time": _cst(state.shipped_at),
            "success_time": _cst(state.completed_at),
            "update_time": _cst(state.modified_at),
            "pay_type": 10 if state.paid_at else 0,
            "pay_type_str": "WEIXIN_DAIXIAO" if state.paid_at else "",
            "refund_state": refund_state,
            "offline_id": 0,
            "shop_name": shop_name,
        },
        "pay_info": {
            "payment": yuan(order.buyer_pays_fen),
            "total_fee": yuan(sum(line.unit_price_fen * line.quantity for line in order.lines)),
            "post_fee": yuan(order.shipping_fen),
            "discount_fee": yuan(order.discount_fen),
        },
        "buyer_info": {
            "yz_open_id": order.account_id or "",
            "outer_user_id": openid(person) if person else "",
            "union_id": (union_id(person) or "") if person else "",
            "fans_nickname": cipher(order.receiver_name, salt, CIPHER_STYLE),
            "buyer_phone": cipher(order.receiver_phone, salt, CIPHER_STYLE),
        },
        "address_info": {
            "receiver_name": cipher(order.receiver_name, salt, CIPHER_STYLE),
            "receiver_tel": cipher(order.receiver_phone, salt, CIPHER_STYLE),
            "delivery_address": cipher(order.receiver_address, salt, CIPHER_STYLE),
            # the sandbox knows a city only; it stands in for the province too
            "delivery_province": order.receiver_city or "",
            "delivery_city": order.receiver_city or "",
            "delivery_district": "",
        },
        "orders": [
            {
                "oid": line.line_id,
                "outer_sku_id": line.sku,
                "title": line.title,
                "num": line.quantity,
                "price": yuan(line.unit_price_fen),
                "total_fee": yuan(line.unit_price_fen * line.quantity),
                "discount": yuan(line.discount_fen),
                "payment": yuan(line.amount_fen),
                "refund_state": REFUND_FULL if index in refunded else REFUND_NONE,
            }
            for index, line in enumerate(order.lines)
        ],
    }


def _restamp(record: Record, modified: datetime) -> Record:
    return {**record, "order_info": {**record["order_info"], "update_time": format_cst(modified)}}


def render_member(account: Account, world: World) -> Record:
    person = world.people_by_id[account.person_id]
    return {
        "yz_open_id": account.account_id,
        "outer_user_id": openid(person.person_id),
        "union_id": union_id(person.person_id) or "",
        "card_no": card_no(person.person_id),
        "mobile": person.phone,
        "city": person.city,
        "created_at": format_cst(account.created_at),
        "updated_at": format_cst(account.created_at),  # members do not change in the sandbox
    }


def _int(params: dict[str, Any], name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except (TypeError, ValueError):
        raise parameter_invalid(f"{name} must be an integer") from None


class YouzanSimulator:
    prefix = "/youzan"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.settings = settings
        shops = world.shops("mini_program")
        self.shop_by_kdt = {YOUZAN_KDT_ID: shops[0].shop_id} if shops else {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (shop, expiry epoch seconds)
        self.issued = 0
        self.uses: Counter[str] = Counter()  # calls per token (the `token_expiry` fault)
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        names = {shop.shop_id: shop.name for shop in shops}
        self.feed = OrderFeed(
            world,
            settings,
            names,
            lambda order, state: render_order(order, state, names[order.shop_id]),
            _restamp,
        )
        now = self.feed.now
        members = [render_member(a, world) for a in world.accounts_for("mini_program") if a.created_at < now]
        self.members = sorted(
            members, key=lambda m: (parse_cst(m["updated_at"]), m["yz_open_id"]), reverse=True
        )

    def handle(self, request: SimRequest) -> SimResponse:
        try:
            if request.path == "/auth/token" and request.method == "POST":
                data = self._token(request)
            elif request.path in (f"/api/{TRADES}", f"/api/{MEMBERS}"):
                data = self._call(request.path.removeprefix("/api/"), request)
            else:
                return SimResponse.json({"error": "not found"}, status=404)
        except YouzanError as exc:
            return SimResponse.json({"success": False, "code": exc.code, "message": exc.message})
        return SimResponse.json({"success": True, "code": 200, "message": "successful", "data": data})

    def _token(self, request: SimRequest) -> dict[str, Any]:
        body = _params(request)
        if body.get("client_id") != YOUZAN_CLIENT_ID or body.get("client_secret") != YOUZAN_CLIENT_SECRET:
            raise YouzanError(*INVALID_CLIENT)
        shop_id = self.shop_by_kdt.get(str(body.get("grant_id")))
        if shop_id is None or body.get("authorize_type") != "silent":
            raise YouzanError(*INVALID_GRANT)
        token = uuid.uuid4().hex
        expires = time.time() + TOKEN_TTL
        self.tokens[token] = (shop_id, expires)
        self.issued += 1
        return {"access_token": token, "expires": int(expires * 1000), "scope": "trade user"}

    def _call(self, api: str, request: SimRequest) -> dict[str, Any]:
        params = _params(request)
        granted = self.tokens.get(request.query.get("access_token", ""))
        if granted is None:
            raise YouzanError(*TOKEN_INVALID)
        shop_id, expires = granted
        if "token_expiry" in self.settings.faults:  # the platform ends the token early, mid-pull
            with self._lock:
                self.uses[request.query["access_token"]] += 1
                if self.uses[request.query["access_token"]] > TOKEN_USES_UNDER_FAULT:
                    self.injected["token_expiry"] += 1
                    expires = 0.0
                    self.tokens[request.query["access_token"]] = (shop_id, expires)
        if time.time() >= expires:
            raise YouzanError(*TOKEN_EXPIRED)
        if self.settings.rate_limits and not self.bucket.take():
            raise YouzanError(*THROTTLED)
        try:
            start, end = parse_cst(str(params["start_update"])), parse_cst(str(params["end_update"]))
        except (KeyError, ValueError):
            raise parameter_invalid("start_update and end_update are required, yyyy-MM-dd HH:mm:ss") from None
        if end < start or end - start > MAX_WINDOW:
            raise parameter_invalid(f"end_update must be after start_update, within {MAX_WINDOW.days} day")
        page_no, page_size = _int(params, "page_no", 1), _int(params, "page_size", 20)
        if page_no < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise parameter_invalid(f"page_no counts from 1, page_size is 1-{MAX_PAGE_SIZE}")
        offset = (page_no - 1) * page_size
        if api == MEMBERS:
            members = [m for m in self.members if start <= parse_cst(m["updated_at"]) <= end]
            return {"total_results": len(members), "items": members[offset : offset + page_size]}
        status = params.get("status")
        records, total = self.feed.page(
            shop_id,
            start,
            end,
            offset,
            page_size,
            where=lambda r: not status or r["order_info"]["status"] == status,
        )
        return {"total_results": total, "full_order_info_list": [{"full_order_info": r} for r in records]}


def _params(request: SimRequest) -> dict[str, Any]:
    """Query string, form body or JSON body: the sandbox accepts each (which is canonical is unverified)."""
    params: dict[str, Any] = dict(request.query)
    content_type = request.headers.get("content-type", "")
    if request.body and "json" in content_type:
        try:
            body = json.loads(request.body.decode("utf-8"))
        except ValueError:
            raise parameter_invalid("the body is not JSON") from None
        if not isinstance(body, dict):
            raise parameter_invalid("the body must be a JSON object")
        params.update(body)
    elif request.body:
        params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
    return params
