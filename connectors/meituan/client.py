"""Meituan open-platform client (channel-protocols.md §8).

GET `{base_url}/<path>` with every parameter in the query: the system parameters `app_id` and
`timestamp` (epoch seconds) plus `sig` over the URL actually called (signing.py). Success is
`{"data": …}`; a failure is `{"data": "ng", "error": {"code", "msg"}}` in an HTTP 200.

Unverified, kept as constants and matching the sandbox (connectors/sandbox/meituan_sim.py): every
error code except 767 (token invalid, from the reference), and that failures come as HTTP 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError
from connectors.common.http import HttpClient
from connectors.config import ShopConfig
from connectors.meituan.signing import SIGNATURE_PARAM, sign

FAILED = "ng"


class MeituanClient(GatewayClient):
    platform = "Meituan"
    http_method = "GET"
    codes = ErrorCodes(
        throttled=frozenset({"711"}),  # unverified
        # 701 unknown app_id, 703 bad sig (unverified); 767 token invalid (reference, ISV mode only:
        # this connector signs with the app secret and sends no token, so 767 stays a plain failure).
        credentials={"701": "app_id", "703": "app_secret"},
        clock=frozenset({"705"}),
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.base_url = str(shop.require("base_url")).rstrip("/")
        self.app_id = shop.credential("app_id")
        self.app_secret = shop.credential("app_secret")

    def url(self, method: str) -> str:
        """`order/getOrderDetail` -> `{base_url}/order/getOrderDetail`."""
        return f"{self.base_url}/{method}"

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            **{k: str(v) for k, v in business.items()},
            "app_id": self.app_id,
            "timestamp": str(int(self.now().timestamp())),
        }
        params[SIGNATURE_PARAM] = sign(self.url(method), params, self.app_secret)
        return {"params": params}

    def error_of(self, body: Any) -> PlatformError | None:
        if body.get("data") != FAILED and "error" not in body:
            return None
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        return PlatformError(str(error.get("code", "")), str(error.get("msg") or ""))

    def result_of(self, body: Any, method: str) -> dict[str, Any]:
        data = body.get("data")
        if not isinstance(data, dict):
            raise self.missing_envelope("data")
        return data
