"""Shopify streams: orders (with line items, fulfillments and refunds) and customers.

Shopify has no window cap, so a whole range is one cursor chain on `updated_at`. Rows are kept
to the half-open window (Shopify's bounds are inclusive) and de-duplicated by id; PII (emails,
phones, names, address lines) is hashed before the page leaves this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.http import HttpClient, PullStats
from connectors.common.pii import PiiHasher, scrub_fields
from connectors.common.records import dumps_record, landing_page
from connectors.common.timeutil import utc_now
from connectors.config import ShopConfig
from connectors.shopify.client import MAX_PAGE_SIZE, ShopifyClient

_ADDRESS_KEYS = ("billing_address", "shipping_address", "default_address")
SHOPIFY_HISTORY = timedelta(days=60)


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


class ShopifySource:
    entities = ("orders", "customers")

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        self.shop = shop
        self.pii = pii
        self.stats = PullStats()
        self.page_size = min(int(shop.option("page_size", MAX_PAGE_SIZE)), MAX_PAGE_SIZE)
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
        # A record modified while we page may come twice; keep each version once (staging keeps the latest).
        seen: set[tuple[str, datetime]] = set()
        for records in self.client.pages(entity, params):
            self.stats.pages += 1
            ids, modified, statuses, bodies = [], [], [], []
            for record in records:
                record_id = str(record["id"])
                updated = datetime.fromisoformat(record["updated_at"]).astimezone(UTC)
                if not start <= updated < end or (record_id, updated) in seen:
                    continue
                seen.add((record_id, updated))
                ids.append(record_id)
                modified.append(updated)
                statuses.append(record.get("financial_status") if entity == "orders" else record.get("state"))
                bodies.append(dumps_record(scrub_shopify(record, self.pii)))
            self.stats.rows += len(ids)
            if ids:
                yield landing_page(ids, modified, statuses, bodies, utc_now())

    def close(self) -> None:
        self.client.http.session.close()
