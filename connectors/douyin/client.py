"""Douyin shop (抖店) open-platform client (channel-protocols.md §5.1).

Douyin's protocol puts the system parameters, `access_token` and the signature in the query string
and the business parameters in the JSON body, which *is* `param_json`: the body is serialised
canonically (douyin/signing.py) and exactly those bytes are signed and sent. The shared HttpClient
strips query strings from every error and log line, so the token does not leak through them.

Success is `code == 10000` in `{code, msg, sub_code, sub_msg, data, log_id}`; older SDKs saw
`{err_no: 0, message, data}`, accepted too. Which codes mean "throttled" is unverified and matches
the sandbox (50002 / isp.service-limited).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError
from connectors.common.http import HttpClient
from connectors.common.timeutil import format_cst
from connectors.config import ShopConfig
from connectors.douyin.signing import SIGN_METHODS, canonical_param_json, sign

SUCCESS = 10000
API_VERSION = "2"


class DouyinClient(GatewayClient):
    platform = "Douyin"
    codes = ErrorCodes(
        throttled=frozenset({"50002", "isp.service-limited"}),  # unverified: Douyin's limits are unpublished
        # 40003 also covers bad parameters, so only its sub-codes name a credential. 30001 (the app
        # lacks the permission, or an unknown app_key) stays a plain FatalError.
        credentials={"isv.access-token-expired": "access_token", "isv.signature-invalid": "app_secret"},
        clock=frozenset({"isv.parameter-invalid:timestamp"}),
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.base_url = str(shop.require("base_url")).rstrip("/")
        self.sign_method = self.sign_method_option(SIGN_METHODS, "hmac-sha256")
        self.app_key = shop.credential("app_key")
        self.app_secret = shop.credential("app_secret")
        self.access_token = shop.credential("access_token")

    def url(self, method: str) -> str:
        """`order.searchList` -> `{base_url}/order/searchList`."""
        return f"{self.base_url}/{method.replace('.', '/')}"

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        param_json = canonical_param_json(dict(business))
        timestamp = format_cst(self.now())
        query = {
            "app_key": self.app_key,
            "method": method,
            "access_token": self.access_token,
            "timestamp": timestamp,
            "v": API_VERSION,
            "sign_method": self.sign_method,
            "sign": sign(
                self.app_key, self.app_secret, method, param_json, timestamp, API_VERSION, self.sign_method
            ),
        }
        return {
            "params": query,
            "data": param_json.encode("utf-8"),
            "headers": {"Content-Type": "application/json; charset=utf-8"},
        }

    def error_of(self, body: Any) -> PlatformError | None:
        if "code" in body:
            if str(body["code"]) == str(SUCCESS):
                return None
            message = str(body.get("msg") or "") + (f" ({body['sub_msg']})" if body.get("sub_msg") else "")
            return PlatformError(str(body["code"]), message, str(body.get("sub_code") or ""))
        if "err_no" in body and str(body["err_no"]) != "0":  # the older envelope
            return PlatformError(str(body["err_no"]), str(body.get("message") or ""))
        return None

    def result_of(self, body: Any, method: str) -> dict[str, Any]:
        data = body.get("data")
        if not isinstance(data, dict):
            raise self.missing_envelope("data")
        return data
