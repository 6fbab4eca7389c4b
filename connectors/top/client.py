"""TOP gateway client: signed calls, and TOP's HTTP-200 `error_response` turned into typed errors.

Every parameter goes in the POST form body (as the Go SDK sends them), never in the URL: a URL
ends up in proxy logs and in transport error messages, and `session` is a credential. Every
attempt gets a fresh timestamp and signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
import requests

from connectors.common.errors import CredentialError, FatalError, ProtocolError, RateLimited, RetriableError
from connectors.common.http import HttpClient
from connectors.common.timeutil import format_cst, utc_now
from connectors.config import ShopConfig
from connectors.top.signing import SIGN_METHODS, sign

_THROTTLE_CODES = {4, 5, 6, 7, 8}
_BAN_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*more second")
# Which credential (and so which environment variable) an authentication error points at.
_CREDENTIAL_CODES = {25: "app_secret", 26: "session", 27: "session", 28: "app_key", 29: "app_key"}


def response_root(method: str) -> str:
    """`taobao.trades.sold.increment.get` -> `trades_sold_increment_get_response`."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


class TopClient:
    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        self.shop = shop
        self.http = http
        self.gateway_url = str(shop.require("gateway_url"))
        self.sign_method = str(shop.option("sign_method", "md5"))
        if self.sign_method not in SIGN_METHODS:
            raise FatalError(
                shop.channel,
                shop.shop_id,
                f"option sign_method '{self.sign_method}' is not one of {', '.join(SIGN_METHODS)}",
            )
        self.app_key = shop.credential("app_key")
        self.app_secret = shop.credential("app_secret")
        self.session = shop.credential("session")

    def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        form = {k: str(v) for k, v in business.items()}

        def prepare() -> dict[str, Any]:
            system = {
                "method": method,
                "app_key": self.app_key,
                "session": self.session,
                "timestamp": format_cst(utc_now()),
                "format": "json",
                "v": "2.0",
                "sign_method": self.sign_method,
            }
            system["sign"] = sign({**system, **form}, self.app_secret, self.sign_method)
            return {"data": {**system, **form}}

        return self.http.request("POST", self.gateway_url, lambda r: self._check(r, method), prepare=prepare)

    def _check(self, response: requests.Response, method: str) -> dict[str, Any]:
        channel, shop_id = self.shop.channel, self.shop.shop_id
        if response.status_code >= 500 or response.status_code == 429:
            raise RetriableError(channel, shop_id, f"TOP gateway HTTP {response.status_code}")
        if response.status_code != 200:
            raise FatalError(
                channel, shop_id, f"TOP gateway HTTP {response.status_code}: {response.text[:200]}"
            )
        body = orjson.loads(response.content)
        error = body.get("error_response")
        if error:
            self._raise(error)
        root = response_root(method)
        if root not in body:
            raise ProtocolError(channel, shop_id, f"TOP answer has neither {root} nor error_response")
        result: dict[str, Any] = body[root]
        return result

    def _raise(self, error: Mapping[str, Any]) -> None:
        channel, shop_id = self.shop.channel, self.shop.shop_id
        code = int(error.get("code") or 0)
        sub_code = str(error.get("sub_code") or "")
        text = f"TOP error {code} {error.get('msg')}" + (
            f" ({sub_code}: {error.get('sub_msg')})" if sub_code else ""
        )
        if code in _THROTTLE_CODES:
            ban = _BAN_SECONDS.search(str(error.get("sub_msg") or ""))
            raise RateLimited(channel, shop_id, text, float(ban.group(1)) if ban else None)
        if code == 10 or sub_code.startswith("isp."):  # the platform's side: try again later
            raise RetriableError(channel, shop_id, text)
        if code in _CREDENTIAL_CODES:
            credential = _CREDENTIAL_CODES[code]
            raise CredentialError(
                channel, shop_id, f"{text}: check the {credential}", env_var=self.shop.env_var_for(credential)
            )
        raise FatalError(channel, shop_id, text)
