"""Meituan O2O simulator: the brand's 团购 voucher orders, pulled by day sequence.

What it enforces, after channel-protocols.md §8: GET (or POST form) `/api/v1/order/<api>` with the
system parameters `app_id`, `timestamp` (epoch seconds, ±10 min of the real clock) and `sig`, the
lower-hex MD5 of the URL the request was actually sent to (scheme + host + path, rebuilt from the
request, so a request signed for another path or host fails) + `?` + the other parameters sorted
as `k=v&…` + the app secret. There is no window list: `order/getOrderDaySeq` gives a store's
latest day sequence, `order/getOrderIdByDaySeq` the order id of one sequence number,
`order/getOrderDetail` the order. Success is `{"data": …}`, failure `{"data": "ng", "error":
{"code", "msg"}}`, both HTTP 200 (unverified).

Unverified choices, kept as module constants: every error code but 767, the rate limit; that
`getOrderDaySeq` takes an optional `date_time` (yyyymmdd, default today in China) and answers 0
for a day without orders; the order fields: `order_id` (string), `app_poi_code`, `day_seq`,
`ctime`/`utime` (epoch s; `utime` also moves when a voucher is redeemed, which the world's generic
OrderState does not count), `status` (STATUS_*), `total`/`original_price` (fen), `detail[]`
(`deal_id`, `deal_name`, `quantity`, `price` fen), `coupons[]` (`code`, `status` unused / redeemed
/ refunded / expired, `price` fen, `use_time`, `use_poi_code`, `refund_time`; 0 = not happened),
`user_id` (app-scoped buyer id) and `recipient_phone`, a virtual number (隐私号), never the real one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from connectors.common.timeutil import china_date
from connectors.meituan.signing import SIGNATURE_PARAM, sign
from connectors.sandbox.catalog import MEITUAN_POI_CODES
from connectors.sandbox.credentials import MEITUAN_APP_ID, MEITUAN_APP_SECRET
from connectors.sandbox.server import SandboxSettings, SimRequest, SimResponse
from connectors.sandbox.simkit import PlatformClock, Record, TokenBucket
from connectors.sandbox.world import Order, OrderState, World, visible_orders

API = "/api/v1/"
CALLS_PER_SECOND = 50.0  # unverified
# Error codes (code, msg). 767 is the reference's "token invalid"; the others are unverified.
PARAMETER_ERROR = 700
UNKNOWN_APP = (701, "app_id 不存在")
INVALID_SIG = (703, "签名验证错误")
BAD_TIMESTAMP = (705, "timestamp 与服务器时间相差超过10分钟")
THROTTLED = (711, "调用频率超过限制")
UNKNOWN_ORDER = 808
TOKEN_INVALID = 767  # ISV mode with access_token; the sandbox app signs with its secret only
# Order status (unverified): 4 paid, vouchers still open; 8 done (every voucher settled, one used);
# 9 cancelled (every voucher refunded or expired).
STATUS_PAID, STATUS_DONE, STATUS_CANCELLED = 4, 8, 9


class MeituanError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def _epoch(ts: datetime | None) -> int:
    return int(ts.timestamp()) if ts else 0


def virtual_phone(order_id: str) -> str:
    """A 隐私号: a platform relay number with an extension, not the buyer's phone."""
    digest = int(hashlib.sha256(f"relay|{order_id}".encode()).hexdigest(), 16)
    return f"170{digest % 10**8:08d}_{digest // 10**8 % 10**4:04d}"


def render_order(order: Order, state: OrderState, now: datetime, day_seq: int) -> Record:
    line = order.lines[0]
    coupons, settled, refunded, used = [], 0, 0, []
    for voucher in order.vouchers:
        status, use_time, use_poi, refund_time = "unused", 0, "", 0
        if voucher.redeemed_at is not None and voucher.redeemed_at < now:
            status, use_time = "redeemed", _epoch(voucher.redeemed_at)
            use_poi = MEITUAN_POI_CODES[voucher.redeemed_store_id or ""]
            used.append(voucher.redeemed_at)
        elif voucher.refunded_at is not None and voucher.refunded_at < now:
            status, refund_time = ("expired" if voucher.expired else "refunded"), _epoch(voucher.refunded_at)
            refunded += 1
        settled += status != "unused"
        coupons.append(
            {
                "code": voucher.code,
                "status": status,
                "price": line.unit_price_fen,
                "use_time": use_time,
                "use_poi_code": use_poi,
                "refund_time": refund_time,
            }
        )
    if refunded == len(coupons):
        status_code = STATUS_CANCELLED
    elif settled == len(coupons):
        status_code = STATUS_DONE
    else:
        status_code = STATUS_PAID
    return {
        "order_id": order.order_id,
        "app_poi_code": MEITUAN_POI_CODES[order.store_id or ""],
        "day_seq": day_seq,
        "ctime": _epoch(order.created_at),
        "utime": _epoch(max([state.modified_at, *used])),
        "status": status_code,
        "total": order.total_fen,
        "original_price": sum(x.unit_price_fen * x.quantity for x in order.lines),
        "user_id": order.account_id or "",
        "recipient_phone": virtual_phone(order.order_id),
        "detail": [
            {"deal_id": x.sku, "deal_name": x.title, "quantity": x.quantity, "price": x.unit_price_fen}
            for x in order.lines
        ],
        "coupons": coupons,
    }


def _day_number(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


class MeituanSimulator:
    prefix = "/meituan"

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.settings = settings
        self.clock = PlatformClock(settings)
        self.now = settings.now or world.as_of
        self.bucket = TokenBucket(CALLS_PER_SECOND)
        self.orders: dict[str, Record] = {}
        self.days: dict[tuple[str, int], list[str]] = {}  # (app_poi_code, yyyymmdd) -> ids by day_seq
        for shop in world.shops("meituan"):
            for order, state in visible_orders(world.orders_for(shop.shop_id), self.now):
                ids = self.days.setdefault(
                    (MEITUAN_POI_CODES[order.store_id or ""], _day_number(china_date(order.created_at))), []
                )
                ids.append(order.order_id)  # world.orders is sorted by creation time
                self.orders[order.order_id] = render_order(order, state, self.now, len(ids))

    def handle(self, request: SimRequest) -> SimResponse:
        handler = {
            "order/getOrderDaySeq": self._day_seq,
            "order/getOrderIdByDaySeq": self._order_id_by_day_seq,
            "order/getOrderDetail": self._order_detail,
        }.get(request.path.removeprefix(API))
        if handler is None or not request.path.startswith(API) or request.method not in ("GET", "POST"):
            return SimResponse.json({"error": "not found"}, status=404)
        params = request.form
        try:
            self._authenticate(request, params)
            if self.settings.rate_limits and not self.bucket.take():
                raise MeituanError(*THROTTLED)
            data = handler(params)
        except MeituanError as exc:
            return SimResponse.json({"data": "ng", "error": {"code": exc.code, "msg": exc.msg}})
        return SimResponse.json({"data": data})

    def _authenticate(self, request: SimRequest, params: dict[str, str]) -> None:
        if params.get("app_id") != MEITUAN_APP_ID:
            raise MeituanError(*UNKNOWN_APP)
        url = request.base_url + request.path  # the URL this request was actually sent to
        if params.get(SIGNATURE_PARAM) != sign(url, params, MEITUAN_APP_SECRET):
            raise MeituanError(*INVALID_SIG)
        stamp = params.get("timestamp", "")
        if not stamp.isdigit() or self.clock.rejects(datetime.fromtimestamp(int(stamp), UTC)):
            raise MeituanError(*BAD_TIMESTAMP)

    def _poi(self, params: dict[str, str]) -> str:
        poi = params.get("app_poi_code", "")
        if poi not in MEITUAN_POI_CODES.values():
            raise MeituanError(PARAMETER_ERROR, f"app_poi_code '{poi}' 不存在")
        return poi

    def _int(self, params: dict[str, str], name: str, default: int | None = None) -> int:
        value = params.get(name)
        if value is None and default is not None:
            return default
        if value is None or not value.isdigit():
            raise MeituanError(PARAMETER_ERROR, f"{name} 参数错误")
        return int(value)

    def _day(self, params: dict[str, str]) -> int:
        day = self._int(params, "date_time", _day_number(china_date(self.now)))
        try:
            date(day // 10_000, day // 100 % 100, day % 100)
        except ValueError:
            raise MeituanError(PARAMETER_ERROR, "date_time 须为 yyyymmdd") from None
        return day

    def _day_seq(self, params: dict[str, str]) -> dict[str, Any]:
        return {"day_seq": len(self.days.get((self._poi(params), self._day(params)), []))}

    def _order_id_by_day_seq(self, params: dict[str, str]) -> dict[str, Any]:
        ids = self.days.get((self._poi(params), self._day(params)), [])
        seq = self._int(params, "day_seq")
        if not 1 <= seq <= len(ids):
            raise MeituanError(UNKNOWN_ORDER, f"day_seq {seq} 不存在")
        return {"order_id": ids[seq - 1]}

    def _order_detail(self, params: dict[str, str]) -> dict[str, Any]:
        record = self.orders.get(params.get("order_id", ""))
        if record is None:
            raise MeituanError(UNKNOWN_ORDER, "订单不存在")
        return record
