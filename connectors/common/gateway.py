"""The shape every Chinese marketplace gateway shares: one signed call per request, business errors
in an HTTP 200 body, and an error-code table saying which codes mean "slow down", "try again" or
"fix this credential".

A platform client subclasses `GatewayClient` and supplies how a request is built and signed
(`prepare`), where the error and the result sit in its envelope (`error_of`, `result_of`) and its
`ErrorCodes`. Deciding what an error *means* for the pull happens here, once for every platform.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import requests

from connectors.common.errors import CredentialError, FatalError, ProtocolError, RateLimited, RetriableError
from connectors.common.http import HttpClient
from connectors.common.timeutil import utc_now
from connectors.config import ShopConfig


@dataclass(frozen=True)
class PlatformError:
    """A business error as the platform reported it, normalised to text codes."""

    code: str
    message: str
    sub_code: str = ""
    retry_after: float | None = None  # when the platform says how long a ban lasts

    def __str__(self) -> str:
        return f"error {self.code} {self.message}" + (f" [{self.sub_code}]" if self.sub_code else "")


@dataclass(frozen=True)
class ErrorCodes:
    """What a platform's codes mean. Codes are compared as text; sub-codes by prefix."""

    throttled: frozenset[str] = frozenset()
    retriable: frozenset[str] = frozenset()
    credentials: Mapping[str, str] = field(default_factory=dict)  # code -> the credential at fault
    retriable_sub_prefixes: tuple[str, ...] = ()
    # codes (or sub-codes) that, when their message names the timestamp, say our clock is off the
    # platform's (every signing gateway allows ±10 minutes)
    clock: frozenset[str] = frozenset()


def json_exact(content: bytes) -> Any:
    """JSON with every non-integer number as Decimal: yuan amounts sent as JSON numbers (Pinduoduo)
    never pass through a binary float."""
    return json.loads(content, parse_float=Decimal)


class GatewayClient:
    platform = "gateway"  # how messages name the platform: "TOP", "JOS", ...
    http_method = "POST"
    codes = ErrorCodes()
    # Most gateways put business errors in an HTTP 200; a platform that may also send them with a
    # 4xx status (1688, unverified) lists those statuses: their bodies are read as error envelopes.
    error_statuses: frozenset[int] = frozenset()

    def __init__(self, shop: ShopConfig, http: HttpClient) -> None:
        self.shop = shop
        self.http = http
        self.clock_offset = timedelta(0)  # the platform's clock minus ours, once it rejected ours

    def now(self) -> datetime:
        """The time to sign requests with: ours, or the platform's once it said ours is off."""
        return utc_now() + self.clock_offset

    # --- what a platform supplies --------------------------------------------------------------

    def url(self, method: str) -> str:
        """Default: one router URL for every method, the shop's `gateway_url` option."""
        return str(self.shop.require("gateway_url"))

    def response_root(self, method: str) -> str:
        """The key the result sits under, e.g. `trades_sold_increment_get_response`."""
        raise NotImplementedError

    def prepare(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """`requests` keyword arguments for one attempt (fresh timestamp and signature each time)."""
        raise NotImplementedError

    def error_of(self, body: Any) -> PlatformError | None:
        raise NotImplementedError

    def result_of(self, body: Any, method: str) -> dict[str, Any]:
        root = self.response_root(method)
        if root not in body:
            raise self.missing_envelope(root)
        result: dict[str, Any] = body[root]
        return result

    def parse(self, content: bytes) -> Any:
        return orjson.loads(content)

    # --- shared --------------------------------------------------------------------------------

    def sign_method_option(self, allowed: tuple[str, ...], default: str) -> str:
        """The shop's `sign_method` option, checked against what the platform supports."""
        method = str(self.shop.option("sign_method", default))
        if method not in allowed:
            raise FatalError(
                self.shop.channel,
                self.shop.shop_id,
                f"option sign_method '{method}' is not one of {', '.join(allowed)}",
            )
        return method

    def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        return self.http.request(
            self.http_method,
            self.url(method),
            lambda response: self._check(response, method),
            prepare=lambda: self.prepare(method, business),
        )

    def _check(self, response: requests.Response, method: str) -> dict[str, Any]:
        channel, shop_id = self.shop.channel, self.shop.shop_id
        if response.status_code in self.error_statuses:
            error = self._error_in(response.content)
            if error is not None:
                raise self._clock_error(error, response) or self.classify(error)
        if response.status_code >= 500 or response.status_code == 429:
            raise RetriableError(channel, shop_id, f"{self.platform} gateway HTTP {response.status_code}")
        if response.status_code != 200:
            raise FatalError(
                channel,
                shop_id,
                f"{self.platform} gateway HTTP {response.status_code}: {response.text[:200]}",
            )
        body = self.parse(response.content)
        if not isinstance(body, dict):
            raise ProtocolError(channel, shop_id, f"{self.platform} answered a JSON {type(body).__name__}")
        error = self.error_of(body)
        if error is not None:
            raise self._clock_error(error, response) or self.classify(error)
        return self.result_of(body, method)

    def _clock_error(self, error: PlatformError, response: requests.Response) -> Exception | None:
        """A timestamp rejected as off the platform's clock: take the platform's time from the
        HTTP Date header and let the call be signed again (a retriable error); fatal when the
        platform tells no time or rejects its own."""
        if not (error.code in self.codes.clock or error.sub_code in self.codes.clock):
            return None
        if "timestamp" not in f"{error.message} {error.sub_code}".lower():
            return None
        channel, shop_id = self.shop.channel, self.shop.shop_id
        text = f"{self.platform} {error}"
        try:
            platform_time = email.utils.parsedate_to_datetime(response.headers["Date"])
        except (KeyError, TypeError, ValueError):
            return FatalError(
                channel, shop_id, f"{text}: set this machine's clock (NTP); the platform tells no time"
            )
        offset = timedelta(seconds=round((platform_time - utc_now()).total_seconds()))
        if self.clock_offset and abs(offset - self.clock_offset) < timedelta(seconds=5):
            return FatalError(channel, shop_id, f"{text}, even signed with the platform's own time")
        self.clock_offset = offset
        self.http.stats.notes.append(
            f"the {self.platform} gateway's clock is {offset.total_seconds():+.0f} s from this machine's: "
            "signing with its time (set this machine's clock: NTP)"
        )
        return RetriableError(channel, shop_id, f"{text}: signing again with the platform's time")

    def _error_in(self, content: bytes) -> PlatformError | None:
        try:
            body = self.parse(content)
        except ValueError:
            return None
        return self.error_of(body) if isinstance(body, dict) else None

    def classify(self, error: PlatformError) -> Exception:
        channel, shop_id = self.shop.channel, self.shop.shop_id
        text = f"{self.platform} {error}"
        if error.code in self.codes.throttled or error.sub_code in self.codes.throttled:
            return RateLimited(channel, shop_id, text, error.retry_after)
        if error.code in self.codes.retriable or (
            error.sub_code and error.sub_code.startswith(self.codes.retriable_sub_prefixes or ("\0",))
        ):
            return RetriableError(channel, shop_id, text)
        credential = self.codes.credentials.get(error.code) or self.codes.credentials.get(error.sub_code)
        if credential:
            return CredentialError(
                channel, shop_id, f"{text}: check the {credential}", env_var=self.shop.env_var_for(credential)
            )
        return FatalError(channel, shop_id, text)

    def missing_envelope(self, root: str) -> ProtocolError:
        return ProtocolError(
            self.shop.channel, self.shop.shop_id, f"{self.platform} answer has neither {root} nor an error"
        )
