"""JD JOS gateway client (channel-protocols.md §3): business parameters travel as one JSON string,
`360buy_param_json`, with every value quoted as the official SDKs do; the md5 signature covers it
with the system parameters. Everything goes in the POST form (the token never sits in a URL).

Two error paths: the gateway's `error_response` (string `code`, `zh_desc`/`en_desc`) and a
business failure inside a `code:"0"` answer (`apiResult.success=false`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError
from connectors.common.http import HttpClient
from connectors.common.signing import sign
from connectors.common.timeutil import format_cst
from connectors.config import ShopConfig


def response_root(method: str) -> str:
    """`jingdong.pop.order.enSearch` -> `jingdong_pop_order_enSearch_responce` (JD's spelling)."""
    return method.replace(".", "_") + "_responce"


class JdClient(GatewayClient):
    platform = "JOS"
    codes = ErrorCodes(
        # "66" is documented (the official SDK retries it) and "21" (bad app_key); the throttle,
        # token and signature codes are unverified and match the sandbox.
        throttled=frozenset({"71", "72"}),
        retriable=frozenset({"66"}),
        credentials={"19": "access_token", "21": "app_key", "14": "app_secret"},
        clock=frozenset({"61"}),  # invalid parameter: timestamp
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.app_key = shop.credential("app_key")
        self.app_secret = shop.credential("app_secret")
        self.access_token = shop.credential("access_token")

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        form = {
            "method": method,
            "app_key": self.app_key,
            "access_token": self.access_token,
            "timestamp": format_cst(self.now()),
            "v": "2.0",
            "format": "json",
            "sign_method": "md5",
            "360buy_param_json": orjson.dumps({k: str(v) for k, v in business.items()}).decode(),
        }
        form["sign"] = sign(form, self.app_secret, "md5")
        return {"data": form}

    def error_of(self, body: Any) -> PlatformError | None:
        error = body.get("error_response")
        if error:
            return PlatformError(
                str(error.get("code") or ""), f"{error.get('en_desc')} / {error.get('zh_desc')}"
            )
        for result in body.values():  # the one root, e.g. jingdong_pop_order_enSearch_responce
            if not isinstance(result, dict):
                continue
            if str(result.get("code", "0")) != "0":
                return PlatformError(str(result.get("code")), str(result.get("zh_desc") or result))
            for inner in result.values():
                api = inner.get("apiResult") if isinstance(inner, dict) else None
                if api and not api.get("success"):
                    return PlatformError(
                        f"apiResult {api.get('numberCode')}",
                        f"{api.get('englishErrCode')} / {api.get('chineseErrCode')}",
                    )
        return None

    def response_root(self, method: str) -> str:
        return response_root(method)
