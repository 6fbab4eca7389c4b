"""Pinduoduo (POP open platform) simulator: `pdd.order.number.list.increment.get` for the brand's shop.

What it enforces, after channel-protocols.md §4: POST form or JSON body at `/api/router`; system
parameters `type`, `client_id`, `access_token`, `timestamp` (UNIX seconds, ±10 min of the real
clock), `data_type` (JSON) and an optional `version` (V1); the md5 signature. Business parameters:
an `updated_at` window in epoch seconds (both bounds inclusive) of at most 30 minutes with end
after start; `page` ≥ 1, `page_size` 1–100 (default 100); the required filters `is_lucky_flag`,
`order_status`, `refund_status` and the optional `trade_type`; `use_has_next=true` swaps
`total_count` for `has_next`. Orders newest-updated first, only those created in the last three
months. Amounts are JSON numbers in yuan; receiver fields are ciphertext only while the order
awaits shipment (待发货), masked twins always. Errors are HTTP 200 with an `error_response`.

Unverified and kept as module constants: the text of the 30-minute window error (50001), which
throttle code the gateway answers (52101, or 70031), the per-second call rate (3000 calls / 60 s
from SDK limiter metadata), the address mask format and `open_address_id` construction. Times
that have not happened are sent as "" (PDD sends strings; the choice between "" and absent is
unverified). The "changes of the last 3 minutes are not listed yet" lag is not simulated: the
simulator's clock is the world's end, not the wall clock.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.common.signing import sign
from connectors.common.timeutil import format_cst
from connectors.sandbox.credentials import PDD_CLIENT_ID, PDD_CLIENT_SECRET, marketplace_token
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import OrderFeed, PlatformClock, Record, TokenBucket, cipher, masked_name
from connectors.sandbox.world import Order, OrderState, World

METHOD = "pdd.order.number.list.increment.get"
ROOT = "order_sn_increment_get_response"
MAX_WINDOW = timedelta(minutes=30)
HISTORY = timedelta(days=90)  # "只能获取到最近三个月的订单": older orders are simply not served
MAX_PAGE_SIZE = 100
CALLS_PER_SECOND = 50.0  # shop level 3000 calls / 60 s (SDK limiter metadata)
EXPIRED_SUFFIX = "-expired"  # marketplace_token(shop) + this is served as an expired token
# Error codes (§4.5). The throttle answer is 52101 当前接口被限流; set THROTTLE_ERROR = CALLS_TOO_OFTEN
# to answer 70031 调用过于频繁 instead. The window text is unverified (the sample says 24 hours).
THROTTLED_API = (52101, "当前接口被限流")
CALLS_TOO_OFTEN = (70031, "调用过于频繁")
THROTTLE_ERROR = THROTTLED_API
WINDOW_ERROR = (50001, "时间跨度不能超过30分钟")
BAD_PARAMETER = (10000, "参数错误")
BAD_COMMON_PARAMETER = (10001, "公共参数错误")
BAD_CLIENT_ID = (10016, "client下线或clientId不正确")
BAD_TYPE = (10017, "type不正确")
EXPIRED_TOKEN = (10019, "access_token已过期")
BAD_SIGN = (20004, "签名验证失败")
BAD_TOKEN = (20032, "access_token或client_id错误")
ORDER_STATUSES = {"1", "2", "3", "5"}  # 5 = all
REFUND_STATUSES = {"1", "2", "3", "4", "5"}
LUCKY_FLAGS = {"0", "1", "2"}  # 0 = all


class PddError(Exception):
    def __init__(self, error: tuple[int, str], detail: str = "") -> None:
        super().__init__(error[1])
        self.code, self.msg = error
        self.detail = detail


def money(fen: int) -> float:
    """Yuan as a JSON number. The float is built from the exact decimal, so its shortest repr (what
    json.dumps writes) is the exact 2-place value: 1299.9, 0.05."""
    return float(Decimal(fen).scaleb(-2))


def cst(ts: datetime | None) -> str:
    return format_cst(ts) if ts is not None else ""


def masked_mobile(phone: str | None) -> str:
    """PDD's masked twin of a mobile number keeps the first seven digits: `1387677****`."""
    return f"{phone[:7]}****" if phone else ""


def masked_address(order: Order) -> str:
    return f"{order.receiver_city}市****" if order.receiver_city else ""


def _digits(text: str, n: int) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10**n


class PinduoduoSimulator:
    prefix = "/pdd"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.settings = settings
        self.clock = PlatformClock(settings)
        self.now = settings.now or world.as_of  # the platform's clock, as OrderFeed's
        shop_ids = [shop.shop_id for shop in world.shops("pinduoduo")]
        self.tokens = {marketplace_token(shop_id): shop_id for shop_id in shop_ids}
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        self.feed = OrderFeed(world, settings, shop_ids, self.render, _restamp, history=HISTORY)

    # --- records -------------------------------------------------------------------------------

    def render(self, order: Order, state: OrderState) -> Record:
        """An order as the increment API lists it at the simulator's clock."""
        now = self.now
        group_status = order.group.status(now) if order.group else None
        presale = order.presale
        balance_paid = presale.balance_paid_at if presale else None
        if balance_paid is not None and balance_paid >= now:
            balance_paid = None  # the balance is paid after the simulator's clock: not yet
        if state.status == "cancelled":  # a forfeited pre-sale deposit
            confirm_status, confirm_time = 2, None
        elif presale:
            confirm_status, confirm_time = (1, balance_paid) if balance_paid else (0, None)
        elif order.group:
            formed = group_status == "formed"
            confirm_status, confirm_time = (1, order.group.formed_at) if formed else (0, None)
        else:
            confirm_status, confirm_time = 1, state.paid_at
        order_status = 3 if state.completed_at else 2 if state.shipped_at else 1
        refunded = bool(state.refunds)
        goods = sum(line.unit_price_fen * line.quantity for line in order.lines)
        discount = order.discount_fen + order.platform_discount_fen
        pay = goods - discount + order.shipping_fen  # = order.buyer_pays_fen
        risk_control_status = 0
        plain = order_status == 1 and risk_control_status == 0  # ciphertext only while 待发货
        salt = order.order_id
        record: Record = {
            "order_sn": order.order_id,
            "confirm_status": confirm_status,
            "is_lucky_flag": 1,
            "trade_type": 1 if presale else 0,
            "step_order_info": None,
            "order_status": order_status,
            "refund_status": 4 if refunded else 1,
            "after_sales_status": 10 if refunded else 0,
            "risk_control_status": risk_control_status,
            "created_time": cst(order.created_at),
            "confirm_time": cst(confirm_time),
            "pay_time": cst(state.paid_at),
            "shipping_time": cst(state.shipped_at),
            "receive_time": cst(state.completed_at),
            "updated_at": cst(state.modified_at),
            "goods_amount": money(goods),
            "seller_discount": money(order.discount_fen),
            "platform_discount": money(order.platform_discount_fen),
            "capital_free_discount": money(0),
            "discount_amount": money(discount),
            "postage": money(order.shipping_fen),
            "pay_amount": money(pay),
            "order_change_amount": money(0),
            "item_list": [
                {
                    "goods_id": 100_000_000 + _digits(line.sku.rsplit("-", 1)[0], 6),
                    "sku_id": 200_000_000 + _digits(line.sku, 6),
                    "outer_id": line.sku,
                    "outer_goods_id": line.sku.rsplit("-", 1)[0],
                    "goods_name": line.title,
                    "goods_price": money(line.unit_price_fen),
                    "goods_spec": line.sku.rsplit("-", 1)[-1],
                    "goods_count": line.quantity,
                }
                for line in order.lines
            ],
            "receiver_name": (cipher(order.receiver_name, salt, "~{}~PDD~") or "") if plain else "",
            "receiver_phone": (cipher(order.receiver_phone, salt, "~{}~PDD~") or "") if plain else "",
            "receiver_address": (cipher(order.receiver_address, salt, "~{}~PDD~") or "") if plain else "",
            "receiver_name_mask": masked_name(order.receiver_name) or "",
            "receiver_phone_mask": masked_mobile(order.receiver_phone),
            "receiver_address_mask": masked_address(order),
            "address_mask": masked_address(order),
            "province": order.receiver_city or "",
            "city": order.receiver_city or "",
            "town": "",
            "open_address_id": hashlib.sha256(f"open-address|{order.receiver_address}".encode()).hexdigest()[
                :32
            ],
            "pay_no": f"4200{_digits(order.order_id, 16):016d}",
            "pay_type": "WEIXIN" if _digits(order.order_id, 2) % 3 else "ALIPAY",
        }
        if order.group is not None:
            record["group_order_id"] = order.group.group_id
            record["group_role"] = 1 if order.group.leader else 0
            record["group_status"] = {"forming": 0, "formed": 1, "failed": 2}[group_status or "forming"]
        if presale is not None:
            record["step_order_info"] = {
                "advanced_paid_fee": money(presale.deposit_fen),
                "step_paid_fee": money(pay - presale.deposit_fen),  # the balance the buyer owes
                "step_discount_amount": money(0),
                "step_trade_status": 2 if balance_paid else 1,
            }
        return record

    # --- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != "/api/router":
            return SimResponse.json({"error": "not found"}, status=404)
        request_id = uuid.uuid4().hex[:17]
        try:
            body = self._call(_params(request))
        except PddError as exc:
            error = {
                "error_code": exc.code,
                "error_msg": exc.msg + (f":{exc.detail}" if exc.detail else ""),
                "sub_code": str(exc.code),
                "sub_msg": exc.detail or exc.msg,
                "request_id": request_id,
            }
            return SimResponse.json({"error_response": error})
        return SimResponse.json({ROOT: {**body, "request_id": request_id}})

    def _authenticate(self, params: dict[str, str]) -> str:
        if params.get("client_id") != PDD_CLIENT_ID:
            raise PddError(BAD_CLIENT_ID)
        if sign(params, PDD_CLIENT_SECRET, "md5") != params.get("sign", "").upper():
            raise PddError(BAD_SIGN)
        for name in ("type", "timestamp", "access_token"):
            if not params.get(name):
                raise PddError(BAD_COMMON_PARAMETER, name)
        try:
            sent = datetime.fromtimestamp(int(params["timestamp"]), UTC)
        except (ValueError, OverflowError):
            raise PddError(BAD_COMMON_PARAMETER, "timestamp") from None
        if self.clock.rejects(sent):
            raise PddError(BAD_COMMON_PARAMETER, "timestamp differs from server time by more than 10 min")
        if params.get("data_type", "JSON") != "JSON":
            raise PddError(BAD_COMMON_PARAMETER, "data_type (the sandbox serves JSON only)")
        if params.get("version", "V1") != "V1":
            raise PddError(BAD_COMMON_PARAMETER, "version")
        if params["type"] != METHOD:
            raise PddError(BAD_TYPE, f"the sandbox serves {METHOD} only")
        token = params["access_token"]
        if token.endswith(EXPIRED_SUFFIX) and token.removesuffix(EXPIRED_SUFFIX) in self.tokens:
            raise PddError(EXPIRED_TOKEN)
        if token not in self.tokens:
            raise PddError(BAD_TOKEN)
        return self.tokens[token]

    def _call(self, params: dict[str, str]) -> dict[str, Any]:
        shop_id = self._authenticate(params)
        if self.settings.rate_limits and not self.bucket.take():
            raise PddError(THROTTLE_ERROR)
        try:
            start, end = int(params["start_updated_at"]), int(params["end_updated_at"])
            page, page_size = int(params.get("page", 1)), int(params.get("page_size", MAX_PAGE_SIZE))
        except KeyError as exc:
            raise PddError(BAD_PARAMETER, f"{exc.args[0]}不能为空") from None
        except ValueError:
            raise PddError(BAD_PARAMETER, "start_updated_at/end_updated_at/page/page_size") from None
        if end <= start or end - start > MAX_WINDOW.total_seconds():
            raise PddError(WINDOW_ERROR, "end_updated_at must be after start_updated_at, within 30 minutes")
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise PddError(BAD_PARAMETER, "page >= 1, page_size 1-100")
        filters = {
            "is_lucky_flag": LUCKY_FLAGS,
            "order_status": ORDER_STATUSES,
            "refund_status": REFUND_STATUSES,
        }
        for name, allowed in filters.items():
            if params.get(name) not in allowed:
                raise PddError(BAD_PARAMETER, f"{name} must be one of {','.join(sorted(allowed))}")
        if params.get("trade_type", "0") not in ("0", "1"):
            raise PddError(BAD_PARAMETER, "trade_type must be 0 or 1")
        wanted = {
            name: int(value)
            for name, value in params.items()
            if (name, value) not in (("is_lucky_flag", "0"), ("order_status", "5"), ("refund_status", "5"))
            and name in ("is_lucky_flag", "order_status", "refund_status", "trade_type")
        }
        records, total = self.feed.page(
            shop_id,
            datetime.fromtimestamp(start, UTC),
            datetime.fromtimestamp(end, UTC),
            (page - 1) * page_size,
            page_size,
            where=(lambda r: all(r[k] == v for k, v in wanted.items())) if wanted else None,
        )
        body: dict[str, Any] = {"order_sn_list": records, "has_next": page * page_size < total}
        if params.get("use_has_next") != "true":
            body["total_count"] = total
        return body


def _restamp(record: Record, modified: datetime) -> Record:
    return {**record, "updated_at": format_cst(modified)}


def _params(request: SimRequest) -> dict[str, str]:
    """The form (query string merged in), or a JSON body with values as the SDKs stringify them."""
    if "application/json" not in request.headers.get("content-type", ""):
        return request.form
    try:
        body = request.json() or {}
    except ValueError:
        body = {}
    params = dict(request.query)
    for name, value in body.items() if isinstance(body, dict) else ():
        if isinstance(value, bool):
            params[name] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            params[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        else:
            params[name] = "" if value is None else str(value)
    return params
