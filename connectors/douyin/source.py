"""Douyin shop (抖店) orders over `order.searchList` (channel-protocols.md §5).

Update-time windows (epoch seconds) of at most 90 days, pages counted from 0, paged backwards
from the last one newest-first (connectors/common/windowed.py says why). The buyer key is
`doudian_open_id`. Receiver ciphertexts are dropped before landing; the masked phone is kept, the
masked name dropped (a surname is still a fragment of a name). Money is integer fen, `order_id` a
string (ids exceed 2^53): it is landed as text and never parsed as a number.

Receiver phones (opt-in per shop: option `decrypt_phones = true`): after a page is fetched, the
`encrypt_post_tel` of orders not yet decrypted in this pull go to `order.batchDecrypt` (at most 50
a call, `auth_id` = order id); each answer is hashed at once with the pipeline's keyed hasher and
only `receiver_phone_hash` lands, never the number. A privacy-protected order (隐私号) decrypts to
a virtual number (`is_virtual_tel`, or the `host-extension` form): it is not the person's phone, so
it lands as `receiver_phone_virtual: true` without a hash. An item that fails (`err_no` != 0, no
answer, or not a mainland mobile number) lands without a hash and is counted in one note per pull;
a failing call stops the pull like a failing list call. The platform allows decrypting receivers
for shipping and customer care; using the hash to recognise a customer across channels is the
merchant's compliance decision, made by turning the option on.

All Douyin facts come from third-party clients. Unverified and kept as constants: the 90-day window
cap, that both window bounds are inclusive at one-second resolution, the field names, and the look
of a virtual number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.common.errors import FatalError
from connectors.common.pii import UNDECRYPTED, PiiHasher, ReceiverPhone, decrypted_receiver
from connectors.common.windowed import Identity, Page, WindowedOrderSource
from connectors.config import ShopConfig
from connectors.douyin.client import DouyinClient

METHOD = "order.searchList"
MAX_WINDOW = timedelta(days=90)  # one third-party client caps at ~90 days (unverified)
DROPPED_FIELDS = ("encrypt_post_receiver", "encrypt_post_tel", "mask_post_receiver")
DROPPED_ADDRESS_FIELDS = ("encrypt_detail",)
DECRYPT_METHOD = "order.batchDecrypt"
MAX_DECRYPT_BATCH = 50  # reference §5.3


class DouyinSource(WindowedOrderSource):
    max_window = MAX_WINDOW
    max_page_size = 100
    default_page_size = 100
    first_page = 0
    inclusive_end = True  # update_time_start/_end taken as inclusive epoch seconds (unverified)

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        super().__init__(shop, pii)
        self.client = DouyinClient(shop, self.http)
        self.decrypt_phones = shop.flag("decrypt_phones")
        self.receivers: dict[str, ReceiverPhone] = {}  # order id -> decrypted this pull
        self.decrypt_failures: Counter[str] = Counter()  # reason -> orders

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        self.receivers, self.decrypt_failures = {}, Counter()
        yield from super().pull(entity, start, end)
        if self.decrypt_failures:
            reasons = ", ".join(f"{reason} x{n}" for reason, n in sorted(self.decrypt_failures.items()))
            self.stats.notes.append(
                f"{DECRYPT_METHOD} gave no receiver phone for {sum(self.decrypt_failures.values())} "
                f"order(s) ({reasons}): landed without receiver_phone_hash"
            )

    def fetch_page(self, start: datetime, end: datetime, page: int) -> Page:
        data = self.client.call(
            METHOD,
            {
                "page": page,
                "size": self.page_size,
                "update_time_start": int(start.timestamp()),
                "update_time_end": int(end.timestamp()),
                "order_by": "update_time",
                "order_asc": False,  # newest first: backward paging relies on it
            },
        )
        records = list(data.get("shop_order_list") or [])
        if self.decrypt_phones:
            self.decrypt(records)
        return Page(records, int(data.get("total") or 0))

    def decrypt(self, records: list[dict[str, Any]]) -> None:
        """Decrypt (and hash at once) the phones of the orders on a page not decrypted yet."""
        wanted: dict[str, str] = {}
        for record in records:
            order_id, cipher = str(record["order_id"]), record.get("encrypt_post_tel")
            if cipher and order_id not in self.receivers:
                wanted.setdefault(order_id, str(cipher))
        batch_ids = list(wanted)
        for first in range(0, len(batch_ids), MAX_DECRYPT_BATCH):
            batch = batch_ids[first : first + MAX_DECRYPT_BATCH]
            try:
                data = self.client.call(
                    DECRYPT_METHOD,
                    {"cipher_infos": [{"auth_id": i, "cipher_text": wanted[i]} for i in batch]},
                )
            except FatalError as exc:
                if type(exc) is not FatalError:  # a credential error already names its fix
                    raise
                raise FatalError(
                    self.shop.channel,
                    self.shop.shop_id,
                    f"{exc.detail} while decrypting receiver phones (option decrypt_phones): "
                    f"{DECRYPT_METHOD} needs the app's decrypt permission, or set decrypt_phones = false",
                ) from exc
            answers = {str(info.get("auth_id")): info for info in data.get("decrypt_infos") or []}
            for order_id in batch:
                self.receivers[order_id] = self.receiver(answers.get(order_id))

    def receiver(self, answer: dict[str, Any] | None) -> ReceiverPhone:
        if answer is None or str(answer.get("err_no", 0)) != "0":
            self.decrypt_failures["no answer" if answer is None else f"err_no {answer['err_no']}"] += 1
            return UNDECRYPTED
        landed = decrypted_receiver(
            str(answer.get("decrypt_text") or ""), answer.get("is_virtual_tel") is True, self.pii
        )
        if landed is None:
            self.decrypt_failures["not a mobile number"] += 1  # nothing to key a person on
            return UNDECRYPTED
        return landed

    def identify(self, record: dict[str, Any]) -> Identity:
        return Identity(
            str(record["order_id"]),
            datetime.fromtimestamp(int(record["update_time"]), UTC),
            str(record.get("order_status")),
        )

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        scrubbed = {k: v for k, v in record.items() if k not in DROPPED_FIELDS}
        address = record.get("post_addr")
        if isinstance(address, dict):
            scrubbed["post_addr"] = {k: v for k, v in address.items() if k not in DROPPED_ADDRESS_FIELDS}
        if self.decrypt_phones:
            receiver = self.receivers.get(str(record["order_id"]), UNDECRYPTED)
            scrubbed["receiver_phone_hash"] = receiver.hash
            scrubbed["receiver_phone_virtual"] = receiver.virtual
        return scrubbed
