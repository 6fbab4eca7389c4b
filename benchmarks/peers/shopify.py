"""Shopify REST orders (`GET /admin/api/2024-10/orders.json`) for the peers benchmark.

The replay: real orders rendered by the sandbox's Shopify simulator, padded with the fields a real
shop's orders carry, replicated with fresh ids and `updated_at`; every page of 250 rendered once at
start; Link-header cursor paging as Shopify does it (`page_info` cursors, which take no filter but
`limit` and `fields`), the access token checked, no rate limit.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from benchmarks.peers.base import RESULTS_DIR, WORLD_SEED, Ctx, Platform, Replay, sandbox, window
from benchmarks.peers.replay import IDS_PER_RECORD, ReplayHandler, Slots, Template, modified_times, replicate

if TYPE_CHECKING:
    import requests

    from connectors.config import ShopConfig

API_VERSION = "2024-10"
API_PATH = f"/admin/api/{API_VERSION}/orders.json"
TOKEN = "shpat_peers_benchmark_token"  # noqa: S105 - the replay server's made-up token
PAGE_SIZE = 250  # Shopify's maximum `limit`
DEFAULT_LIMIT = 50
CURSOR_ALLOWED = {"limit", "page_info", "fields"}
ORDER_MARK = b'"admin_graphql_api_id":"gid://shopify/Order/'  # once per order object (line items differ)
ORDER_ID0, LINE_ID0, OTHER_ID0 = 5_500_000_000_000, 14_000_000_000_000, 6_000_000_000_000


# --- the orders -----------------------------------------------------------------------------------


def _first_params() -> dict[str, Any]:
    """What our connector sends on the first request; every loader sends the same."""
    start, end = window()
    return {
        "limit": PAGE_SIZE,
        "updated_at_min": start.isoformat(),
        "updated_at_max": end.isoformat(),
        "status": "any",
    }


def _sandbox_orders() -> list[dict[str, Any]]:
    """Every order the sandbox's Shopify simulator serves for a small world over the window."""
    from connectors.common.paging import parse_link_header
    from connectors.sandbox.credentials import shopify_token
    from connectors.sandbox.server import SimRequest
    from connectors.sandbox.shopify_sim import ShopifySimulator

    sim = ShopifySimulator(*sandbox())
    orders: list[dict[str, Any]] = []
    for shop_id in sorted(sim.shops):
        query: dict[str, str] | None = {"limit": str(PAGE_SIZE), "status": "any"}
        while query:
            response = sim.handle(
                SimRequest(
                    "GET",
                    f"/{shop_id}{API_PATH}",
                    query,
                    {"x-shopify-access-token": shopify_token(shop_id)},
                    b"",
                    "http://sandbox/shopify",
                )
            )
            assert response.status == 200, response.body[:300]
            orders += json.loads(response.body)["orders"]
            next_url = parse_link_header(response.headers.get("Link")).get("next")
            query = dict(parse_qsl(urlsplit(next_url).query)) if next_url else None
    if not orders:
        raise SystemExit("the sandbox world has no Shopify orders")
    return orders


_USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.71 Mobile Safari/537.36",
)


def _pad(order: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The fields a real shop's REST order carries that the simulator leaves out (checkout, client,
    discounts, shipping and tax lines, note attributes...), filled from the order's own figures."""
    discount = order["total_discounts"]
    has_discount = float(discount) > 0
    token = f"{rng.getrandbits(128):032x}"
    ip = f"203.0.113.{rng.randrange(1, 255)}"
    order.update(
        {
            "admin_graphql_api_id": None,  # set with the id by _template
            "app_id": 580111,
            "browser_ip": ip,
            "buyer_accepts_marketing": rng.random() < 0.4,
            "checkout_id": None,
            "checkout_token": f"{rng.getrandbits(128):032x}",
            "client_details": {
                "accept_language": rng.choice(("zh-CN", "zh-CN,zh;q=0.9,en;q=0.8", "en-US,en;q=0.9")),
                "browser_height": rng.choice((844, 932, 1080)),
                "browser_ip": ip,
                "browser_width": rng.choice((390, 430, 1920)),
                "session_hash": None,
                "user_agent": rng.choice(_USER_AGENTS),
            },
            "confirmed": True,
            "current_subtotal_price": order["subtotal_price"],
            "current_total_price": order["total_price"],
            "customer_locale": "zh-CN",
            "discount_applications": [
                {
                    "target_type": "line_item",
                    "type": "discount_code",
                    "value": "10.0",
                    "value_type": "percentage",
                    "allocation_method": "across",
                    "target_selection": "all",
                    "code": "WELCOME10",
                }
            ]
            if has_discount
            else [],
            "discount_codes": [{"code": "WELCOME10", "amount": discount, "type": "percentage"}]
            if has_discount
            else [],
            "landing_site": f"/products/sku-{rng.randrange(100, 999)}?utm_source=wechat&utm_medium=social",
            "note": None,
            "note_attributes": [
                {"name": "delivery_window", "value": rng.choice(("weekday", "weekend", "any"))},
                {"name": "gift_wrap", "value": rng.choice(("yes", "no"))},
            ],
            "order_status_url": f"https://shop.example.com/63012345678/orders/{token}/authenticate"
            f"?key={rng.getrandbits(128):032x}",
            "payment_gateway_names": [rng.choice(("shopify_payments", "alipay", "wechat_pay"))],
            "referring_site": rng.choice(("https://www.google.com/", "https://weixin.qq.com/", "")),
            "shipping_lines": [
                {
                    "id": None,
                    "carrier_identifier": None,
                    "code": "Standard",
                    "discounted_price": order["total_shipping_price_set"]["shop_money"]["amount"],
                    "price": order["total_shipping_price_set"]["shop_money"]["amount"],
                    "source": "shopify",
                    "title": "Standard Shipping 标准配送",
                }
            ],
            "tax_lines": [],
            "taxes_included": True,
            "test": False,
            "token": token,
            "total_tip_received": "0.00",
            "total_weight": 0,
        }
    )
    for line in order["line_items"]:
        grams = rng.choice((150, 300, 450, 800))
        order["total_weight"] += grams * line["quantity"]
        line.update(
            {
                "admin_graphql_api_id": None,
                "fulfillable_quantity": 0 if line["fulfillment_status"] else line["quantity"],
                "grams": grams,
                "name": line["title"],
                "requires_shipping": True,
                "taxable": True,
                "variant_title": None,
                "vendor": "Omni 全渠道",
                "tax_lines": [],
                "discount_allocations": [
                    {
                        "amount": line["total_discount"],
                        "discount_application_index": 0,
                    }
                ]
                if has_discount
                else [],
            }
        )
    return order


def _template(order: dict[str, Any]) -> Template:
    slots = Slots(datetime.fromisoformat(order["updated_at"]))
    line_slot = {line["id"]: k for k, line in enumerate(order["line_items"])}
    if len(line_slot) > IDS_PER_RECORD:
        raise ValueError(f"order {order['id']} has more than {IDS_PER_RECORD} line items")
    lines = [slots.id(f"L{k}", LINE_ID0 + k, IDS_PER_RECORD) for k in range(len(line_slot))]

    others = 0

    def other() -> str:
        nonlocal others
        others += 1
        return slots.id(f"X{others - 1}", OTHER_ID0 + others - 1, IDS_PER_RECORD)

    order["id"] = slots.id("OID", ORDER_ID0)
    order["admin_graphql_api_id"] = "gid://shopify/Order/@@OID@@"
    order["name"] = "#@@NUM@@"
    order["order_number"] = slots.id("NUM", 1001)
    order["checkout_id"] = other()
    for k, line in enumerate(order["line_items"]):
        line["id"] = lines[k]
        line["admin_graphql_api_id"] = f"gid://shopify/LineItem/@@L{k}@@"
    for nested in ("fulfillments", "shipping_lines"):
        for item in order[nested]:
            item["id"] = other()
    for refund in order["refunds"]:
        refund["id"] = other()
        for item in refund["refund_line_items"]:
            item["id"] = other()
            item["line_item_id"] = lines[line_slot[item["line_item_id"]]]
        for item in refund["transactions"]:
            item["id"] = other()
    if others > IDS_PER_RECORD:
        raise ValueError(f"order {order['id']} has more than {IDS_PER_RECORD} nested ids")
    slots.timestamps(order, lambda key: key.endswith("_at"), datetime.fromisoformat)
    return slots.template(order)


def replay_orders(n: int) -> list[bytes]:
    """N order objects as JSON bytes, in (updated_at, id) order, updated_at spread over the window."""
    rng = random.Random(WORLD_SEED)
    templates = [_template(_pad(order, rng)) for order in _sandbox_orders()]
    return replicate(templates, modified_times(n), datetime.isoformat)


# --- the replay server ----------------------------------------------------------------------------


class _Pages:
    def __init__(self, orders: list[bytes]) -> None:
        self.orders = orders
        self.pages = [self._render(offset, PAGE_SIZE) for offset in range(0, len(orders), PAGE_SIZE)]

    def _render(self, offset: int, limit: int) -> bytes:
        return b'{"orders":[' + b",".join(self.orders[offset : offset + limit]) + b"]}"

    def page(self, offset: int, limit: int) -> tuple[bytes, int]:
        """The page's body and how many orders it holds."""
        if limit == PAGE_SIZE and offset % PAGE_SIZE == 0 and offset < len(self.orders):
            body = self.pages[offset // PAGE_SIZE]
        else:
            body = self._render(offset, limit)
        return body, len(self.orders[offset : offset + limit])


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "v": 1}).encode()).decode().rstrip("=")


def _uncursor(token: str) -> int:
    offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["offset"]
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(token)
    return offset


class _Handler(ReplayHandler):
    replay: _Pages

    def _error(self, status: int, errors: Any) -> None:
        self.send(status, json.dumps({"errors": errors}).encode())

    def answer(self, path: str, query: dict[str, str], body: bytes) -> None:
        if path != API_PATH:
            return self._error(404, "Not Found")
        if self.headers.get("X-Shopify-Access-Token") != TOKEN:
            return self._error(
                401, "[API] Invalid API key or access token (unrecognized login or wrong password)"
            )
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return self._error(400, {"limit": ["must be an integer"]})
        if not 1 <= limit <= PAGE_SIZE:
            return self._error(400, {"limit": [f"must be between 1 and {PAGE_SIZE}"]})
        offset = 0
        if "page_info" in query:
            extra = set(query) - CURSOR_ALLOWED
            if extra:
                return self._error(
                    400, {"page_info": [f"cannot be combined with {', '.join(sorted(extra))}"]}
                )
            try:
                offset = _uncursor(query["page_info"])
            except (ValueError, KeyError, TypeError):
                return self._error(400, {"page_info": ["is invalid"]})
        page, orders = self.replay.page(offset, limit)
        host, port = self.server.server_address[:2]
        base = f"http://{host}:{port}{API_PATH}?limit={limit}&page_info="
        links = []
        if offset > 0:
            links.append(f'<{base}{_cursor(max(0, offset - limit))}>; rel="previous"')
        if offset + limit < len(self.replay.orders):
            links.append(f'<{base}{_cursor(offset + limit)}>; rel="next"')
        headers = {"X-Shopify-Shop-Api-Call-Limit": "1/40"}
        if links:
            headers["Link"] = ", ".join(links)
        self.send(200, page, headers)
        self.served.add(page, orders)


# --- what the loaders use -------------------------------------------------------------------------


class Shopify(Platform):
    name = "shopify"
    label = "Shopify"
    title = "Shopify orders"
    noun = "order"
    results = RESULTS_DIR / "peers.md"
    page_size = PAGE_SIZE
    table = "orders"
    records_path = "orders"
    record_mark = ORDER_MARK

    def replay(self, n: int) -> Replay:
        _Handler.replay = _Pages(replay_orders(n))
        pages = _Handler.replay.pages
        return Replay(_Handler, _Handler.replay.orders, len(pages), sum(len(p) for p in pages))

    def pages(self, ctx: Ctx) -> Iterator[requests.Response]:
        """requests.Session following rel=next."""
        import requests

        session = requests.Session()
        url: str | None = ctx.base + API_PATH
        params: dict[str, Any] | None = _first_params()
        headers = {"X-Shopify-Access-Token": TOKEN, "Accept": "application/json"}
        while url:
            response = session.get(url, params=params, headers=headers, timeout=(5, 60))
            response.raise_for_status()
            yield response
            url, params = response.links.get("next", {}).get("url"), None
        session.close()

    def records(self, page: Any) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = page["orders"]
        return orders

    def connector_shop(self, ctx: Ctx) -> ShopConfig:
        from connectors.config import ShopConfig

        return ShopConfig(
            "shopify",
            "bench-shop",
            options={"base_url": ctx.base, "api_version": API_VERSION},
            credentials={"access_token": TOKEN},
        )

    def rest_api_config(self, ctx: Ctx) -> dict[str, Any]:
        return {
            "client": {
                "base_url": f"{ctx.base}/admin/api/{API_VERSION}/",
                "auth": {
                    "type": "api_key",
                    "name": "X-Shopify-Access-Token",
                    "api_key": TOKEN,
                    "location": "header",
                },
                "paginator": "header_link",
            },
            "resources": [
                {
                    "name": "orders",
                    "endpoint": {"path": "orders.json", "params": _first_params(), "data_selector": "orders"},
                }
            ],
        }


PLATFORM = Shopify()
