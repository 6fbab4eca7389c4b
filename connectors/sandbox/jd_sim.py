"""JD (JOS) simulator: `jingdong.pop.order.enSearch` (SOP orders: the merchant ships) and
`jingdong.pop.order.fbp.search` (FBP orders: stocked in JD's warehouses, JD ships) for the brand's
POP shop on JD. Each API serves only its own orders, as on JOS.

What it enforces, after channel-protocols.md §3: GET or POST form; md5 signature over every
parameter including `360buy_param_json` (its business parameters, values as strings or numbers);
app key, access token, `v=2.0` and both timestamp forms (`yyyy-MM-dd HH:mm:ss` and
`…ss.fff+0800`, ±10 min) checked; `optional_fields` required; a window of at most one calendar
month; `page_size` ≤ 50; orders newest-modified first; only the optional fields asked for, every
value a string; consignee PII as ciphertext with masked `desen_*` twins; buyer key
`open_id_buyer`. Gateway errors are `error_response` with a string `code` and `zh_desc`/`en_desc`;
business failures are `code:"0"` with `apiResult.success=false`. All HTTP 200. Codes the reference
leaves open (signature, token, throttle, window) are module constants.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.common.signing import sign
from connectors.common.timeutil import CHINA_TZ, format_cst, parse_cst
from connectors.sandbox.credentials import JD_APP_KEY, JD_APP_SECRET, marketplace_token
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import (
    OrderFeed,
    PlatformClock,
    Record,
    TokenBucket,
    cipher,
    masked_phone,
    stage,
    yuan,
)
from connectors.sandbox.world import Order, OrderState, World

METHOD = "jingdong.pop.order.enSearch"
FBP_METHOD = "jingdong.pop.order.fbp.search"


@dataclass(frozen=True)
class SearchApi:
    """One order-search API: its business parameter names and which orders it serves."""

    root: str  # sic: JD spells it `_responce`
    start: str
    end: str
    fields: str
    page_size: str
    state: str
    fbp: bool  # serves FBP orders (stocked in JD's warehouses) rather than SOP ones


# enSearch serves SOP/LBP/SOPL orders with snake_case parameters; FBP orders come only from
# fbp.search, whose parameters are camelCase (§3.3). fbp.search's response root and inner shape
# are unverified: the sandbox answers like enSearch.
SEARCH_APIS = {
    METHOD: SearchApi(
        "jingdong_pop_order_enSearch_responce",
        "start_date",
        "end_date",
        "optional_fields",
        "page_size",
        "order_state",
        fbp=False,
    ),
    FBP_METHOD: SearchApi(
        "jingdong_pop_order_fbp_search_responce",
        "startDate",
        "endDate",
        "optionalFields",
        "pageSize",
        "orderState",
        fbp=True,
    ),
}
MAX_PAGE_SIZE = 50
CALLS_PER_SECOND = 40.0  # JOS limits are unpublished
VENDER_ID = "10088001"
# Gateway error codes: "21" (invalid app_key) and "66" (busy, SDKs retry) are documented; the
# others are unverified choices.
INVALID_APP_KEY = ("21", "key={} 信息无效", "Invalid app_key")
INVALID_SIGN = ("14", "签名无效", "Invalid signature")
INVALID_TOKEN = ("19", "access_token无效或已过期", "Invalid or expired access_token")
THROTTLED = ("71", "调用频率超过限制", "Call rate limit exceeded")
BAD_PARAMETER = ("61", "参数错误", "Invalid parameter")
# orderType: 22 = SOP (the merchant stocks and ships), 21 = FBP (stocked in JD's warehouses, JD
# ships and invoices: JD's self-operated fulfilment for a POP shop). Codes unverified.
ORDER_TYPE_SOP, ORDER_TYPE_FBP = "22", "21"
PLATFORM_COUPON_TYPE = "41-京东券优惠"
SELLER_COUPON_TYPE = "30-单品促销优惠"


class JdGatewayError(Exception):
    def __init__(self, error: tuple[str, str, str], detail: str = "") -> None:
        super().__init__(error[2])
        code, zh, en = error
        self.body = {"code": code, "zh_desc": zh + (f": {detail}" if detail else ""), "en_desc": en}


class JdBusinessError(Exception):
    """A `code:"0"` answer whose `apiResult.success` is false."""

    def __init__(self, chinese: str, english: str, number: int = 1) -> None:
        super().__init__(english)
        self.api_result = {
            "success": False,
            "chineseErrCode": chinese,
            "englishErrCode": english,
            "numberCode": number,
        }


ORDER_STATE = {  # JD lists orders once paid; one refunded before shipping shows as cancelled
    "cancelled": "TRADE_CANCELED",
    "refunded": "TRADE_CANCELED",
    "completed": "FINISHED_L",
    "shipped": "WAIT_GOODS_RECEIVE_CONFIRM",
    "paid": "WAIT_SELLER_STOCK_OUT",
    "unpaid": "WAIT_SELLER_STOCK_OUT",
}


def order_state(state: OrderState) -> str:
    return ORDER_STATE[stage(state)]


def _sku_id(index: int) -> str:
    return str(20_000_000 + index)


def render_order(order: Order, state: OrderState) -> Record:
    """An order as enSearch returns it, every field a string (the handler keeps the requested ones)."""
    goods_before_discount = sum(line.unit_price_fen * line.quantity for line in order.lines)
    seller_price = goods_before_discount - order.discount_fen
    ended = state.completed_at or state.cancelled_at or (state.refunds[-1].at if state.refunds else None)
    coupons = [  # the shop's per-item promotions name JD's skuId; JD's own coupons do not
        {
            "orderId": order.order_id,
            "skuId": _sku_id(index),
            "couponType": SELLER_COUPON_TYPE,
            "couponPrice": yuan(line.discount_fen),
        }
        for index, line in enumerate(order.lines)
        if line.discount_fen
    ]
    if order.platform_discount_fen:
        coupons.append(
            {
                "orderId": order.order_id,
                "skuId": "",
                "couponType": PLATFORM_COUPON_TYPE,
                "couponPrice": yuan(order.platform_discount_fen),
            }
        )
    salt = order.order_id
    return {
        "orderId": order.order_id,
        "venderId": VENDER_ID,
        "orderType": ORDER_TYPE_FBP if order.platform_fulfilled else ORDER_TYPE_SOP,
        "payType": "4-在线支付",
        "orderTotalPrice": yuan(goods_before_discount),
        "orderSellerPrice": yuan(seller_price),
        "orderPayment": yuan(seller_price + order.shipping_fen - order.platform_discount_fen),
        "freightPrice": yuan(order.shipping_fen),
        "sellerDiscount": yuan(order.discount_fen),
        "balanceUsed": "0.00",
        "orderState": order_state(state),
        "orderStateRemark": "",
        "orderStartTime": format_cst(order.created_at),
        "orderEndTime": format_cst(ended) if ended else "",
        "paymentConfirmTime": format_cst(state.paid_at) if state.paid_at else "",
        "modified": format_cst(state.modified_at),
        "open_id_buyer": order.account_id or "",
        "consigneeInfo": {
            "fullname": cipher(order.receiver_name, salt, "JD{}=="),
            "telephone": "",
            "mobile": cipher(order.receiver_phone, salt, "JD{}=="),
            "fullAddress": cipher(order.receiver_address, salt, "JD{}=="),
            "province": order.receiver_city or "",
            "city": order.receiver_city or "",
            "county": "",
            "desen_telephone": "",
            "desen_mobile": masked_phone(order.receiver_phone) or "",
        },
        "itemInfoList": [
            {
                "skuId": _sku_id(index),
                "outerSkuId": line.sku,
                "skuName": line.title,
                "jdPrice": yuan(line.unit_price_fen),
                "wareId": str(10_000_000 + sum(line.sku.encode())),
                "itemTotal": str(line.quantity),
                "productNo": line.line_id,
            }
            for index, line in enumerate(order.lines)
        ],
        "couponDetailList": coupons,
        "storeOrder": "",
        "orderSource": "移动端订单",
    }


def _restamp(record: Record, modified: datetime) -> Record:
    return {**record, "modified": format_cst(modified)}


def _parse_timestamp(text: str) -> datetime:
    """`yyyy-MM-dd HH:mm:ss` (Beijing) or the C# SDK's `yyyy-MM-dd HH:mm:ss.fff+0800`."""
    if "+" in text:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f%z").astimezone(UTC)
    return parse_cst(text)


def _one_month_after(start: datetime) -> datetime:
    local = start.astimezone(CHINA_TZ)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = local.day
    while True:
        try:
            return local.replace(year=year, month=month, day=day).astimezone(UTC)
        except ValueError:  # 31 Jan + 1 month -> 28/29 Feb
            day -= 1


class JdSimulator:
    prefix = "/jd"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.settings = settings
        self.clock = PlatformClock(settings)
        shop_ids = [shop.shop_id for shop in world.shops("jd")]
        self.tokens = {marketplace_token(shop_id): shop_id for shop_id in shop_ids}
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        self.feed = OrderFeed(world, settings, shop_ids, render_order, _restamp)

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != "/routerjson":
            return SimResponse.json({"error": "not found"}, status=404)
        params = request.form
        try:
            api = self._authenticate(params)
            result = self._call(api, params)
        except JdGatewayError as exc:
            return SimResponse.json({"error_response": exc.body})
        except JdBusinessError as exc:
            result = {"orderInfoList": [], "orderTotal": 0, "apiResult": exc.api_result}
        return SimResponse.json({api.root: {"code": "0", "searchorderinfo_result": result}})

    def _authenticate(self, params: dict[str, str]) -> SearchApi:
        app_key = params.get("app_key", "")
        if app_key != JD_APP_KEY:
            code, zh, en = INVALID_APP_KEY
            raise JdGatewayError((code, zh.format(app_key), en))
        if sign(params, JD_APP_SECRET, "md5") != params.get("sign", "").upper():
            raise JdGatewayError(INVALID_SIGN)
        try:
            sent = _parse_timestamp(params.get("timestamp", ""))
        except ValueError:
            raise JdGatewayError(BAD_PARAMETER, "timestamp") from None
        if self.clock.rejects(sent):
            raise JdGatewayError(BAD_PARAMETER, "timestamp differs from server time by more than 10 min")
        if params.get("v") != "2.0":
            raise JdGatewayError(BAD_PARAMETER, "v must be 2.0")
        api = SEARCH_APIS.get(params.get("method", ""))
        if api is None:
            raise JdGatewayError(BAD_PARAMETER, f"the sandbox serves {', '.join(SEARCH_APIS)} only")
        if params.get("access_token", "") not in self.tokens:
            raise JdGatewayError(INVALID_TOKEN)
        return api

    def _call(self, api: SearchApi, params: dict[str, str]) -> dict[str, Any]:
        shop_id = self.tokens[params["access_token"]]
        if self.settings.rate_limits and not self.bucket.take():
            raise JdGatewayError(THROTTLED)
        try:
            business = json.loads(params.get("360buy_param_json") or "{}")
        except ValueError:
            raise JdGatewayError(BAD_PARAMETER, "360buy_param_json is not JSON") from None
        values = {k: str(v) for k, v in business.items()}  # SDKs quote every value; accept numbers too
        fields = [f.strip() for f in values.get(api.fields, "").split(",") if f.strip()]
        if not fields:
            raise JdBusinessError(f"{api.fields}不能为空", f"{api.fields} is required")
        try:
            start, end = parse_cst(values[api.start]), parse_cst(values[api.end])
            page, page_size = int(values.get("page", "1")), int(values.get(api.page_size, "20"))
        except (KeyError, ValueError) as exc:
            raise JdBusinessError("参数错误", f"dates, page or page size: {exc}") from None
        if end < start or end > _one_month_after(start):
            raise JdBusinessError("查询时间跨度不能超过1个月", "the date range may not exceed one month")
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise JdBusinessError("page_size不能超过50", "page >= 1 and page_size 1-50")
        if values.get("dateType", "0") != "0":
            raise JdBusinessError(
                "不支持的dateType", "the sandbox filters on modified time (dateType=0) only"
            )
        states = {s for s in values.get(api.state, "").split(",") if s}

        def served(record: Record) -> bool:
            fbp = record["orderType"] == ORDER_TYPE_FBP
            return fbp == api.fbp and (not states or record["orderState"] in states)

        records, total = self.feed.page(shop_id, start, end, (page - 1) * page_size, page_size, where=served)
        return {
            "orderInfoList": [{k: v for k, v in r.items() if k in fields} for r in records],
            "orderTotal": total,
            "apiResult": {
                "success": True,
                "chineseErrCode": "成功",
                "englishErrCode": "success",
                "numberCode": 0,
            },
            "requestId": uuid.uuid4().hex[:12],
        }
