"""`taobao.top.oaid.decrypt` for the TOP simulator: a trade's receiver in plain text, for a merchant
who declares why it decrypts (the scene).

Served by the TOP gateway (`top_sim.py`), which checks app key, signature, timestamp, version,
format and session (and counts the call against the app's limit) for every method alike, then
calls `OaidDecrypt` with the session's shop. What it enforces, after channel-protocols.md §2.8 and
`fields/taobao_top_oaid_decrypt.txt`: `query_list` is a JSON array of 1 to 20 `{oaid, tid, scene}`;
every scene is one of the documented ones. The answer's `receiver_list` has one receiver per
query: `matched=false` (and nothing of the receiver) when the oaid is not the trade's current one
or the tid is not one of the shop's trades; otherwise the receiver's name, mobile and address,
with, for a privacy-protected order, a virtual number `18877771234-567` in `mobile`,
`privacy_protection=true` and `secret_no_expire_time`. The mobile is the order's own
`receiver_phone` (who receives the parcel, as the world has it).

Unverified choices, kept as module constants: which share of orders is privacy-protected, which
share of trades had their oaid reissued after the list call (0 unless a test turns it on), the
virtual numbers' form, how long a virtual number stays bound, and the error code for a bad
`query_list` (TOP's general 41 Invalid Arguments). Like trades, the list comes in TOP's
non-simplified `{"receiver": [...]}` wrapper unless `simplify=true`.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from connectors.common.timeutil import format_cst
from connectors.sandbox.server import SandboxSettings
from connectors.sandbox.top_sim import TopError, oaid_of
from connectors.sandbox.world import Order, World

METHOD = "taobao.top.oaid.decrypt"
RESPONSE_ROOT = "top_oaid_decrypt_response"
MAX_QUERIES = 20
SCENES = frozenset({"1001", "1002", "1003", "1004", "1005", "1006", "1007", "2001", "2002"})
PRIVACY_SHARE = 0.25  # share of orders whose receiver the platform hides behind a virtual number
REISSUED_SHARE = 0.0  # share of trades whose oaid changed since they were listed (matched=false)
VIRTUAL_PREFIX = "1887777"  # virtual numbers: 1887777xxxx-nnn, after the field table's example
SECRET_NO_DAYS = 15  # how long a virtual number stays bound when `secret_no_days` is not sent
INVALID = (41, "Invalid Arguments", "isv.invalid-parameter")


def _fraction(kind: str, order_id: str) -> float:
    """A fixed number in [0, 1) per order and purpose: which orders are protected, reissued."""
    return zlib.crc32(f"{kind}|{order_id}".encode()) / 2**32


def privacy_protected(order_id: str) -> bool:
    return _fraction("privacy", order_id) < PRIVACY_SHARE


def reissued(order_id: str) -> bool:
    return _fraction("reissued", order_id) < REISSUED_SHARE


def virtual_number(order_id: str) -> str:
    number = zlib.crc32(f"virtual|{order_id}".encode())
    return f"{VIRTUAL_PREFIX}{number % 10_000:04d}-{number // 10_000 % 1_000:03d}"


def _invalid(message: str) -> TopError:
    code, msg, sub_code = INVALID
    return TopError(code, msg, sub_code, message)


def parse_queries(params: dict[str, str]) -> list[tuple[str, str]]:
    """`query_list` as (tid, oaid) pairs, or the error TOP answers for it."""
    text = params.get("query_list")
    if not text:
        raise TopError(40, "Missing Required Arguments", "isv.missing-parameter", "query_list")
    try:
        queries = json.loads(text)
    except ValueError:
        raise _invalid("query_list must be a JSON array") from None
    if not isinstance(queries, list) or not queries:
        raise _invalid("query_list must be a non-empty JSON array")
    if len(queries) > MAX_QUERIES:
        raise _invalid(f"query_list holds at most {MAX_QUERIES} items, got {len(queries)}")
    pairs = []
    for query in queries:
        if not isinstance(query, dict) or not all(query.get(k) for k in ("oaid", "tid", "scene")):
            raise _invalid("every query_list item needs oaid, tid and scene")
        if str(query["scene"]) not in SCENES:
            raise _invalid(f"unknown scene {query['scene']}")
        pairs.append((str(query["tid"]), str(query["oaid"])))
    return pairs


class OaidDecrypt:
    def __init__(self, world: World, settings: SandboxSettings, shop_ids: Iterable[str]) -> None:
        self.now = settings.now or world.as_of
        self.orders: dict[str, dict[str, Order]] = {
            shop_id: {order.order_id: order for order in world.orders_for(shop_id)} for shop_id in shop_ids
        }
        self.lock = threading.Lock()
        self.calls: list[list[str]] = []  # the tids of every call served, for tests

    def __call__(self, shop_id: str, params: dict[str, str]) -> dict[str, Any]:
        pairs = parse_queries(params)
        with self.lock:
            self.calls.append([tid for tid, _ in pairs])
        days = int(params["secret_no_days"]) if params.get("secret_no_days", "").isdigit() else SECRET_NO_DAYS
        receivers = [self._receiver(self.orders[shop_id].get(tid), tid, oaid, days) for tid, oaid in pairs]
        return {"receiver_list": receivers if params.get("simplify") == "true" else {"receiver": receivers}}

    def _receiver(self, order: Order | None, tid: str, oaid: str, days: int) -> dict[str, Any]:
        if order is None or oaid != oaid_of(order, reissued=reissued(order.order_id)):
            return {"oaid": oaid, "tid": tid, "matched": False}
        protected = privacy_protected(order.order_id)
        receiver = {
            "name": order.receiver_name,
            "mobile": virtual_number(order.order_id) if protected else order.receiver_phone,
            "address_detail": order.receiver_address,
            "state": order.receiver_city,
            "city": order.receiver_city,
            "country": "中国",
            "oaid": oaid,
            "tid": tid,
            "matched": True,
            "privacy_protection": protected,
            "secret_no_expire_time": format_cst(self.now + timedelta(days=days)) if protected else None,
        }
        return {k: v for k, v in receiver.items() if v is not None}
