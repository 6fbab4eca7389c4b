"""Tmall/Taobao trades over TOP's `taobao.trades.sold.increment.get` for the peers benchmark
(channel-protocols.md §2).

The replay: the trades the sandbox's TOP simulator serves for the small world, asked for with the
fields our connector asks for (so receivers arrive as ciphertexts with an oaid, and the connector's
PII scrubbing has its real work), replicated with fresh `tid`s, sub-order `oid`s and refund ids,
`modified` spread over the window and every other timestamp moved with it. The gateway path takes
its parameters from the POST form and the query string merged, checks the app key, the signature
(md5, hmac or hmac-sha256, over every parameter), the session, the method, `format=json`, that
`fields` is there, the window (at most one day, end after start; bounds inclusive, China time) and
the paging (`page_size` 1–100, default 40; `page_no` from 1), and answers an error with TOP's
`error_response` in an HTTP 200 as the simulator does (the window error is the simulator's own).
Not checked: the timestamp's skew (everything is on loopback, signed by this machine's clock), and
`fields` does not select: every trade carries what our connector asks for, and every loader asks
for exactly that. The trades are kept in modified order, so a window is two bisections and a page
(newest-modified first, `total_results`, or `has_next` with `use_has_next=true`, in TOP's
non-simplified envelope `{"trades": {"trade": [...]}}` with `orders: {"order": [...]}` inside each
trade) is one bytes join.

The peers' request loop: one signed POST per page with every parameter in the form, as our client
sends them, over the daily windows our connector pulls (00:00:00 to 23:59:59 China time), pages 1
to the last; how many pages comes from the first page's `total_results`, found in its bytes (so
download-only still parses nothing). Our connector pages each window backwards after reading the
total from page 1, so it sends one request more than the peers per window of more than one page.

dlt's rest_api cannot say "sign every call" or "one request loop per day" in its config alone, so it
gets what a dlt user would write: an `AuthConfigBase` that signs each prepared request after the
paginator set `page_no` (TOP signs every parameter); a plain dlt resource yielding the daily
windows, deselected, which the `trades` endpoint resolves `start_modified`/`end_modified` from (one
paginated loop per window, all into the `trades` table); and a `page_number` paginator from 1 that
stops on TOP's `has_next` (`use_has_next=true`, TOP's documented faster mode): its `total_path`
means a number of pages, while TOP's `total_results` counts trades. It sends GET with every
parameter in the query string (TOP accepts GET; rest_api's paginator writes `page_no` into the
query), so the session is in the URL where our client keeps it in the body; and it pages forwards,
which on the real platform can skip a trade modified while paging, not on this replay.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from benchmarks.peers.base import RESULTS_DIR, WORLD_FIRST, WORLD_LAST, Ctx, Platform, Replay, sandbox, window
from benchmarks.peers.replay import IDS_PER_RECORD, ReplayHandler, Slots, Template, modified_times, replicate
from connectors.common.paging import last_page_number
from connectors.common.signing import SIGN_METHODS, sign
from connectors.common.timeutil import china_days_window, format_cst, parse_cst, split_window

if TYPE_CHECKING:
    import pyarrow as pa
    import requests

    from connectors.config import ShopConfig
    from connectors.top.client import TopClient

METHOD = "taobao.trades.sold.increment.get"
ROOT = "trades_sold_increment_get_response"
GATEWAY_PATH = "/router/rest"
APP_KEY = "23000001"  # the replay server's made-up app
APP_SECRET = "peers-benchmark-top-secret"  # noqa: S105 - the replay server's made-up secret
SESSION = "peers-benchmark-session"
PAGE_SIZE = 100  # TOP's maximum page_size, and our connector's
DEFAULT_PAGE_SIZE = 40
MAX_WINDOW = timedelta(days=1)
# The fields our connector asks for (connectors/top/source.py FIELDS; the replay checks they still
# agree). Not imported: that module brings pyarrow, which download-only's peak RSS must not carry.
FIELDS = (
    "tid,status,type,created,pay_time,consign_time,end_time,modified,total_fee,discount_fee,adjust_fee,"
    "post_fee,payment,received_payment,buyer_open_uid,buyer_nick,seller_nick,receiver_name,receiver_mobile,"
    "receiver_phone,receiver_address,receiver_state,receiver_city,receiver_district,oaid,trade_from,orders"
)
# The sub-order fields TOP returns when `fields` asks for whole `orders` (§2.6; the replay checks the
# trades carry no other), and which fields are numbers (ids, counts): the rest are text, amounts and
# China times included. The Arrow loader's schema.
SUB_ORDER_FIELDS = (
    "oid,num_iid,sku_id,outer_iid,outer_sku_id,title,price,num,total_fee,discount_fee,adjust_fee,payment,"
    "status,refund_status,refund_id,consign_time,end_time"
)
INTEGER_FIELDS = frozenset({"tid", "oid", "num_iid", "num"})
TRADE_MARK = b'"tid":'  # once per trade (sub-orders carry `oid`)
TOTAL = re.compile(rb'"total_results":(\d+)')
CST_FIELDS = frozenset({"created", "pay_time", "consign_time", "end_time", "modified"})  # trade and sub-order
# Fresh ids as long as the simulator's: 19-digit tids and oids (beyond 2^53), 12-digit refund ids.
TRADE_ID0, ORDER_ID0, REFUND_ID0 = 3_700_000_000_000_000_000, 3_950_000_000_000_000_000, 880_000_000_000
T = TypeVar("T")


def _windows(start: datetime, end: datetime) -> list[tuple[str, str]]:
    """[start, end) in daily windows as our connector asks for them, TOP's inclusive China-time bounds."""
    return [
        (format_cst(lower), format_cst(upper - timedelta(seconds=1)))
        for lower, upper in split_window(start, end, MAX_WINDOW)
    ]


def _signed(
    params: dict[str, Any], app_key: str = APP_KEY, app_secret: str = APP_SECRET, session: str = SESSION
) -> dict[str, str]:
    """A call's parameters (`method` among them) as our TOP client sends them: its system parameters,
    a fresh timestamp and the signature (`TopClient.prepare`), so every loader signs as we do."""
    business = dict(params)
    return dict(_client(app_key, app_secret, session).prepare(business.pop("method"), business)["data"])


@functools.cache
def _client(app_key: str, app_secret: str, session: str) -> TopClient:
    from connectors.common.http import HttpClient
    from connectors.config import ShopConfig
    from connectors.top.client import TopClient

    credentials = {"app_key": app_key, "app_secret": app_secret, "session": session}
    shop = ShopConfig("tmall", "peers-benchmark", credentials=credentials)
    return TopClient(shop, HttpClient(shop.channel, shop.shop_id))


def _every_page(
    call: Callable[[dict[str, Any]], tuple[T, int]], windows: list[tuple[str, str]]
) -> Iterator[T]:
    """Every page of each window, page 1 (which tells the window's total) to the last: `call(params)`
    makes one call with the business parameters and returns its answer and the total."""
    for start, end in windows:
        page_no, last = 1, 1
        while page_no <= last:
            params = {
                "method": METHOD,
                "fields": FIELDS,
                "start_modified": start,
                "end_modified": end,
                "page_no": page_no,
                "page_size": PAGE_SIZE,
            }
            answer, total = call(params)
            if page_no == 1:
                last = last_page_number(total, PAGE_SIZE)
            yield answer
            page_no += 1


# --- the trades -----------------------------------------------------------------------------------


def _sandbox_trades() -> list[dict[str, Any]]:
    """Every trade the sandbox's TOP simulator serves for a small world, every Tmall and Taobao shop,
    asked for day by day (TOP's window cap) with the fields our connector asks for."""
    from connectors.sandbox.credentials import TOP_APP_KEY, TOP_APP_SECRET
    from connectors.sandbox.server import SimRequest
    from connectors.sandbox.top_sim import TopSimulator

    sim = TopSimulator(*sandbox())
    days = _windows(*china_days_window(WORLD_FIRST, WORLD_LAST))
    trades: list[dict[str, Any]] = []
    for session in sorted(sim.shops):

        def call(params: dict[str, Any], session: str = session) -> tuple[dict[str, Any], int]:
            form = _signed(params, TOP_APP_KEY, TOP_APP_SECRET, session)  # checked against the sim's clock
            response = sim.handle(
                SimRequest(
                    "POST",
                    GATEWAY_PATH,
                    {},
                    {"content-type": "application/x-www-form-urlencoded"},
                    urlencode(form).encode(),
                    "http://sandbox/top",
                )
            )
            body = json.loads(response.body)
            assert ROOT in body, response.body[:300]
            return body[ROOT], body[ROOT]["total_results"]

        for page in _every_page(call, days):
            trades += (page.get("trades") or {}).get("trade", [])
    if not trades:
        raise SystemExit("the sandbox world has no Tmall or Taobao trades")
    return trades


def _template(trade: dict[str, Any]) -> Template:
    slots = Slots(parse_cst(trade["modified"]))
    trade["tid"] = slots.id("TID", TRADE_ID0)
    sub_orders = trade["orders"]["order"]
    refunds = list(dict.fromkeys(sub["refund_id"] for sub in sub_orders if "refund_id" in sub))
    if max(len(sub_orders), len(refunds)) > IDS_PER_RECORD:
        raise ValueError(f"trade {trade['tid']} has more than {IDS_PER_RECORD} sub-orders")
    for k, sub in enumerate(sub_orders):
        sub["oid"] = slots.id(f"O{k}", ORDER_ID0 + k, IDS_PER_RECORD)
        if "refund_id" in sub:  # one refund may cover several sub-orders: the same fresh id for each
            r = refunds.index(sub["refund_id"])
            sub["refund_id"] = slots.id(f"R{r}", REFUND_ID0 + r, IDS_PER_RECORD, text=True)
    slots.timestamps(trade, CST_FIELDS.__contains__, parse_cst)
    return slots.template(trade)


def _arrow_type() -> pa.DataType:
    """A trade as one Arrow struct: the fields in FIELDS' order, `orders` as TOP nests them."""
    import pyarrow as pa

    def fields(names: str) -> list[tuple[str, pa.DataType]]:
        return [(name, pa.int64() if name in INTEGER_FIELDS else pa.string()) for name in names.split(",")]

    sub_order = pa.struct(fields(SUB_ORDER_FIELDS))
    trade = [field for field in fields(FIELDS) if field[0] != "orders"]
    return pa.struct([*trade, ("orders", pa.struct([("order", pa.list_(sub_order))]))])


def _unknown_fields(trades: list[dict[str, Any]]) -> set[str]:
    """Fields of the sandbox's trades that FIELDS and SUB_ORDER_FIELDS do not name."""
    trade_keys = {key for trade in trades for key in trade}
    sub_keys = {key for trade in trades for sub in trade["orders"]["order"] for key in sub}
    return (trade_keys - set(FIELDS.split(","))) | {
        f"orders.{key}" for key in sub_keys - set(SUB_ORDER_FIELDS.split(","))
    }


# --- the replay server ----------------------------------------------------------------------------


class _Refused(Exception):
    """A call TOP answers with an `error_response` (in an HTTP 200)."""

    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.error = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


class _Trades:
    """The replicas in modified order, with their modified times (epoch seconds) to bisect."""

    def __init__(self, trades: list[bytes], modified: list[datetime]) -> None:
        self.trades = trades
        self.seconds = [int(ts.timestamp()) for ts in modified]
        self.request_ids = itertools.count(1)

    def window(self, start: datetime, end: datetime) -> tuple[int, int]:
        """The slice [lo, hi) of the trades modified in [start, end] (both inclusive, as TOP's)."""
        return (
            bisect.bisect_left(self.seconds, int(start.timestamp())),
            bisect.bisect_right(self.seconds, int(end.timestamp())),
        )

    def page(self, lo: int, hi: int, page_no: int, page_size: int, has_next: bool) -> tuple[bytes, int]:
        """Page `page_no` of the window [lo, hi), newest-modified first, in TOP's envelope; and how
        many trades it holds."""
        top, bottom = hi - (page_no - 1) * page_size, max(lo, hi - page_no * page_size)
        trades = self.trades[bottom:top][::-1] if top > bottom else []
        count = (
            f'"has_next":{"true" if bottom > lo else "false"}' if has_next else f'"total_results":{hi - lo}'
        )
        listed = b'"trades":{"trade":[' + b",".join(trades) + b"]}" if trades else b'"trades":{}'
        request_id = f"{next(self.request_ids):x}".encode()
        body = b'{"%s":{%s,%s,"request_id":"%s"}}' % (ROOT.encode(), count.encode(), listed, request_id)
        return body, len(trades)


class _Handler(ReplayHandler):
    replay: _Trades
    window_error: tuple[int, str, str]  # the simulator's code for a window over one day

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer(url.path, dict(parse_qsl(url.query, keep_blank_values=True)), body)

    def answer(self, path: str, query: dict[str, str], body: bytes) -> None:
        if path != GATEWAY_PATH:
            return self.send(404, b'{"error":"not found"}')
        params = {**query, **dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))}
        try:
            page, trades = self._trades(params)
        except _Refused as refused:
            error = {k: v for k, v in refused.error.items() if v is not None}
            return self.send(200, json.dumps({"error_response": error}).encode())
        self.send(200, page)
        self.served.add(page, trades)

    def _trades(self, params: dict[str, str]) -> tuple[bytes, int]:
        if params.get("app_key") != APP_KEY:
            raise _Refused(29, "Invalid App Key", "isv.appkey-not-exists")
        sign_method = params.get("sign_method", "md5")
        if sign_method not in SIGN_METHODS:
            raise _Refused(41, "Invalid Arguments", "isv.invalid-parameter:sign_method")
        if not params.get("sign") or sign(params, APP_SECRET, sign_method) != params["sign"].upper():
            raise _Refused(25, "Invalid Signature")
        if (params.get("session") or params.get("access_token")) != SESSION:
            raise _Refused(27, "Invalid Session", "invalid-sessionkey")
        if params.get("method") != METHOD:
            raise _Refused(22, "Invalid Method", sub_msg=f"the replay serves {METHOD} only")
        if params.get("format", "xml") != "json":
            raise _Refused(23, "Invalid Format", sub_msg="the replay serves format=json only")
        if not params.get("fields"):
            raise _Refused(40, "Missing Required Arguments", "isv.missing-parameter", "fields")
        try:
            start, end = parse_cst(params["start_modified"]), parse_cst(params["end_modified"])
            page_no = int(params.get("page_no", 1))
            page_size = int(params.get("page_size", DEFAULT_PAGE_SIZE))
        except (KeyError, ValueError):
            raise _Refused(
                41, "Invalid Arguments", "isv.invalid-parameter", "start/end_modified, paging"
            ) from None
        if end <= start or end - start > MAX_WINDOW:
            code, msg, sub_code = self.window_error
            raise _Refused(
                code, msg, sub_code, "end_modified must be after start_modified and within one day of it"
            )
        if page_no < 1 or not 1 <= page_size <= PAGE_SIZE:
            raise _Refused(
                41, "Invalid Arguments", "isv.invalid-parameter", "page_size must be 1-100, page_no >= 1"
            )
        lo, hi = self.replay.window(start, end)
        return self.replay.page(lo, hi, page_no, page_size, params.get("use_has_next") == "true")


# --- what the loaders use -------------------------------------------------------------------------


class Top(Platform):
    name = "top"
    label = "TOP"
    title = "TOP (Tmall/Taobao) trades, taobao.trades.sold.increment.get"
    noun = "trade"
    results = RESULTS_DIR / "peers_top.md"
    page_size = PAGE_SIZE
    table = "trades"
    records_path = f"{ROOT}.trades.trade"
    record_mark = TRADE_MARK

    def replay(self, n: int) -> Replay:
        from connectors.sandbox.top_sim import WINDOW_ERROR
        from connectors.top.source import FIELDS as CONNECTOR_FIELDS

        if FIELDS != CONNECTOR_FIELDS:
            raise SystemExit("benchmarks/peers/top.py FIELDS no longer match connectors/top/source.py")
        real = _sandbox_trades()
        unknown = _unknown_fields(real)
        if unknown:
            raise SystemExit(f"the sandbox's trades carry {', '.join(sorted(unknown))}: add them to top.py")
        times = modified_times(n)
        trades = _Trades(replicate([_template(trade) for trade in real], times, format_cst), times)
        _Handler.replay, _Handler.window_error = trades, WINDOW_ERROR

        def page(params: dict[str, Any]) -> tuple[bytes, int]:
            lo, hi = trades.window(parse_cst(params["start_modified"]), parse_cst(params["end_modified"]))
            return trades.page(lo, hi, params["page_no"], PAGE_SIZE, has_next=False)[0], hi - lo

        # what a loader asking every page of every day once fetches
        pages = json_bytes = 0
        for body in _every_page(page, _windows(*window())):
            pages += 1
            json_bytes += len(body)
        return Replay(_Handler, trades.trades, pages, json_bytes)

    def pages(self, ctx: Ctx) -> Iterator[requests.Response]:
        """requests.Session: per daily window, page 1 (which tells the total) to the last."""
        import requests

        session = requests.Session()

        def call(params: dict[str, Any]) -> tuple[requests.Response, int]:
            response = session.post(ctx.base + GATEWAY_PATH, data=_signed(params), timeout=(5, 60))
            response.raise_for_status()
            total = TOTAL.search(response.content)
            if total is None:
                raise RuntimeError(f"TOP answered without total_results: {response.content[:300]!r}")
            return response, int(total.group(1))

        yield from _every_page(call, _windows(*window()))
        session.close()

    def records(self, page: Any) -> list[dict[str, Any]]:
        """A missing `trades`, `{}` and `{"trade": []}` are all an empty page (§2.5)."""
        trades: list[dict[str, Any]] = (page[ROOT].get("trades") or {}).get("trade", [])
        return trades

    def arrow_table(self, records: list[dict[str, Any]]) -> pa.Table:
        """TOP leaves absent values out (an unpaid trade has no `pay_time`), so the fields a page's
        records carry, and their order, vary from page to page: `from_pylist` (columns from the first
        record) would drop a field from a whole page, and dlt refuses to buffer tables whose schemas
        differ. A competent dlt user declares the type once (`_arrow_type`); one struct array is also
        the fastest way to build the table."""
        import pyarrow as pa

        return pa.Table.from_struct_array(pa.array(records, type=_arrow_type()))

    def connector_shop(self, ctx: Ctx) -> ShopConfig:
        from connectors.config import ShopConfig

        return ShopConfig(
            "tmall",
            "bench-shop",
            options={"gateway_url": ctx.base + GATEWAY_PATH, "sign_method": "md5", "calls_per_second": 0},
            credentials={"app_key": APP_KEY, "app_secret": APP_SECRET, "session": SESSION},
        )

    def rest_api_config(self, ctx: Ctx) -> dict[str, Any]:
        import dlt
        from dlt.common.configuration import configspec
        from dlt.sources.helpers.rest_client.auth import AuthConfigBase

        @configspec
        class TopSignature(AuthConfigBase):
            """TOP's signature as a dlt auth: called on each prepared request, after the paginator set
            `page_no`, so it signs every parameter (GET: they are all in the URL)."""

            app_key: str = ""
            app_secret: str = ""
            session: str = ""

            def __call__(self, request: Any) -> Any:
                url = urlsplit(request.url)
                params = _signed(dict(parse_qsl(url.query)), self.app_key, self.app_secret, self.session)
                request.prepare_url(urlunsplit(url._replace(query="")), params)
                return request

        @dlt.resource(name="windows", selected=False)
        def windows() -> Any:
            yield [{"start": start, "end": end} for start, end in _windows(*window())]

        return {
            "client": {
                "base_url": ctx.base + "/",
                "auth": TopSignature(app_key=APP_KEY, app_secret=APP_SECRET, session=SESSION),
            },
            "resources": [
                windows,
                {
                    "name": "trades",
                    "endpoint": {
                        "path": GATEWAY_PATH.lstrip("/"),
                        "params": {
                            "method": METHOD,
                            "fields": FIELDS,
                            "start_modified": "{resources.windows.start}",
                            "end_modified": "{resources.windows.end}",
                            "page_size": PAGE_SIZE,
                            "use_has_next": "true",
                        },
                        "data_selector": f"{ROOT}.trades.trade",
                        "paginator": {
                            "type": "page_number",
                            "page_param": "page_no",
                            "base_page": 1,
                            "total_path": None,
                            "has_more_path": f"{ROOT}.has_next",
                        },
                    },
                },
            ],
        }


PLATFORM = Top()
