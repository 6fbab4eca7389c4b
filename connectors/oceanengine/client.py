"""Ocean Engine (巨量引擎) Marketing API client (channel-protocols.md §12.3).

`GET {base_url}/2/report/advertiser/get/` with the token in the `Access-Token` header (never in a
URL, so it cannot reach a log through one) and the report parameters in the query string, arrays as
JSON text as the SDKs send them. Every answer is the `{code, message, request_id, data}` envelope
in an HTTP 200; `code` 0 is success. Answers are parsed with `json_exact`: `cost` is a JSON number
in yuan and must never pass through a binary float.

The error codes are unverified and match the sandbox: 40100 (too many requests) is retried after a
pause, 50000 (internal error) retried, 40102 (access token invalid or expired) names the token's
environment variable; anything else stops the pull with Ocean Engine's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError, json_exact
from connectors.common.http import HttpClient
from connectors.config import ShopConfig

REPORT = "2/report/advertiser/get/"


class OceanEngineClient(GatewayClient):
    platform = "Ocean Engine"
    http_method = "GET"
    codes = ErrorCodes(
        throttled=frozenset({"40100"}),
        retriable=frozenset({"50000"}),
        credentials={"40102": "access_token"},
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.base_url = str(shop.require("base_url")).rstrip("/")
        self.access_token = shop.credential("access_token")

    def url(self, method: str) -> str:
        """`2/report/advertiser/get/` -> `{base_url}/2/report/advertiser/get/`."""
        return f"{self.base_url}/{method}"

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        params = {
            k: orjson.dumps(v).decode() if isinstance(v, (list, dict)) else str(v)
            for k, v in business.items()
        }
        return {"params": params, "headers": {"Access-Token": self.access_token}}

    def parse(self, content: bytes) -> Any:
        return json_exact(content)

    def error_of(self, body: Any) -> PlatformError | None:
        code = body.get("code")
        if code is None or str(code) == "0":
            return None
        return PlatformError(str(code), str(body.get("message") or ""))

    def result_of(self, body: Any, method: str) -> dict[str, Any]:
        data = body.get("data")
        if not isinstance(data, dict):
            raise self.missing_envelope("data")
        return data
