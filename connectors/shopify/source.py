"""Shopify streams: orders (with line items, fulfillments and refunds) and customers.

Shopify has no window cap, so a whole range is one cursor chain on `updated_at`. Rows are kept
to the half-open window (Shopify's bounds are inclusive) and de-duplicated by id and version; PII
(emails, phones, names, address lines) is hashed before the page leaves this module. Parsing and
scrubbing cost more than downloading: past a long pull's first pages, `landing_rows` runs in page
worker processes (connectors.common.page_workers) while the pull downloads the next pages.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from connectors.common.errors import ProtocolError
from connectors.common.http import HttpClient, PullStats
from connectors.common.page_workers import DEFAULT_WORKERS, in_workers
from connectors.common.pii import PiiHasher, scrub_fields
from connectors.common.records import LandingRows, dumps_record
from connectors.common.timeutil import utc_now
from connectors.config import ShopConfig
from connectors.shopify.client import MAX_PAGE_SIZE, Page, ShopifyClient

_ADDRESS_KEYS = ("billing_address", "shipping_address", "default_address")
SHOPIFY_HISTORY = timedelta(days=60)
# Starting the workers costs about a second (each imports this module): measured, that pays off
# from about 20 pages of 250 orders (benchmarks/results/peers.md); shorter pulls start no process.
INLINE_PAGES = 20


def scrub_shopify(record: dict[str, Any], pii: PiiHasher) -> dict[str, Any]:
    """Orders and customers alike: the record, its customer, and every address it carries."""
    if "first_name" in record or "last_name" in record:
        # the whole name, family name first (Chinese order), hashed like the other platforms' names
        whole = f"{record.get('last_name') or ''}{record.get('first_name') or ''}"
        record["name_hash"] = pii.person_name(whole)
    scrub_fields(
        record, pii, phones=("phone",), emails=("email", "contact_email"), names=("first_name", "last_name")
    )
    customer = record.get("customer")
    if isinstance(customer, dict):
        scrub_shopify(customer, pii)
    addresses = [record.get(key) for key in _ADDRESS_KEYS] + list(record.get("addresses") or [])
    for address in addresses:
        if isinstance(address, dict):
            scrub_fields(
                address,
                pii,
                phones=("phone",),
                names=("first_name", "last_name", "name"),
                addresses=("address1", "address2"),
            )
    return record


def landing_rows(
    pii: PiiHasher, page: Page, *, entity: str, start: datetime, end: datetime
) -> LandingRows | None:
    """One page as landing rows: parsed, kept to the window, PII scrubbed; None when its body does
    not parse (cut short in transit: the caller fetches the page again). On a long pull this runs in
    a page worker (connectors.common.page_workers), so it takes all it needs as arguments."""
    try:
        records = orjson.loads(page.body).get(entity) or []
    except (orjson.JSONDecodeError, AttributeError):
        return None
    rows = LandingRows()
    for record in records:
        updated = datetime.fromisoformat(record["updated_at"]).astimezone(UTC)
        if start <= updated < end:
            status = record.get("financial_status") if entity == "orders" else record.get("state")
            rows.append(str(record["id"]), updated, status, dumps_record(scrub_shopify(record, pii)))
    return rows


class ShopifySource:
    entities = ("orders", "customers")

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        self.shop = shop
        self.pii = pii
        self.stats = PullStats()
        self.page_size = min(int(shop.option("page_size", MAX_PAGE_SIZE)), MAX_PAGE_SIZE)
        # Parsing and scrubbing a page costs more than downloading it: after the first few pages of
        # a pull, pages are worked on in this many other processes (0: all in this one).
        self.page_workers = int(shop.option("page_workers", DEFAULT_WORKERS))
        self.inline_pages = int(shop.option("inline_pages", INLINE_PAGES))
        self.client = ShopifyClient(shop, HttpClient(shop.channel, shop.shop_id, stats=self.stats))

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        if entity not in self.entities:
            raise ValueError(
                f"the Shopify connector has no entity '{entity}' (it has {', '.join(self.entities)})"
            )
        params: dict[str, Any] = {
            "limit": self.page_size,
            "updated_at_min": start.astimezone(UTC).isoformat(),
            "updated_at_max": end.astimezone(UTC).isoformat(),
        }
        if entity == "orders":
            params["status"] = "any"  # the default, 'open', would skip closed and cancelled orders
            if start < utc_now() - SHOPIFY_HISTORY:
                self.stats.notes.append(
                    "window starts more than 60 days ago: Shopify serves older orders only to apps with the "
                    "read_all_orders scope"
                )
        rows_of = functools.partial(landing_rows, entity=entity, start=start, end=end)
        pages = self.client.pages(entity, params)
        seen: set[object] = set()
        for page, rows in in_workers(
            rows_of, self.pii, pages, workers=self.page_workers, inline_pages=self.inline_pages
        ):
            if rows is None:  # its body was cut short: fetched again here, with the client's retries
                rows = rows_of(self.pii, self.client.refetch(page))
                if rows is None:
                    detail = f"a page of {entity} is not an object holding {entity}: {page.url}"
                    raise ProtocolError(self.shop.channel, self.shop.shop_id, detail)
            self.stats.pages += 1
            rows = rows.unseen(seen)
            self.stats.rows += len(rows.record_ids)
            if rows.record_ids:
                yield rows.page(utc_now())

    def close(self) -> None:
        self.client.http.session.close()
