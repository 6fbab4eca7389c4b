"""GA4 Data API client (channel-protocols.md §12.1): `runReport` with a Bearer token.

GA4 answers with real HTTP statuses and `{"error": {"code", "message", "status"}}`. What each means
for a pull: 401 / 403 are the credential or the property (fatal, naming the variable to fix); 429
RESOURCE_EXHAUSTED is retried with backoff when the hourly tokens or the concurrent requests ran out,
but fatal at once when the property's *daily* tokens are spent (retrying cannot help until the day
resets); 5xx are retried; any other 4xx is a bad request, fatal with GA4's own message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from connectors.common.errors import CredentialError, FatalError, ProtocolError, RateLimited, RetriableError
from connectors.common.gateway import json_exact
from connectors.common.http import HttpClient
from connectors.common.timeutil import utc_now
from connectors.config import ShopConfig

# How a 429 names the daily token quota, and when that quota starts again: both unverified (Google
# resets daily quotas at midnight Pacific Time; the message wording is the sandbox's).
DAILY_QUOTA_MARKERS = ("per day", "tokensPerDay")
DAILY_QUOTA_RESET_ZONE = "America/Los_Angeles"


def next_midnight(zone: str, now: datetime | None = None) -> datetime:
    """The next 00:00 in `zone` after `now` (aware)."""
    local = (now or utc_now()).astimezone(ZoneInfo(zone))
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))


class Ga4Client:
    def __init__(self, entry: ShopConfig, http: HttpClient) -> None:
        self.entry = entry
        self.http = http
        self.property_id = str(entry.require("property_id"))
        base_url = str(entry.require("base_url")).rstrip("/")
        self.url = f"{base_url}/properties/{self.property_id}:runReport"
        self.headers = {
            "Authorization": f"Bearer {entry.credential('access_token')}",
            "Accept": "application/json",
        }

    def run_report(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.http.request("POST", self.url, self._check, json=dict(body), headers=self.headers)

    def _check(self, response: requests.Response) -> dict[str, Any]:
        channel, shop_id = self.entry.channel, self.entry.shop_id
        code = response.status_code
        where = f"GA4 property {self.property_id}"
        if code == 200:
            body = json_exact(response.content)
            if not isinstance(body, dict):
                raise ProtocolError(channel, shop_id, f"{where} answered a JSON {type(body).__name__}")
            return body
        status, message = self._error(response)
        said = f"HTTP {code} {status}: {message}"
        if code == 401:
            raise CredentialError(
                channel,
                shop_id,
                f"{where} refused the access token ({said}): renew the token",
                env_var=self.entry.env_var_for("access_token"),
            )
        if code == 403:
            raise CredentialError(
                channel,
                shop_id,
                f"{where} is not readable with this token ({said}): check the option property_id and "
                "that the token's account has access to the property",
                env_var=self.entry.env_var_for("access_token"),
            )
        if code == 429:
            if any(marker in message for marker in DAILY_QUOTA_MARKERS):
                reset = next_midnight(DAILY_QUOTA_RESET_ZONE)
                raise FatalError(
                    channel,
                    shop_id,
                    f"{where}: the property's daily token quota is spent ({said}); it resets at midnight "
                    f"{DAILY_QUOTA_RESET_ZONE} ({reset.isoformat()}), so retrying before then cannot help",
                )
            raise RateLimited(channel, shop_id, f"{where} is throttled ({said})")
        if code >= 500:
            raise RetriableError(channel, shop_id, f"{where}: {said}")
        raise FatalError(channel, shop_id, f"{where} rejected the request ({said})")

    @staticmethod
    def _error(response: requests.Response) -> tuple[str, str]:
        """(status, message) of GA4's error body, or the start of whatever came instead."""
        try:
            body = json_exact(response.content)
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return str(error.get("status") or ""), str(error.get("message") or "")
        return "", response.text[:200]
