"""1688 (Alibaba open platform) simulator: `alibaba.trade.getSellerOrderList` for the brand's 1688
wholesale shop, whose buyers are businesses (world.businesses).

What it enforces, after channel-protocols.md §9: POST (or GET) to
`/openapi/param2/1/com.alibaba.trade/<api>/<appKey>`; the appKey in the URL must be a known app;
`_aop_signature` = HMAC-SHA1 over the URL path + the sorted name+value pairs, upper hex; the
`access_token` must be one issued to that app and names the shop. `modifyStartTime` and
`modifyEndTime` (`yyyyMMddHHmmssSSS+0800`, parsed strictly, bounds inclusive) are required, the
window at most MAX_WINDOW; `page` from 1, `pageSize` 1..MAX_PAGE_SIZE; optional `orderStatus`.
Orders come newest-modified first (simkit.OrderFeed) in `{"result": [...], "totalRecord": N}`.
The order id is `baseInfo.idOfStr` (64-bit) and also `baseInfo.id` as a JSON *number*, so a
client parsing numbers as floats gets it wrong; line ids likewise (`subItemIDString`/`subItemID`).
Money is yuan strings; buyer contact and consignee come in plain text, as 1688 gives the seller.

Unverified choices, kept as module constants: the window and page caps, the rate limit, the error
codes and ERROR_HTTP_STATUS (the reference does not say whether errors come in an HTTP 200 or a
4xx), the name `totalRecord`, money as strings rather than numbers, yuan for `discount` (1688 may
give it in fen), how a refunded order shows (status `cancel` with payTime set, `refund` = the
refunded amount and `refundStatus` `refundsuccess`), the `tradeType` value, and omitting the
times of events that have not happened.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from connectors.alibaba_1688.client import NAMESPACE, format_time, parse_time
from connectors.alibaba_1688.signing import SIGNATURE_PARAM, sign
from connectors.sandbox.credentials import ALIBABA_1688_APP_KEY, ALIBABA_1688_APP_SECRET, marketplace_token
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import OrderFeed, Record, TokenBucket, stage, yuan
from connectors.sandbox.world import Order, OrderState, World

METHOD = "alibaba.trade.getSellerOrderList"
APPS = {ALIBABA_1688_APP_KEY: ALIBABA_1688_APP_SECRET}  # app key -> secret
MAX_WINDOW = timedelta(days=31)
MAX_PAGE_SIZE = 50
CALLS_PER_SECOND = 20.0
ERROR_HTTP_STATUS = 400  # 200 would be the other reading; the connector reads both
# Errors as (code, message).
APP_KEY_NOT_EXIST = ("gw.AppKeyNotExist", "AppKey is not exist")
SIGNATURE_INVALID = ("gw.SignatureInvalid", "Signature is invalid")
INVALID_TOKEN = ("gw.InvalidAccessToken", "Invalid access_token, or it does not belong to this app")
QPS_OVERRUN = ("gw.QpsOverrun", "The API call frequency exceeds the limit")
API_UNSUPPORTED = ("gw.APIUnsupported", "The API is not supported")
PARAMETER_INVALID = ("gw.ParameterInvalid", "Invalid parameter")
TRADE_TYPE = "50060"  # 交易4.0 担保交易 (unverified)
SELLER_ID = "b2b-brand-seller"
_PATH = re.compile(r"/openapi/(param2/1/([^/]+)/([^/]+)/([^/]+))")


class AopError(Exception):
    def __init__(self, error: tuple[str, str], detail: str = "") -> None:
        super().__init__(error[1])
        self.body = {"error_code": error[0], "error_message": error[1] + (f": {detail}" if detail else "")}


ORDER_STATUS = {  # cancel: lapsed unpaid, or refunded in full before shipping
    "cancelled": "cancel",
    "refunded": "cancel",
    "completed": "success",
    "shipped": "waitbuyerreceive",
    "paid": "waitsellersend",
    "unpaid": "waitbuyerpay",
}


def order_status(state: OrderState) -> str:
    return ORDER_STATUS[stage(state)]


def _times(**times: datetime | None) -> dict[str, str]:
    return {name: format_time(ts) for name, ts in times.items() if ts is not None}


def render_order(order: Order, state: OrderState, company: str | None = None) -> Record:
    status = order_status(state)
    refunded = state.refunded_lines
    goods = sum(line.unit_price_fen * line.quantity for line in order.lines)
    contact = {"name": order.receiver_name, "phone": order.receiver_phone, "mobile": order.receiver_phone}
    base: dict[str, Any] = {
        "id": int(order.order_id),  # a JSON number > 2^53: only idOfStr is safe
        "idOfStr": order.order_id,
        "status": status,
        "tradeType": TRADE_TYPE,
        **_times(
            createTime=order.created_at,
            payTime=state.paid_at,
            allDeliveredTime=state.shipped_at,
            completeTime=state.completed_at,
            modifyTime=state.modified_at,
        ),
        "totalAmount": yuan(order.total_fen),
        "sumProductPayment": yuan(goods),
        "shippingFee": yuan(order.shipping_fen),
        "discount": yuan(order.discount_fen),
        "refund": yuan(state.refunded_fen),
        "buyerID": order.account_id,
        "buyerLoginId": order.account_id,
        "buyerContact": {**contact, "companyName": company},
        "sellerID": SELLER_ID,
    }
    if state.refunds:
        base["refundStatus"] = "refundsuccess"
    return {
        "baseInfo": base,
        "productItems": [
            {
                "name": line.title,
                "productID": str(600_000_000_000 + sum(line.sku.encode())),
                "skuID": str(5_000_000_000_000 + sum(line.sku.encode()) * 7),
                "cargoNumber": line.sku,
                "subItemID": int(line.line_id),
                "subItemIDString": line.line_id,
                "quantity": line.quantity,
                "price": yuan(line.unit_price_fen),
                "itemAmount": yuan(line.amount_fen),
                "status": status,
                **({"refundStatus": "refundsuccess"} if index in refunded else {}),
            }
            for index, line in enumerate(order.lines)
        ],
        "nativeLogistics": {
            "address": order.receiver_address,
            "contactPerson": order.receiver_name,
            "mobile": order.receiver_phone,
            "province": order.receiver_city,
            "city": order.receiver_city,
            "area": "",
        },
    }


def _restamp(record: Record, modified: datetime) -> Record:
    return {**record, "baseInfo": {**record["baseInfo"], "modifyTime": format_time(modified)}}


class Alibaba1688Simulator:
    prefix = "/1688"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.settings = settings
        shop_ids = [shop.shop_id for shop in world.shops("alibaba_1688")]
        # token -> (the app it was issued to, the shop it opens)
        self.tokens = {marketplace_token(s): (ALIBABA_1688_APP_KEY, s) for s in shop_ids}
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        companies = {b.business_id: b.name for b in world.businesses}
        self.feed = OrderFeed(
            world,
            settings,
            shop_ids,
            lambda order, state: render_order(order, state, companies.get(order.business_id or "")),
            _restamp,
        )

    def handle(self, request: SimRequest) -> SimResponse:
        match = _PATH.fullmatch(request.path)
        if match is None:
            return SimResponse.json({"error_code": "404", "error_message": "Not Found"}, status=404)
        try:
            body = self._call(request.form, *match.groups())
        except AopError as exc:
            return SimResponse.json(exc.body, status=ERROR_HTTP_STATUS)
        return SimResponse.json(body)

    def _call(self, params: dict[str, str], path: str, namespace: str, api: str, app_key: str) -> Record:
        secret = APPS.get(app_key)
        if secret is None:
            raise AopError(APP_KEY_NOT_EXIST, app_key)
        if sign(path, params, secret) != params.get(SIGNATURE_PARAM, "").upper():
            raise AopError(SIGNATURE_INVALID)
        issued = self.tokens.get(params.get("access_token", ""))
        if issued is None or issued[0] != app_key:
            raise AopError(INVALID_TOKEN)
        if (namespace, api) != (NAMESPACE, METHOD):
            raise AopError(API_UNSUPPORTED, f"the sandbox serves {NAMESPACE}:{METHOD} only")
        if self.settings.rate_limits and not self.bucket.take():
            raise AopError(QPS_OVERRUN)
        try:
            start, end = parse_time(params["modifyStartTime"]), parse_time(params["modifyEndTime"])
        except KeyError as exc:
            raise AopError(PARAMETER_INVALID, f"{exc.args[0]} is required") from None
        except ValueError as exc:
            raise AopError(PARAMETER_INVALID, f"modifyStartTime/modifyEndTime: {exc}") from None
        if end < start or end - start > MAX_WINDOW:
            raise AopError(
                PARAMETER_INVALID,
                f"modifyEndTime must be after modifyStartTime, within {MAX_WINDOW.days} days",
            )
        try:
            page, page_size = int(params.get("page", "1")), int(params.get("pageSize", "20"))
        except ValueError:
            raise AopError(PARAMETER_INVALID, "page/pageSize") from None
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise AopError(PARAMETER_INVALID, f"page >= 1, pageSize 1-{MAX_PAGE_SIZE}")
        wanted = params.get("orderStatus")
        records, total = self.feed.page(
            issued[1],
            start,
            end,
            (page - 1) * page_size,
            page_size,
            where=(lambda r: r["baseInfo"]["status"] == wanted) if wanted else None,
        )
        return {"result": records, "totalRecord": total}
