"""Pinduoduo POP gateway client (channel-protocols.md §4.1, §4.2): one router URL, every parameter
(system and business) in the POST form, so the access token never sits in a URL. The md5
signature covers them all and is made afresh, with a new UNIX-seconds timestamp, for every attempt
(the gateway rejects a timestamp more than 10 minutes off). Objects and arrays are JSON-stringified
and booleans sent as `true`/`false`, as the official SDKs do.

Answers are parsed with `json_exact`: PDD sends yuan as JSON numbers, which must never pass
through a binary float. Errors are `error_response` with an integer `error_code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError, json_exact
from connectors.common.http import HttpClient
from connectors.common.signing import sign
from connectors.config import ShopConfig

# The response root is not derivable from the API name (`pdd.order.number.list.increment.get`
# answers under `order_sn_increment_get_response`).
RESPONSE_ROOTS = {
    "pdd.order.number.list.increment.get": "order_sn_increment_get_response",
    "pdd.order.list.get": "order_list_get_response",
}


def form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


class PinduoduoClient(GatewayClient):
    platform = "PDD"
    codes = ErrorCodes(
        # §4.5: 52101 当前接口被限流 and 70031 调用过于频繁 say slow down; 50000 系统内部错误 and the
        # 52102/52103 degradations pass. 10019 expired token, 20032 bad token or client id, 20004
        # bad signature, 10016 bad client id.
        throttled=frozenset({"52101", "70031"}),
        retriable=frozenset({"50000", "52102", "52103"}),
        credentials={
            "10019": "access_token",
            "20032": "access_token",
            "20004": "client_secret",
            "10016": "client_id",
        },
        clock=frozenset({"10001"}),  # a common parameter wrong: the timestamp
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.client_id = shop.credential("client_id")
        self.client_secret = shop.credential("client_secret")
        self.access_token = shop.credential("access_token")

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        form = {k: form_value(v) for k, v in business.items()}
        form.update(
            type=method,
            client_id=self.client_id,
            access_token=self.access_token,
            timestamp=str(int(self.now().timestamp())),
            data_type="JSON",
            version="V1",
        )
        form["sign"] = sign(form, self.client_secret, "md5")
        return {"data": form}

    def parse(self, content: bytes) -> Any:
        return json_exact(content)

    def error_of(self, body: Any) -> PlatformError | None:
        error = body.get("error_response")
        if not error:
            return None
        code = str(error.get("error_code") or "")
        texts = dict.fromkeys(str(m) for m in (error.get("error_msg"), error.get("sub_msg")) if m)
        sub_code = str(error.get("sub_code") or "")
        return PlatformError(code, " / ".join(texts), "" if sub_code == code else sub_code)

    def response_root(self, method: str) -> str:
        return RESPONSE_ROOTS.get(method) or method.removeprefix("pdd.").replace(".", "_") + "_response"
