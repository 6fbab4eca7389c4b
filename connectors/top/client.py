"""TOP gateway client: signed calls, and TOP's HTTP-200 `error_response` turned into typed errors.

Every parameter goes in the POST form body (as the Go SDK sends them), never in the URL: a URL
ends up in proxy logs and in transport error messages, and `session` is a credential. Every
attempt gets a fresh timestamp and signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError
from connectors.common.http import HttpClient
from connectors.common.signing import SIGN_METHODS, sign
from connectors.common.timeutil import format_cst
from connectors.config import ShopConfig

_BAN_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*more second")


def response_root(method: str) -> str:
    """`taobao.trades.sold.increment.get` -> `trades_sold_increment_get_response`."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


class TopClient(GatewayClient):
    platform = "TOP"
    codes = ErrorCodes(
        throttled=frozenset({"4", "5", "6", "7", "8"}),  # call limits; code 7 says how long the ban lasts
        retriable=frozenset({"10"}),  # service unavailable
        retriable_sub_prefixes=("isp.",),  # the platform's side: try again later
        credentials={"25": "app_secret", "26": "session", "27": "session", "28": "app_key", "29": "app_key"},
        clock=frozenset({"31"}),
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.sign_method = self.sign_method_option(SIGN_METHODS, "md5")
        self.app_key = shop.credential("app_key")
        self.app_secret = shop.credential("app_secret")
        self.session = shop.credential("session")

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        system = {
            "method": method,
            "app_key": self.app_key,
            "session": self.session,
            "timestamp": format_cst(self.now()),
            "format": "json",
            "v": "2.0",
            "sign_method": self.sign_method,
        }
        form = {**system, **{k: str(v) for k, v in business.items()}}
        form["sign"] = sign(form, self.app_secret, self.sign_method)
        return {"data": form}

    def error_of(self, body: Any) -> PlatformError | None:
        error = body.get("error_response")
        if not error:
            return None
        ban = _BAN_SECONDS.search(str(error.get("sub_msg") or ""))
        return PlatformError(
            code=str(error.get("code") or ""),
            message=f"{error.get('msg')}" + (f" ({error.get('sub_msg')})" if error.get("sub_msg") else ""),
            sub_code=str(error.get("sub_code") or ""),
            retry_after=float(ban.group(1)) if ban else None,
        )

    def response_root(self, method: str) -> str:
        return response_root(method)
