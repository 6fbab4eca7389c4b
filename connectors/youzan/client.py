"""Youzan 有赞 open-platform client (channel-protocols.md §6).

No per-call signature: an OAuth token from `POST {base_url}/auth/token` (silent grant for the shop's
`kdt_id`) travels in the query string (`access_token=…`, the protocol; the shared HttpClient strips
query strings from every error and log line), the business parameters in a JSON body. Answers are
`{"success":true,"code":200,"data":…}` or `{"success":false,"code":…,"message":…}`, HTTP 200.

Tokens expire (days), so the client fetches one on its first call and, when the platform rejects
it as expired or invalid, fetches one more and repeats the call once. That lives here, not in the
HttpClient's retries: a retry there would resend the same dead token.

Unverified and kept as constants (they match the sandbox): the error codes, the envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.common.errors import FatalError, ProtocolError
from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError
from connectors.common.http import HttpClient
from connectors.config import ShopConfig

AUTH_PATH = "/auth/token"
TOKEN_CODES = frozenset({"4201", "4203"})  # access_token invalid / expired (unverified)


class TokenRejected(FatalError):
    """The platform refused the access token: fetch a new one (once), not retry the same."""


class YouzanClient(GatewayClient):
    platform = "Youzan"
    codes = ErrorCodes(
        throttled=frozenset({"4003"}),
        # 40010: the app's client_id/client_secret pair is wrong (unverified). A wrong kdt_id
        # (40011) is an option, not a credential: a plain FatalError.
        credentials={"40010": "client_secret"},
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.base_url = str(shop.require("base_url")).rstrip("/")
        self.kdt_id = str(shop.require("kdt_id"))
        self.client_id = shop.credential("client_id")
        self.client_secret = shop.credential("client_secret")
        self.access_token: str | None = None

    def url(self, method: str) -> str:
        """`youzan.trades.sold.get/4.0.4` -> `{base_url}/api/youzan.trades.sold.get/4.0.4`."""
        return f"{self.base_url}/api/{method}"

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        return {"params": {"access_token": self.access_token}, "json": dict(business)}

    def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        if self.access_token is None:
            self.fetch_token()
        try:
            return super().call(method, business)
        except TokenRejected:
            self.fetch_token()
            return super().call(method, business)  # a fresh token rejected too: that propagates

    def fetch_token(self) -> None:
        data = self.http.request(
            "POST",
            self.base_url + AUTH_PATH,
            lambda response: self._check(response, AUTH_PATH),
            json={
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "authorize_type": "silent",
                "grant_id": self.kdt_id,
            },
        )
        if not data.get("access_token"):
            raise ProtocolError(
                self.shop.channel, self.shop.shop_id, "Youzan token answer has no access_token"
            )
        self.access_token = str(data["access_token"])

    def error_of(self, body: Any) -> PlatformError | None:
        if body.get("success") is True or ("success" not in body and str(body.get("code")) == "200"):
            return None
        return PlatformError(str(body.get("code")), str(body.get("message") or ""))

    def classify(self, error: PlatformError) -> Exception:
        if error.code in TOKEN_CODES:
            return TokenRejected(self.shop.channel, self.shop.shop_id, f"{self.platform} {error}")
        return super().classify(error)

    def result_of(self, body: Any, method: str) -> dict[str, Any]:
        data = body.get("data")
        if not isinstance(data, dict):
            raise self.missing_envelope("data")
        return data
