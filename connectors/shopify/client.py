"""Shopify REST Admin client: token header, envelope check, Link-header paging, and pacing that
keeps a pull inside the shop's leaky bucket instead of bouncing off 429s."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import requests

from connectors.common.errors import CredentialError, FatalError, RateLimited, RetriableError
from connectors.common.http import HttpClient
from connectors.common.paging import CursorGuard, parse_link_header
from connectors.config import ShopConfig

API_VERSION = "2024-10"
MAX_PAGE_SIZE = 250


@dataclass(frozen=True)
class Page:
    """One downloaded page: where it came from (to fetch it again) and its body, unparsed."""

    url: str
    params: dict[str, Any] | None
    body: bytes


class ShopifyClient:
    def __init__(
        self, shop: ShopConfig, http: HttpClient, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.shop = shop
        self.http = http
        self.sleep = sleep
        version = shop.option("api_version", API_VERSION)
        self.base_url = f"{str(shop.require('base_url')).rstrip('/')}/admin/api/{version}"
        self.headers = {
            "X-Shopify-Access-Token": shop.credential("access_token"),
            "Accept": "application/json",
        }
        # Standard plans leak 2 calls/s (Plus: 20); pause before the bucket is this close to full.
        self.leak_per_second = float(shop.option("leak_per_second", 2.0))
        self.headroom = int(shop.option("bucket_headroom", 4))

    def _pace(self, call_limit: str | None) -> None:
        """X-Shopify-Shop-Api-Call-Limit: 'used/size'. Wait until the next call leaves headroom."""
        if not call_limit or "/" not in call_limit:
            return
        used, size = (int(part) for part in call_limit.split("/", 1))
        excess = used - (size - self.headroom)
        if excess > 0:
            self.sleep(excess / self.leak_per_second)

    def _check(self, response: requests.Response) -> tuple[bytes, str | None]:
        channel, shop_id = self.shop.channel, self.shop.shop_id
        status = response.status_code
        if status == 429:
            retry_after = response.headers.get("Retry-After")
            raise RateLimited(
                channel, shop_id, "HTTP 429 from Shopify", float(retry_after) if retry_after else None
            )
        if status in (401, 403):
            raise CredentialError(
                channel,
                shop_id,
                f"Shopify refused the access token (HTTP {status})",
                env_var=self.shop.env_var_for("access_token"),
            )
        if status >= 500:
            raise RetriableError(channel, shop_id, f"Shopify HTTP {status}")
        if status != 200:
            raise FatalError(
                channel, shop_id, f"Shopify HTTP {status} for {response.url}: {response.text[:300]}"
            )
        self._pace(response.headers.get("X-Shopify-Shop-Api-Call-Limit"))
        return response.content, parse_link_header(response.headers.get("Link")).get("next")

    def _check_parsed(self, response: requests.Response) -> tuple[bytes, str | None]:
        """As `_check`, and the body must parse (a body cut short is retried like a dropped connection)."""
        body, next_url = self._check(response)
        orjson.loads(body)
        return body, next_url

    def _check_paged(self, response: requests.Response) -> tuple[bytes, str | None]:
        """As `_check`; a page without a next link must also parse before the paging ends on it (an
        answer that is not the page, e.g. a proxy's, would have no Link header either)."""
        body, next_url = self._check(response)
        if next_url is None:
            orjson.loads(body)
        return body, next_url

    def pages(self, resource: str, params: dict[str, Any]) -> Iterator[Page]:
        """Every page of `resource` for the filters in `params`, following `rel=next` verbatim. The
        bodies come unparsed but the last (the paging needs only the Link header), so the caller may
        parse them elsewhere; one that does not parse is fetched again with `refetch`."""
        url: str | None = f"{self.base_url}/{resource}.json"
        query: dict[str, Any] | None = params
        guard = CursorGuard(self.shop.channel, self.shop.shop_id)
        while url:
            body, next_url = self.http.request(
                "GET", url, self._check_paged, params=query, headers=self.headers
            )
            yield Page(url, query, body)
            if next_url:
                guard.check(next_url)
            url, query = next_url, None  # the cursor carries the filters

    def refetch(self, page: Page) -> Page:
        """The page again, retried until its body parses (or the retries run out)."""
        self.http.stats.retries += 1
        body, _ = self.http.request(
            "GET", page.url, self._check_parsed, params=page.params, headers=self.headers
        )
        return Page(page.url, page.params, body)
