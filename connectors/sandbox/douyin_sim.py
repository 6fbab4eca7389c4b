"""Douyin shop (抖店) simulator: `order.searchList` for the brand's Douyin shop.

What it enforces, after channel-protocols.md §5 (whose Douyin facts all come from third-party
clients): POST `/order/searchList` with the system parameters in the query string and the JSON body
as `param_json`. The body is re-serialised canonically (keys sorted, compact, `& < >` escaped) and
the signature checked over exactly the five signed parameters, lower hex, `hmac-sha256` or `md5`;
`timestamp` as a Beijing-time string or epoch seconds within ±10 min of the real clock. Body:
`page` from 0, `size` 1-100, an `update_time_start`/`update_time_end` window in epoch seconds,
`order_by`, `order_asc`, optional `combine_status`. Orders come newest-modified first unless
`order_asc`; money is integer fen, times epoch seconds (0 = not happened), `order_id` a string
(ids exceed 2^53). Receiver PII is ciphertext with masked twins. Every answer is HTTP 200 in the
`{code, msg, sub_code, sub_msg, data, log_id}` envelope, success iff `code == 10000`.

Unverified choices, kept as module constants: the window cap, the rate limit and its error, the
unknown-app-key error, `sku_order_list` sub-field names, the after-sale codes, the masked-field
names, the buyer key `doudian_open_id`, and a `product` filter (substring of a line's name).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.common.timeutil import parse_cst
from connectors.douyin.signing import SIGN_METHODS, canonical_param_json, sign
from connectors.sandbox.credentials import DOUYIN_APP_KEY, DOUYIN_APP_SECRET, marketplace_token
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import (
    OrderFeed,
    Record,
    TokenBucket,
    cipher,
    masked_name,
    masked_phone,
    off_clock,
    stage,
)
from connectors.sandbox.world import Order, OrderState, World

METHOD = "order.searchList"
PATH = "/order/searchList"
MAX_PAGE_SIZE = 100
MAX_WINDOW = timedelta(days=90)  # one third-party client caps at ~90 days (unverified)
CALLS_PER_SECOND = 40.0  # Douyin's limits are unpublished (unverified)
SUCCESS = 10000
# Errors as (code, sub_code, message). 40003 and its sub-codes, and 30001 with
# isv.app-permissions-insufficient, are in the reference; using 30001 for an unknown app_key and
# 50002 / isp.service-limited for throttling are unverified choices.
UNKNOWN_APP_KEY = (30001, "isv.app-permissions-insufficient", "app_key 无效或无权限")
INVALID_SIGN = (40003, "isv.signature-invalid", "签名无效")
TOKEN_EXPIRED = (40003, "isv.access-token-expired", "access_token 已过期")
THROTTLED = (50002, "isp.service-limited", "调用频率超过限制")
INVALID_PARAMETER = 40003  # sub_code isv.parameter-invalid:<name>
# order_status (reference §5.3) and its text.
STATUS_TEXT = {1: "待支付", 2: "备货中", 3: "已发货", 4: "已取消", 5: "已完成"}
# after_sale_info codes (unverified): refund_status 3 = refund succeeded; after_sale_status 12 = done.
REFUND_NONE, REFUND_SUCCESS = 0, 3
AFTER_SALE_NONE, AFTER_SALE_DONE = 0, 12
CIPHER_STYLE = "#{}#1##"  # the look of Douyin ciphertexts is unverified


class DouyinError(Exception):
    def __init__(self, code: int, sub_code: str, sub_msg: str) -> None:
        super().__init__(sub_msg)
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg


def parameter_invalid(name: str, why: str) -> DouyinError:
    return DouyinError(INVALID_PARAMETER, f"isv.parameter-invalid:{name}", why)


def _epoch(ts: datetime | None) -> int:
    return int(ts.timestamp()) if ts else 0


ORDER_STATUS = {"cancelled": 4, "refunded": 4, "completed": 5, "shipped": 3, "paid": 2, "unpaid": 1}


def order_status(state: OrderState) -> int:
    """4 is an unpaid order closed, or a paid one closed by a full refund."""
    return ORDER_STATUS[stage(state)]


def render_order(order: Order, state: OrderState) -> Record:
    goods_before_discount = sum(line.unit_price_fen * line.quantity for line in order.lines)
    order_amount = goods_before_discount + order.shipping_fen
    promotion = order.discount_fen + order.platform_discount_fen
    refunded = state.refunded_lines
    status = order_status(state)
    salt = order.order_id
    return {
        "order_id": order.order_id,
        "order_status": status,
        "order_status_desc": STATUS_TEXT[status],
        "create_time": _epoch(order.created_at),
        "update_time": _epoch(state.modified_at),
        "pay_time": _epoch(state.paid_at),
        "ship_time": _epoch(state.shipped_at),
        "finish_time": _epoch(state.completed_at),
        "order_amount": order_amount,
        "post_amount": order.shipping_fen,
        "promotion_amount": promotion,
        "promotion_shop_amount": order.discount_fen,
        "promotion_platform_amount": order.platform_discount_fen,
        "pay_amount": order_amount - promotion,
        "doudian_open_id": order.account_id or "",
        "encrypt_post_receiver": cipher(order.receiver_name, salt, CIPHER_STYLE),
        "encrypt_post_tel": cipher(order.receiver_phone, salt, CIPHER_STYLE),
        "post_addr": {
            # the sandbox knows a city only; it stands in for the province too
            "province": {"name": order.receiver_city or ""},
            "city": {"name": order.receiver_city or ""},
            "town": {"name": ""},
            "encrypt_detail": cipher(order.receiver_address, salt, CIPHER_STYLE),
        },
        "mask_post_receiver": masked_name(order.receiver_name),
        "mask_post_tel": masked_phone(order.receiver_phone),
        "sku_order_list": [
            {
                "sku_order_id": line.line_id,
                "product_name": line.title,
                "out_sku_id": line.sku,
                "item_num": line.quantity,
                "origin_amount": line.unit_price_fen * line.quantity,
                "promotion_shop_amount": line.discount_fen,
                "pay_amount": line.amount_fen,
                "after_sale_info": {
                    "after_sale_status": AFTER_SALE_DONE if index in refunded else AFTER_SALE_NONE,
                    "refund_status": REFUND_SUCCESS if index in refunded else REFUND_NONE,
                },
            }
            for index, line in enumerate(order.lines)
        ],
    }


def _restamp(record: Record, modified: datetime) -> Record:
    return {**record, "update_time": _epoch(modified)}


def parse_timestamp(text: str) -> datetime:
    """Epoch seconds (token endpoints, some clients) or `yyyy-MM-dd HH:mm:ss` Beijing time."""
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    return parse_cst(text)


def _int(body: dict[str, Any], name: str, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or value is None:
        raise parameter_invalid(name, f"{name} is required and must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise parameter_invalid(name, f"{name} must be an integer") from None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    raise parameter_invalid("order_asc", "order_asc must be a boolean or 0/1")


def _statuses(combine: Any) -> set[int] | None:
    """`combine_status: [{"order_status": "2,3"}, …]` -> the order statuses asked for (None: all)."""
    if combine in (None, []):
        return None
    try:
        wanted = {int(s) for item in combine for s in str(item.get("order_status", "")).split(",") if s}
    except (AttributeError, TypeError, ValueError):
        raise parameter_invalid("combine_status", "combine_status must be [{order_status}]") from None
    return wanted or None


class DouyinSimulator:
    prefix = "/douyin"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.settings = settings
        shop_ids = [shop.shop_id for shop in world.shops("douyin")]
        self.tokens = {marketplace_token(shop_id): shop_id for shop_id in shop_ids}
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        self.feed = OrderFeed(world, settings, shop_ids, render_order, _restamp)

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != PATH or request.method != "POST":
            return SimResponse.json({"error": "not found"}, status=404)
        log_id = uuid.uuid4().hex
        try:
            data = self._call(request)
        except DouyinError as exc:
            return SimResponse.json(
                {
                    "code": exc.code,
                    "msg": "调用失败",
                    "sub_code": exc.sub_code,
                    "sub_msg": exc.sub_msg,
                    "data": {},
                    "log_id": log_id,
                }
            )
        return SimResponse.json(
            {"code": SUCCESS, "msg": "success", "sub_code": "", "sub_msg": "", "data": data, "log_id": log_id}
        )

    def _authenticate(self, query: dict[str, str], param_json: str) -> str:
        app_key = query.get("app_key", "")
        if app_key != DOUYIN_APP_KEY:
            raise DouyinError(*UNKNOWN_APP_KEY)
        sign_method = query.get("sign_method", "hmac-sha256")
        if sign_method not in SIGN_METHODS:
            raise parameter_invalid("sign_method", f"sign_method must be one of {', '.join(SIGN_METHODS)}")
        expected = sign(
            app_key,
            DOUYIN_APP_SECRET,
            query.get("method", ""),
            param_json,
            query.get("timestamp", ""),
            query.get("v", ""),
            sign_method,
        )
        if query.get("sign") != expected:
            raise DouyinError(*INVALID_SIGN)
        try:
            sent = parse_timestamp(query.get("timestamp", ""))
        except (ValueError, OverflowError):
            raise parameter_invalid("timestamp", "timestamp must be yyyy-MM-dd HH:mm:ss or epoch s") from None
        if off_clock(sent):
            raise parameter_invalid("timestamp", "timestamp differs from server time by more than 10 min")
        if query.get("v") != "2":
            raise parameter_invalid("v", "v must be 2")
        if query.get("method") != METHOD:
            raise parameter_invalid("method", f"this path serves {METHOD}")
        shop_id = self.tokens.get(query.get("access_token", ""))
        if shop_id is None:  # unknown and expired tokens look the same to a caller
            raise DouyinError(*TOKEN_EXPIRED)
        return shop_id

    def _call(self, request: SimRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body.decode("utf-8") or "{}")
        except ValueError:
            raise DouyinError(INVALID_PARAMETER, "isv.parameter-format-invalid", "body is not JSON") from None
        if not isinstance(body, dict):
            raise DouyinError(INVALID_PARAMETER, "isv.parameter-format-invalid", "body must be an object")
        shop_id = self._authenticate(request.query, canonical_param_json(body))
        if self.settings.rate_limits and not self.bucket.take():
            raise DouyinError(*THROTTLED)
        page, size = _int(body, "page", 0), _int(body, "size", 10)
        if page < 0:
            raise parameter_invalid("page", "page counts from 0")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise parameter_invalid("size", f"size must be 1-{MAX_PAGE_SIZE}")
        start, end = _int(body, "update_time_start"), _int(body, "update_time_end")
        if end < start or end - start > MAX_WINDOW.total_seconds():
            raise parameter_invalid("update_time_end", f"need start <= end within {MAX_WINDOW.days} days")
        if body.get("order_by", "update_time") != "update_time":
            raise parameter_invalid("order_by", "the sandbox orders by update_time only")
        ascending = _flag(body.get("order_asc", False))
        statuses = _statuses(body.get("combine_status"))
        product = body.get("product")
        records, total = self.feed.page(
            shop_id,
            datetime.fromtimestamp(start, UTC),
            datetime.fromtimestamp(end, UTC),
            page * size,
            size,
            ascending=ascending,
            where=lambda r: (
                (statuses is None or r["order_status"] in statuses)
                and (not product or any(product in line["product_name"] for line in r["sku_order_list"]))
            ),
        )
        return {"shop_order_list": records, "total": total, "page": page, "size": size}
