"""Douyin shop (抖店) simulator: `order.searchList` and `order.batchDecrypt` for the brand's Douyin shop.

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

`order.batchDecrypt` (POST `/order/batchDecrypt`, same signing and envelope): `cipher_infos` of 1-50
`{auth_id: order_id, cipher_text}` -> `decrypt_infos[{auth_id, cipher_text, decrypt_text, err_no,
err_msg, data_type, is_virtual_tel, phone_no_a, phone_no_b, expire_time}]` in the order asked.
A ciphertext decrypts only with the order id it was issued for (else that item fails with an
`err_no`, the call still succeeds). A deterministic share of orders is privacy-protected (隐私号):
their phone decrypts to a virtual number `host-extension` with `is_virtual_tel: true`, never the
receiver's phone. Decrypt calls count against the app's rate limit like list calls.

Unverified choices, kept as module constants: the window cap, the rate limit and its error, the
unknown-app-key error, `sku_order_list` sub-field names, the after-sale codes, the masked-field
names, the buyer key `doudian_open_id`, a `product` filter (substring of a line's name), and for
decryption: the privacy-protected share, the virtual number's look and lifetime, the per-item
failure code and share, and the error when the app lacks the decrypt permission. The decrypt
response fields beyond the reference's four come from an SDK generated from the platform's docs.
"""

from __future__ import annotations

import hashlib
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
    PlatformClock,
    Record,
    TokenBucket,
    cipher,
    masked_name,
    masked_phone,
    stage,
)
from connectors.sandbox.world import Order, OrderState, World

METHOD = "order.searchList"
DECRYPT_METHOD = "order.batchDecrypt"
METHODS = {"/order/searchList": METHOD, "/order/batchDecrypt": DECRYPT_METHOD}  # path -> method
MAX_PAGE_SIZE = 100
MAX_DECRYPT_BATCH = 50  # reference §5.3
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
# order.batchDecrypt. data_type per the SDK docs: 1 address, 2 name, 3 phone.
DATA_TYPE_ADDRESS, DATA_TYPE_NAME, DATA_TYPE_PHONE = 1, 2, 3
PRIVACY_SHARE = 0.25  # share of orders privacy-protected (隐私号), chosen by a hash of the order id
VIRTUAL_HOST = "17031230000"  # phone_no_a of every virtual number; phone_no_b a 4-digit extension
VIRTUAL_NUMBER_TTL = timedelta(days=15)  # expire_time of a virtual number after the decrypt
DECRYPT_FAILURE_SHARE = 0.0  # share of orders whose decrypt fails (err_no) although the cipher fits
DECRYPT_FAILED = (300003, "解密失败")  # (err_no, err_msg) of a failed item: 300003 is the SDK docs' example
DECRYPT_PERMITTED = True  # False: the app lacks the decrypt permission (消费者敏感数据解密)
NO_DECRYPT_PERMISSION = (30001, "isv.app-permissions-insufficient", "应用没有解密权限")


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


def _share(kind: str, order_id: str) -> float:
    """A deterministic number in [0, 1) per order: which orders are protected, which fail."""
    digest = hashlib.sha256(f"{kind}|{order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def privacy_protected(order_id: str) -> bool:
    return _share("privacy", order_id) < PRIVACY_SHARE


def decrypt_fails(order_id: str) -> bool:
    return _share("failure", order_id) < DECRYPT_FAILURE_SHARE


def virtual_number(order_id: str) -> tuple[str, str]:
    """(phone_no_a, phone_no_b) of a protected order: the shared host number and an extension."""
    return VIRTUAL_HOST, f"{int(_share('extension', order_id) * 10_000):04d}"


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


def _texts(item: dict[str, Any], *names: str) -> bool:
    return all(isinstance(item.get(name), str) and item[name] for name in names)


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
        self.clock = PlatformClock(settings)
        shop_ids = [shop.shop_id for shop in world.shops("douyin")]
        self.tokens = {marketplace_token(shop_id): shop_id for shop_id in shop_ids}
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        self.feed = OrderFeed(world, settings, shop_ids, render_order, _restamp)
        self.orders = {shop_id: {o.order_id: o for o in world.orders_for(shop_id)} for shop_id in shop_ids}

    def handle(self, request: SimRequest) -> SimResponse:
        method = METHODS.get(request.path)
        if method is None or request.method != "POST":
            return SimResponse.json({"error": "not found"}, status=404)
        log_id = uuid.uuid4().hex
        try:
            data = self._call(request, method)
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

    def _authenticate(self, query: dict[str, str], param_json: str, method: str) -> str:
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
        if self.clock.rejects(sent):
            raise parameter_invalid("timestamp", "timestamp differs from server time by more than 10 min")
        if query.get("v") != "2":
            raise parameter_invalid("v", "v must be 2")
        if query.get("method") != method:
            raise parameter_invalid("method", f"this path serves {method}")
        shop_id = self.tokens.get(query.get("access_token", ""))
        if shop_id is None:  # unknown and expired tokens look the same to a caller
            raise DouyinError(*TOKEN_EXPIRED)
        return shop_id

    def _call(self, request: SimRequest, method: str) -> dict[str, Any]:
        try:
            body = json.loads(request.body.decode("utf-8") or "{}")
        except ValueError:
            raise DouyinError(INVALID_PARAMETER, "isv.parameter-format-invalid", "body is not JSON") from None
        if not isinstance(body, dict):
            raise DouyinError(INVALID_PARAMETER, "isv.parameter-format-invalid", "body must be an object")
        shop_id = self._authenticate(request.query, canonical_param_json(body), method)
        if self.settings.rate_limits and not self.bucket.take():
            raise DouyinError(*THROTTLED)
        if method == DECRYPT_METHOD:
            return self._decrypt(shop_id, body)
        return self._search(shop_id, body)

    def _search(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
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

    def _decrypt(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if not DECRYPT_PERMITTED:
            raise DouyinError(*NO_DECRYPT_PERMISSION)
        infos = body.get("cipher_infos")
        if not isinstance(infos, list) or not 1 <= len(infos) <= MAX_DECRYPT_BATCH:
            raise parameter_invalid("cipher_infos", f"cipher_infos must hold 1-{MAX_DECRYPT_BATCH} items")
        if not all(isinstance(i, dict) and _texts(i, "auth_id", "cipher_text") for i in infos):
            raise parameter_invalid("cipher_infos", "each item needs auth_id and cipher_text strings")
        orders = self.orders[shop_id]
        return {
            "decrypt_infos": [self._decrypt_one(orders.get(i["auth_id"]), i) for i in infos],
            "custom_err": {"err_code": 0, "err_msg": ""},
        }

    def _decrypt_one(self, order: Order | None, info: dict[str, str]) -> Record:
        answer: Record = {
            "auth_id": info["auth_id"],
            "cipher_text": info["cipher_text"],
            "decrypt_text": "",
            "data_type": 0,
            "is_virtual_tel": False,
            "phone_no_a": "",
            "phone_no_b": "",
            "expire_time": 0,
            "err_no": 0,
            "err_msg": "",
        }
        plain = {}
        if order is not None:  # a ciphertext opens only with the order id it was issued for
            plain = {
                cipher(value, order.order_id, CIPHER_STYLE): (value, kind)
                for value, kind in (
                    (order.receiver_phone, DATA_TYPE_PHONE),
                    (order.receiver_name, DATA_TYPE_NAME),
                    (order.receiver_address, DATA_TYPE_ADDRESS),
                )
                if value
            }
        found = plain.get(info["cipher_text"])
        if order is None or found is None or decrypt_fails(order.order_id):
            return {**answer, "err_no": DECRYPT_FAILED[0], "err_msg": DECRYPT_FAILED[1]}
        value, kind = found
        if kind == DATA_TYPE_PHONE and privacy_protected(order.order_id):
            host, extension = virtual_number(order.order_id)
            expires = self.feed.now + VIRTUAL_NUMBER_TTL
            return {
                **answer,
                "decrypt_text": f"{host}-{extension}",
                "data_type": kind,
                "is_virtual_tel": True,
                "phone_no_a": host,
                "phone_no_b": extension,
                "expire_time": _epoch(expires),
            }
        return {**answer, "decrypt_text": value, "data_type": kind}
