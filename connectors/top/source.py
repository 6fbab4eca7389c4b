"""Tmall and Taobao trades over TOP's incremental API (`taobao.trades.sold.increment.get`).

Windows of at most one day (TOP's cap; `window_minutes` shortens them), paged backwards from the
last page (connectors/common/windowed.py says why). Receiver ciphertexts are dropped before
landing; `buyer_open_uid` is the buyer key.

With the shop option `decrypt_phones = true`, the receiver's mobile is decrypted through
`taobao.top.oaid.decrypt` (channel-protocols.md §2.8) right after each page is fetched, hashed at
once with the pipeline's keyed hasher and landed only as `receiver_phone_hash`; the plain number
is never kept, landed or logged. A privacy-protected order's "mobile" is a virtual number
(`18877771111-123`), not the person's: it lands as `receiver_phone_virtual: true` with no hash.
A trade TOP cannot decrypt (`matched=false`: its oaid changed since the list call) lands without
a hash (`receiver_phone_virtual` null) and is counted in one note. Queries go 20 to a call (TOP's
maximum), each (tid, oaid) once per pull however many versions of the trade land; with the
default page size (a multiple of 20) a window costs ceil(its trades / 20) calls.

Every call declares scene 2002 (客户关怀, customer care). Decrypting receivers to recognise the
same customer across channels is a compliance decision for the merchant, not a technical one:
turn the option on only where the merchant's privacy notice and its TOP data-security obligations
cover that use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.pii import UNDECRYPTED, PiiHasher, ReceiverPhone, decrypted_receiver, scrub_fields
from connectors.common.timeutil import format_cst, parse_cst
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig
from connectors.top.client import TopClient

METHOD = "taobao.trades.sold.increment.get"
FIELDS = (
    "tid,status,type,created,pay_time,consign_time,end_time,modified,total_fee,discount_fee,adjust_fee,"
    "post_fee,payment,received_payment,buyer_open_uid,buyer_nick,seller_nick,receiver_name,receiver_mobile,"
    "receiver_phone,receiver_address,receiver_state,receiver_city,receiver_district,oaid,trade_from,orders"
)
# Ciphertexts: removed before landing (the mobile, if wanted, is decrypted through the oaid).
ENCRYPTED_FIELDS = ("receiver_name", "receiver_mobile", "receiver_phone", "receiver_address")
DECRYPT_METHOD = "taobao.top.oaid.decrypt"
DECRYPT_BATCH = 20  # §2.8: query_list holds at most 20 items
DECRYPT_SCENE = "2002"  # 客户关怀 (customer care); see the module docstring


def listed(body: dict[str, Any], key: str, wrapper: str) -> list[dict[str, Any]]:
    """A missing list, `{}` and `{"<wrapper>": []}` all mean empty; simplify=true gives a list."""
    items = body.get(key) or []
    if isinstance(items, dict):
        items = items.get(wrapper) or []
    return list(items)


def trades_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return listed(body, "trades", "trade")


def phone_key(trade: dict[str, Any]) -> tuple[str, str]:
    """A trade's receiver as TOP addresses it: decrypted once per (tid, oaid)."""
    return str(trade["tid"]), str(trade.get("oaid") or "")


def receiver_phone(receiver: dict[str, Any] | None, pii: PiiHasher) -> ReceiverPhone:
    """One `receiver_list` item as it may land: the mobile's and name's hashes, or a virtual number's flag."""
    if not receiver or receiver.get("matched") is not True:
        return UNDECRYPTED
    landed = decrypted_receiver(
        str(receiver.get("mobile") or ""),
        receiver.get("privacy_protection") is True,
        pii,
        name=receiver.get("name"),
    )
    return landed or UNDECRYPTED  # not a mainland mobile number: nothing we can key a person on


class TopSource(WindowedOrderSource):
    max_window = timedelta(days=1)
    max_page_size = 100
    # TOP's quotas are per app key and API category; the per-second figure is unpublished (reference
    # §2): 40/s is the sandbox's, override with the shop option `calls_per_second` (0: no pacing).
    # Every Tmall and Taobao shop of one app key, in any process, shares it.
    calls_per_second = 40.0
    # A page is fetched and landed by its window and number alone (the receivers' decryption, which
    # remembers what a pull decrypted, turns the page workers off)
    stateless_pages = True

    def quota_scope(self) -> str | None:
        return f"top|{self.shop.require('gateway_url')}|{self.shop.credential('app_key')}"

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = TopClient(shop, self.http)
        self.decrypt_phones = shop.flag("decrypt_phones")
        if self.decrypt_phones:
            self.page_workers = 0
        self.phones: dict[tuple[str, str], ReceiverPhone] = {}  # (tid, oaid) -> decrypted, this pull

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        self.phones = {}
        yield from super().pull(entity, start, end)
        failed = sum(phone.virtual is None for phone in self.phones.values())
        if failed:
            self.stats.notes.append(
                f"{failed} trade(s) landed without receiver_phone_hash: TOP's oaid decrypt did not match "
                "(the receiver changed since the trade was listed) or gave no mobile number; they are "
                "decrypted again when a newer version of the trade is pulled"
            )

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        body = self.client.call(
            METHOD,
            {
                "fields": FIELDS,
                "start_modified": format_cst(start),
                "end_modified": format_cst(end),
                "page_no": page,
                "page_size": self.page_size,
                "use_has_next": "false",  # backward paging needs the total
            },
        )
        trades = trades_of(body)
        if self.decrypt_phones:
            self._decrypt(trades)
        return Page(trades, int(body.get("total_results") or 0))

    def _decrypt(self, trades: list[dict[str, Any]]) -> None:
        """Decrypt the mobiles of the trades not yet decrypted in this pull, 20 to a call."""
        new = [key for key in dict.fromkeys(map(phone_key, trades)) if key not in self.phones]
        # no oaid: TOP sends it only when all five receiver fields are asked for
        self.phones.update({key: UNDECRYPTED for key in new if not key[1]})
        todo = [key for key in new if key[1]]
        for at in range(0, len(todo), DECRYPT_BATCH):
            batch = todo[at : at + DECRYPT_BATCH]
            queries = [{"oaid": oaid, "tid": tid, "scene": DECRYPT_SCENE} for tid, oaid in batch]
            body = self.client.call(DECRYPT_METHOD, {"query_list": json.dumps(queries)})
            answers = {
                (str(r.get("tid")), str(r.get("oaid"))): r for r in listed(body, "receiver_list", "receiver")
            }
            for key in batch:
                self.phones[key] = receiver_phone(answers.get(key), self.pii)

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(str(record["tid"]), parse_cst(record["modified"]), record.get("status"))

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.decrypt_phones:
            phone = self.phones.get(phone_key(record), UNDECRYPTED)
            record["receiver_phone_hash"] = phone.hash
            record["receiver_phone_virtual"] = phone.virtual
            record["receiver_name_hash"] = phone.name_hash
        return scrub_fields(record, self.pii, drop=ENCRYPTED_FIELDS)
