"""1688 (Alibaba open platform, AOP) gateway client (channel-protocols.md §9).

One URL per API, `{base_url}/param2/1/<namespace>/<api>/<appKey>`; every parameter, the access
token included, travels in the POST form (the token never sits in a URL) with `_aop_signature`
(signing.py). Answers are parsed with `json_exact`, so yuan amounts sent as JSON numbers never pass
through a float; ids are read from their string twins (`idOfStr`), never from the JSON numbers.

Unverified, kept as constants and matching the sandbox: the error envelope
`{"error_code", "error_message"}`, its codes, and its HTTP status. The reference leaves open
whether errors come in an HTTP 200 or a 4xx, so both are read: a 4xx whose body carries an
`error_code` is classified like a 200 error (a throttle is retried, a bad credential names its
variable) instead of failing as a bare HTTP error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from connectors.alibaba_1688.signing import SIGNATURE_PARAM, sign, url_path
from connectors.common.gateway import ErrorCodes, GatewayClient, PlatformError, json_exact
from connectors.common.http import HttpClient
from connectors.common.timeutil import CHINA_TZ
from connectors.config import ShopConfig

NAMESPACE = "com.alibaba.trade"
# yyyyMMddHHmmssSSS+0800: 17 digits of local time with milliseconds, then the UTC offset.
_TIME = re.compile(r"(\d{14})(\d{3})([+-])(\d{2})(\d{2})")


def format_time(ts: datetime) -> str:
    """An aware instant as 1688 writes it, in Beijing time: `20240601000000000+0800`."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: pass an aware datetime")
    local = ts.astimezone(CHINA_TZ)
    return f"{local:%Y%m%d%H%M%S}{local.microsecond // 1000:03d}+0800"


def parse_time(text: str) -> datetime:
    """`yyyyMMddHHmmssSSS+0800` -> aware datetime; any other form is a ValueError (no guessing)."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"'{text}' is not a 1688 time (yyyyMMddHHmmssSSS+0800)")
    local, millis, sign_, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign_ == "-" else 1)
    naive = datetime.strptime(local, "%Y%m%d%H%M%S")
    return naive.replace(microsecond=int(millis) * 1000, tzinfo=timezone(offset))


class Alibaba1688Client(GatewayClient):
    error_statuses = frozenset(range(400, 500))  # errors may come with a 4xx status (unverified)
    platform = "1688"
    codes = ErrorCodes(
        # All unverified (the reference has no code table); they match the sandbox.
        throttled=frozenset({"gw.QpsOverrun"}),
        retriable=frozenset({"gw.ServiceUnavailable"}),
        credentials={
            "gw.AppKeyNotExist": "app_key",
            "gw.SignatureInvalid": "app_secret",
            "gw.InvalidAccessToken": "access_token",
        },
    )

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        super().__init__(shop, http)
        self.base_url = str(shop.require("base_url")).rstrip("/")
        self.app_key = shop.credential("app_key")
        self.app_secret = shop.credential("app_secret")
        self.access_token = shop.credential("access_token")

    def url(self, method: str) -> str:
        return f"{self.base_url}/{url_path(NAMESPACE, method, self.app_key)}"

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        form = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in business.items()}
        form["access_token"] = self.access_token
        form[SIGNATURE_PARAM] = sign(url_path(NAMESPACE, method, self.app_key), form, self.app_secret)
        return {"data": form}

    def parse(self, content: bytes) -> Any:
        return json_exact(content)

    def error_of(self, body: Any) -> PlatformError | None:
        if "error_code" not in body:
            return None
        return PlatformError(str(body["error_code"]), str(body.get("error_message") or ""))

    def result_of(self, body: Any, method: str) -> dict[str, Any]:
        if "result" not in body:
            raise self.missing_envelope("result")
        result: dict[str, Any] = body
        return result
