"""Shopify orders landed by our connector vs peer tools over one local endpoint (run on demand, not in tests).

    .venv/bin/python -m benchmarks.peers --orders 200000     # --orders 5000 for a smoke run

Starts a Shopify-shaped replay server in its own process on a free loopback port: N realistic REST
order objects (real orders rendered by the sandbox's Shopify simulator, padded with the fields a real
shop's orders carry and replicated with fresh ids and `updated_at` spread over 30 China days, or
`--days`), every page's bytes rendered once at start, Link-header cursor paging as Shopify does it, no
rate limit. Then each loader lands the same N orders in a fresh child process (so its peak RSS, summed over
the processes it starts, is that loader alone) and prints a JSON line; the server counts the requests,
bytes and orders it served to
each. Appends a Markdown table to benchmarks/results/peers.md with the machine and versions.

dlt comes from the `bench` extra (`pip install -e '.[bench]' -c <(echo 'setuptools<66')`); without it
the dlt rows say "not run".
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from benchmarks.rss import communicate_sampling

RESULTS = Path(__file__).resolve().parent / "results" / "peers.md"
API_VERSION = "2024-10"
API_PATH = f"/admin/api/{API_VERSION}/orders.json"
STATS_PATH = "/_bench/stats"
TOKEN = "shpat_peers_benchmark_token"  # noqa: S105 - the replay server's made-up token
PAGE_SIZE = 250  # Shopify's maximum `limit`
DEFAULT_LIMIT = 50
CURSOR_ALLOWED = {"limit", "page_info", "fields"}
WORLD_FIRST, WORLD_LAST = date(2026, 10, 1), date(2026, 10, 30)  # the sandbox world the orders come from
# The China days every loader asks for: 30 from 2026-10-01, or PEERS_DAYS (`--days`; 1 = one
# Double-11-like day holding all N orders, for the landing's memory).
FIRST_DAY = WORLD_FIRST
LAST_DAY = FIRST_DAY + timedelta(days=int(os.environ.get("PEERS_DAYS", "30")) - 1)
WORLD_SEED, WORLD_PEOPLE = 1, 4000  # a sandbox world giving a few hundred real Shopify orders to replicate
ORDER_MARK = b'"admin_graphql_api_id":"gid://shopify/Order/'  # once per order object (line items differ)
ORDER_ID0, LINE_ID0, OTHER_ID0 = 5_500_000_000_000, 14_000_000_000_000, 6_000_000_000_000
IDS_PER_ORDER = 64  # id slots per replica for line items and for other nested objects


# --- the orders -----------------------------------------------------------------------------------


def _window() -> tuple[datetime, datetime]:
    from connectors.common.timeutil import china_days_window

    return china_days_window(FIRST_DAY, LAST_DAY)


def _first_params() -> dict[str, Any]:
    """What our connector sends on the first request; every loader sends the same."""
    start, end = _window()
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
    from connectors.sandbox.server import SandboxSettings, SimRequest
    from connectors.sandbox.shopify_sim import ShopifySimulator

    settings = SandboxSettings(WORLD_SEED, WORLD_PEOPLE, WORLD_FIRST, WORLD_LAST, rate_limits=False)
    sim = ShopifySimulator(settings.world(), settings)
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


@dataclass
class _Template:
    """An order's JSON split at the values each replica replaces: pieces[odd] are the slot names."""

    pieces: list[str]
    stamps: list[tuple[timedelta, tzinfo]]  # T<m>: offset from updated_at, the order's own UTC offset
    lines: int
    others: int


def _template(order: dict[str, Any]) -> _Template:
    updated = datetime.fromisoformat(order["updated_at"])
    stamps: list[tuple[timedelta, tzinfo]] = []
    others = 0
    line_slot = {line["id"]: k for k, line in enumerate(order["line_items"])}
    if len(line_slot) > IDS_PER_ORDER:
        raise ValueError(f"order {order['id']} has more than {IDS_PER_ORDER} line items")

    def other() -> str:
        nonlocal others
        others += 1
        return f"@@i:X{others - 1}@@"

    def timestamps(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if isinstance(value, str) and isinstance(key, str) and key.endswith("_at"):
                ts = datetime.fromisoformat(value)
                stamps.append((ts - updated, ts.tzinfo or UTC))
                node[key] = f"@@T{len(stamps) - 1}@@"
            else:
                timestamps(value)

    order["id"] = "@@i:OID@@"
    order["admin_graphql_api_id"] = "gid://shopify/Order/@@OID@@"
    order["name"] = "#@@NUM@@"
    order["order_number"] = "@@i:NUM@@"
    order["checkout_id"] = other()
    for k, line in enumerate(order["line_items"]):
        line["id"] = f"@@i:L{k}@@"
        line["admin_graphql_api_id"] = f"gid://shopify/LineItem/@@L{k}@@"
    for nested in ("fulfillments", "shipping_lines"):
        for item in order[nested]:
            item["id"] = other()
    for refund in order["refunds"]:
        refund["id"] = other()
        for item in refund["refund_line_items"]:
            item["id"] = other()
            item["line_item_id"] = f"@@i:L{line_slot[item['line_item_id']]}@@"
        for item in refund["transactions"]:
            item["id"] = other()
    if others > IDS_PER_ORDER:
        raise ValueError(f"order {order['id']} has more than {IDS_PER_ORDER} nested ids")
    timestamps(order)
    text = json.dumps(order, ensure_ascii=False, separators=(",", ":"))
    text = re.sub(r'"@@i:(\w+)@@"', r"@@\1@@", text)
    return _Template(re.split(r"@@(\w+)@@", text), stamps, len(line_slot), others)


def replay_orders(n: int) -> list[bytes]:
    """N order objects as JSON bytes, in (updated_at, id) order, updated_at spread over the window."""
    rng = random.Random(WORLD_SEED)
    templates = [_template(_pad(order, rng)) for order in _sandbox_orders()]
    start, end = _window()
    span = int((end - start).total_seconds())
    out = []
    for i in range(n):
        t = templates[i % len(templates)]
        updated = start + timedelta(seconds=int((i + 0.5) * span / n))
        values = {"OID": str(ORDER_ID0 + i), "NUM": str(1001 + i)}
        for k in range(t.lines):
            values[f"L{k}"] = str(LINE_ID0 + i * IDS_PER_ORDER + k)
        for k in range(t.others):
            values[f"X{k}"] = str(OTHER_ID0 + i * IDS_PER_ORDER + k)
        for k, (offset, tz) in enumerate(t.stamps):
            values[f"T{k}"] = (updated + offset).astimezone(tz).isoformat()
        pieces = t.pieces.copy()
        pieces[1::2] = [values[name] for name in t.pieces[1::2]]
        out.append("".join(pieces).encode("utf-8"))
    return out


# --- the replay server ----------------------------------------------------------------------------


class _Replay:
    def __init__(self, orders: list[bytes]) -> None:
        self.orders = orders
        self.pages = [self._render(offset, PAGE_SIZE) for offset in range(0, len(orders), PAGE_SIZE)]
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "bytes": 0, "orders": 0}

    def _render(self, offset: int, limit: int) -> bytes:
        return b'{"orders":[' + b",".join(self.orders[offset : offset + limit]) + b"]}"

    def page(self, offset: int, limit: int) -> bytes:
        if limit == PAGE_SIZE and offset % PAGE_SIZE == 0 and offset < len(self.orders):
            body = self.pages[offset // PAGE_SIZE]
        else:
            body = self._render(offset, limit)
        with self.lock:
            self.stats["requests"] += 1
            self.stats["bytes"] += len(body)
            self.stats["orders"] += len(self.orders[offset : offset + limit])
        return body


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "v": 1}).encode()).decode().rstrip("=")


def _uncursor(token: str) -> int:
    offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["offset"]
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(token)
    return offset


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: keep-alive answers must not wait for a delayed ACK
    replay: _Replay

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, errors: Any) -> None:
        self._send(status, json.dumps({"errors": errors}).encode())

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == STATS_PATH:
            with self.replay.lock:
                body = json.dumps(self.replay.stats).encode()
                if "reset" in query:
                    self.replay.stats = dict.fromkeys(self.replay.stats, 0)
            return self._send(200, body)
        if url.path != API_PATH:
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
        body = self.replay.page(offset, limit)
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
        self._send(200, body, headers)


def serve(n: int) -> None:
    """Runs in its own process: render, print one JSON line (port and figures), serve until killed."""
    orders = replay_orders(n)
    _Handler.replay = _Replay(orders)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    order_bytes = sum(len(o) for o in orders)
    print(
        json.dumps(
            {
                "port": server.server_address[1],
                "orders": n,
                "bytes_per_order": order_bytes / n,
                "json_bytes": sum(len(p) for p in _Handler.replay.pages),
                "pages": len(_Handler.replay.pages),
            }
        ),
        flush=True,
    )
    server.serve_forever()


# --- the loaders (each runs in a fresh child process) ---------------------------------------------


@dataclass
class _Ctx:
    port: int
    n: int
    tmp: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + API_PATH

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": TOKEN, "Accept": "application/json"}


def _pages(ctx: _Ctx) -> Any:
    """requests.Session following rel=next; yields each response."""
    import requests

    session = requests.Session()
    url: str | None = ctx.url
    params: dict[str, Any] | None = _first_params()
    while url:
        response = session.get(url, params=params, headers=ctx.headers, timeout=(5, 60))
        response.raise_for_status()
        yield response
        url, params = response.links.get("next", {}).get("url"), None
    session.close()


def _download_only(ctx: _Ctx) -> Callable[[], int]:
    import requests  # noqa: F401 - imported before the clock starts

    def run() -> int:
        # orders counted by a byte search for each order's gid (no parse): the bytes are discarded
        return sum(response.content.count(ORDER_MARK) for response in _pages(ctx))

    return run


def _read_json_floor(ctx: _Ctx) -> Callable[[], int]:
    import duckdb
    import requests  # noqa: F401

    pages, out = ctx.tmp / "pages", ctx.tmp / "orders.parquet"

    def run() -> int:
        pages.mkdir()
        for i, response in enumerate(_pages(ctx)):
            (pages / f"{i:06d}.json").write_bytes(response.content)
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT unnest(o) FROM (SELECT unnest(orders) AS o FROM "
            f"read_json('{pages}/*.json', format = 'auto'))) TO '{out}' (FORMAT parquet)"
        )
        rows = con.execute(f"SELECT count(*) FROM '{out}'").fetchone()
        con.close()
        return int(rows[0]) if rows else 0

    return run


def _our_connector(ctx: _Ctx) -> Callable[[], int]:
    from connectors.common.pii import PiiHasher
    from connectors.common.timeutil import utc_now
    from connectors.config import ShopConfig
    from connectors.registry import CHANNELS
    from warehouse.landing import LandingWriter

    shop = ShopConfig(
        "shopify",
        "bench-shop",
        options={"base_url": ctx.base, "api_version": API_VERSION},
        credentials={"access_token": TOKEN},
    )
    start, end = _window()

    def run() -> int:
        source = CHANNELS["shopify"].build(shop, PiiHasher("peers-benchmark-pii-key"))
        result = LandingWriter(ctx.tmp / "landing").land(
            "shopify",
            "orders",
            shop.shop_id,
            FIRST_DAY,
            LAST_DAY,
            source.pull("orders", start, end),
            utc_now(),
        )
        source.close()
        if result.rows_outside_window:
            raise SystemExit(f"{result.rows_outside_window} rows landed outside the window")
        return result.rows

    return run


def _requests_pandas(ctx: _Ctx) -> Callable[[], int]:
    import pandas as pd
    import pyarrow.parquet as pq

    out = ctx.tmp / "orders.parquet"

    def run() -> int:
        frames = [pd.json_normalize(response.json()["orders"]) for response in _pages(ctx)]
        pd.concat(frames, ignore_index=True).to_parquet(out, index=False)
        return int(pq.ParquetFile(out).metadata.num_rows)

    return run


def _dlt_pipeline(ctx: _Ctx) -> Any:
    import dlt

    return dlt.pipeline(
        pipeline_name="peers_bench",
        destination=dlt.destinations.duckdb(str(ctx.tmp / "dlt.duckdb")),
        dataset_name="shopify",
        pipelines_dir=str(ctx.tmp / "dlt_pipelines"),
    )


def _dlt_count(ctx: _Ctx) -> int:
    import duckdb

    con = duckdb.connect(str(ctx.tmp / "dlt.duckdb"), read_only=True)
    rows = con.execute("SELECT count(*) FROM shopify.orders").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


def _dlt_rest_api(ctx: _Ctx, max_table_nesting: int | None) -> Callable[[], int]:
    import dlt  # noqa: F401
    from dlt.sources.rest_api import rest_api_source

    config: Any = {
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

    def run() -> int:
        source = rest_api_source(config, name="shopify", max_table_nesting=max_table_nesting)
        _dlt_pipeline(ctx).run(source)
        return _dlt_count(ctx)

    return run


def _dlt_arrow(ctx: _Ctx) -> Callable[[], int]:
    import dlt
    import orjson
    import pyarrow as pa

    @dlt.resource(name="orders", write_disposition="append")
    def orders() -> Any:
        for response in _pages(ctx):
            yield pa.Table.from_pylist(orjson.loads(response.content)["orders"])

    def run() -> int:
        _dlt_pipeline(ctx).run(orders())
        return _dlt_count(ctx)

    return run


LOADERS: dict[str, Callable[[_Ctx], Callable[[], int]]] = {
    "download only": _download_only,
    "download + DuckDB read_json → Parquet": _read_json_floor,
    "our connector (Shopify → landing Parquet, PII hashed)": _our_connector,
    "requests + pandas json_normalize → Parquet": _requests_pandas,
    "dlt rest_api (defaults) → DuckDB": lambda ctx: _dlt_rest_api(ctx, None),
    "dlt rest_api max_table_nesting=0 → DuckDB": lambda ctx: _dlt_rest_api(ctx, 0),
    "dlt Arrow (pa.Table per page) → DuckDB": _dlt_arrow,
}
FLOOR = "download + DuckDB read_json → Parquet"


def child(index: int, port: int, n: int, tmp: str) -> None:
    """Runs in a fresh process: one loader, imports before the clock; prints a JSON line."""
    run = list(LOADERS.values())[index](_Ctx(port, n, Path(tmp)))
    began = time.perf_counter()
    rows = run()
    seconds = time.perf_counter() - began
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak / 1024}))


# --- the parent -----------------------------------------------------------------------------------


def _stats(port: int, reset: bool = False) -> dict[str, int]:
    url = f"http://127.0.0.1:{port}{STATS_PATH}" + ("?reset=1" if reset else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        stats: dict[str, int] = json.loads(response.read())
    return stats


def _measure(index: int, name: str, port: int, n: int, tmp: Path) -> dict[str, Any]:
    if name.startswith("dlt") and importlib.util.find_spec("dlt") is None:
        return {"failed": "not run: dlt is not installed (the `bench` extra)"}
    work = tmp / f"loader{index}"
    work.mkdir()
    env = {
        **os.environ,
        "RUNTIME__DLTHUB_TELEMETRY": "false",  # dlt would phone home; there is no network here anyway
        "DLT_DATA_DIR": str(work / "dlt_home"),
    }
    _stats(port, reset=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.peers", "--child", str(index), str(port), str(n), str(work)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr, tree_peak = communicate_sampling(process, timeout=max(900, n // 40))
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.wait()
        return {"failed": f"FAILED: no result after {exc.timeout:.0f} s"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    served = _stats(port)
    if process.returncode != 0:
        lines = (stderr or stdout).strip().splitlines() or [f"exit {process.returncode}"]
        return {"failed": f"FAILED: {lines[-1][:200]}", **served}
    figures: dict[str, Any] = {**json.loads(stdout.strip().splitlines()[-1]), **served}
    # the loader's own processes together (our connector's page workers, DuckDB's are threads)
    figures["peak_rss_mb"] = max(figures["peak_rss_mb"], tree_peak)
    if figures["rows"] != n:
        figures["failed"] = f"FAILED: landed {figures['rows']} of {n} orders"
    return figures


def _floor_rate(rows: list[tuple[str, dict[str, Any]]]) -> float:
    floor = next((f for name, f in rows if name == FLOOR and "failed" not in f), None)
    return floor["rows"] / floor["seconds"] if floor else 0.0


def _summary(name: str, f: dict[str, Any], rows: list[tuple[str, dict[str, Any]]]) -> str:
    if "failed" in f:
        return f"{name}: {f['failed']}"
    rate, floor_rate = f["rows"] / f["seconds"], _floor_rate(rows)
    return (
        f"{name}: {f['rows']} orders in {f['seconds']:.2f} s = {rate:.0f} orders/s, "
        f"{f['bytes'] / 1e6 / f['seconds']:.1f} MB/s, peak RSS {f['peak_rss_mb']:.0f} MB, "
        f"{f['requests']} requests"
        + (f", {rate / floor_rate:.2f}× the read_json floor" if floor_rate else "")
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30, help="China days the orders spread over")
    parser.add_argument(
        "--loaders",
        nargs="+",
        help="only the loaders whose names contain one of these (the floor always runs)",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        index, port, n, tmp = args.child
        child(int(index), int(port), int(n), tmp)
        return
    if args.serve:
        serve(args.serve)
        return
    n = args.orders
    os.environ["PEERS_DAYS"] = str(args.days)  # the replay server and every loader read it
    wanted = [
        name
        for name in LOADERS
        if name == FLOOR or not args.loaders or any(part in name for part in args.loaders)
    ]
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.peers", "--serve", str(n)], stdout=subprocess.PIPE, text=True
    )
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line:
            raise SystemExit("the replay server did not start")
        replay = json.loads(line)
        port = replay["port"]
        print(
            f"replay server on 127.0.0.1:{port}: {n} orders, {replay['bytes_per_order']:.0f} bytes/order, "
            f"{replay['json_bytes'] / 1e6:.1f} MB in {replay['pages']} pages",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            for index, name in enumerate(LOADERS):
                if name not in wanted:
                    continue
                figures = _measure(index, name, port, n, Path(tmp))
                rows.append((name, figures))
                print(_summary(name, figures, rows), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _write(n, args.days, replay, rows)


def _write(n: int, days: int, replay: dict[str, Any], rows: list[tuple[str, dict[str, Any]]]) -> None:
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    floor_rate = _floor_rate(rows)
    new = not RESULTS.exists()
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        if new:
            out.write("# Shopify orders: our connector vs peer tools (benchmarks/peers.py)\n")
        out.write(
            f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {n} Shopify orders over {days} China day(s), "
            f"{replay['bytes_per_order']:.0f} bytes/order avg ({replay['json_bytes'] / 1e6:.1f} MB JSON, "
            f"{replay['pages']} pages of {PAGE_SIZE}), replay server on loopback, no rate limit\n\n"
        )
        out.write(
            f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"duckdb {version('duckdb')}, pyarrow {version('pyarrow')}, pandas {version('pandas')}, "
            f"dlt {version('dlt')}, requests {version('requests')}\n\n"
        )
        out.write(
            "| loader | orders | seconds | orders/s | MB/s | peak RSS MB | × read_json floor | requests |\n"
        )
        out.write("|---|---:|---:|---:|---:|---:|---:|---:|\n")
        for name, f in rows:
            if "failed" in f:
                out.write(f"| {name} | {_cell(f['failed'])} | | | | | | {f.get('requests', '')} |\n")
                continue
            rate = f["rows"] / f["seconds"]
            ratio = f"{rate / floor_rate:.2f}" if floor_rate else "—"
            mb_s = f["bytes"] / 1e6 / f["seconds"]
            out.write(
                f"| {name} | {f['rows']} | {f['seconds']:.2f} | {rate:.0f} | {mb_s:.1f} | "
                f"{f['peak_rss_mb']:.0f} | {ratio} | {f['requests']} |\n"
            )
    print(f"results appended to {RESULTS}")


if __name__ == "__main__":
    main()
