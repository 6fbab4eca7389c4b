"""PII scrubbing: plain phones, emails, names and addresses never reach disk.

Each value is replaced by HMAC-SHA256(key, "<kind>:<normalised value>") in hex, so the same phone
hashes the same on every channel (identity resolution joins on it) while the value cannot be read
back without the key. The key comes from the environment (OMNI_PII_KEY) and is never written.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import multiprocessing.context
import re
from dataclasses import dataclass

_NON_DIGITS = re.compile(r"\D+")


def normalise_phone(value: str) -> str | None:
    """Digits only, without the China country code: '+86 138-0013-8000' -> '13800138000'."""
    digits = _NON_DIGITS.sub("", value)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    return digits or None


def mask_phone(value: str | None) -> str | None:
    """The masked form platforms show and operators recognise: 138****8000."""
    return _mask_digits(normalise_phone(value)) if value else None


def _mask_digits(digits: str | None) -> str | None:
    if not digits or len(digits) < 7:
        return None
    return f"{digits[:3]}****{digits[-4:]}"


@dataclass(frozen=True)
class ReceiverPhone:
    """What lands of an order's decrypted receiver mobile: its hash, or that it was a virtual number
    (隐私号, which is not the person's and is never hashed as a phone). Never the number itself."""

    hash: str | None = None
    virtual: bool | None = None  # None: not decrypted (no ciphertext, or the decrypt failed)
    name_hash: str | None = None  # the receiver name decrypted with it, hashed (when the platform gives it)


UNDECRYPTED = ReceiverPhone()
VIRTUAL = ReceiverPhone(None, True)
# A virtual number is a mobile host and an extension: "18877771111-123" (TOP), "18400913965-7576" (Douyin).
VIRTUAL_NUMBER = re.compile(r"1\d{10}-\d{1,6}")


def decrypted_receiver(
    text: str, virtual: bool, pii: PiiHasher, name: str | None = None
) -> ReceiverPhone | None:
    """A decrypted receiver mobile (and name, if decrypted with it) as it may land; None when the
    mobile is not a mainland mobile number (nothing to key a person on: the caller counts it as a
    failure). A virtual number's name is not kept either: the order's receiver is unknown."""
    if virtual or VIRTUAL_NUMBER.fullmatch(text.strip()):
        return VIRTUAL
    digits = normalise_phone(text)
    if not digits or len(digits) != 11 or not digits.startswith("1"):
        return None
    return ReceiverPhone(pii.phone(digits), False, pii.person_name(name))


# A surname and a form of address, as people write them on parcels instead of their name.
COURTESY_NAME = re.compile(r".{1,2}(先生|女士|小姐)")


class PiiHasher:
    # One order repeats its buyer's phone, email and name in several places (customer, billing and
    # shipping address) and a buyer's next order repeats them again: the digests of recent values
    # are kept (in memory only; the LRU bound keeps it to a few MB) — profiling a Shopify pull, HMAC
    # set-up was half of the connector's time.
    CACHE_SIZE = 1 << 15
    RAW_CACHE_SIZE = 1 << 12

    def __init__(self, key: str | bytes) -> None:
        if not key:
            raise ValueError("the PII hashing key is empty: set OMNI_PII_KEY")
        self._key = key.encode("utf-8") if isinstance(key, str) else key
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)
        self._digest = functools.lru_cache(maxsize=self.CACHE_SIZE)(self._hmac)
        # The values as they came, before normalising: an order's customer and its two addresses
        # repeat one phone and name, which were normalised again each time. Scrubbing a Shopify
        # order: 192k -> 124k instructions (callgrind), 31-33 -> 21-25 µs. Recent values only: the
        # repeats within an order and a run of one buyer's orders.
        raw_cache = functools.lru_cache(maxsize=self.RAW_CACHE_SIZE)
        self._phone_of = raw_cache(self._phone_uncached)
        self._email_of = raw_cache(self._email_uncached)
        self._text_of = raw_cache(self._text_uncached)

    def __reduce__(self) -> tuple[type[PiiHasher], tuple[bytes]]:
        """A hasher (and its key) is pickled only to start a connector's page worker, through the pipe
        the new process reads its start-up from (connectors.common.page_workers); anywhere else, so
        that it cannot reach a file (an IO manager's pickle, a cache), pickling it fails."""
        if multiprocessing.context.get_spawning_popen() is None:
            raise TypeError(
                "a PiiHasher is not pickled (its key must not reach a file) except to start a worker"
            )
        return PiiHasher, (self._key,)

    def _hmac(self, kind: str, normalised: str) -> str:
        mac = self._keyed.copy()  # the key's inner and outer pads, computed once
        mac.update(f"{kind}:{normalised}".encode())
        return mac.hexdigest()

    def phone(self, value: str | None) -> str | None:
        return self.phone_fields(value)[0]

    def phone_fields(self, value: object) -> tuple[str | None, str | None]:
        """A phone as it came: (its hash, its masked form), None for either it has not."""
        return self._phone_of(str(value)) if value else (None, None)

    def _phone_uncached(self, value: str) -> tuple[str | None, str | None]:
        digits = normalise_phone(value)  # once, for the hash and the mask
        return self.phone_digits(digits), _mask_digits(digits)

    def phone_digits(self, digits: str | None) -> str | None:
        """`phone` of a number already normalised (normalise_phone)."""
        return self._digest("phone", digits) if digits else None

    def email(self, value: str | None) -> str | None:
        return self._email_of(str(value)) if value else None

    def _email_uncached(self, value: str) -> str | None:
        normalised = value.strip().lower()
        return self._digest("email", normalised) if normalised else None

    def person_name(self, value: str | None) -> str | None:
        """A person's whole name, hashed for comparing people (`text(value, "name")`); None for a
        courtesy form (王先生, 李女士, 张小姐), which names nobody in particular."""
        if value is None or COURTESY_NAME.fullmatch("".join(str(value).split())):
            return None
        return self.text(value, "name")

    def text(self, value: str | None, kind: str = "text") -> str | None:
        """Names and addresses: whitespace-folded, then hashed (kind separates name from address)."""
        return None if value is None else self._text_of(str(value), kind)

    def _text_uncached(self, value: str, kind: str) -> str | None:
        folded = " ".join(value.split())
        return self._digest(kind, folded) if folded else None


def scrub_fields(
    record: dict,
    pii: PiiHasher,
    *,
    phones: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
    names: tuple[str, ...] = (),
    addresses: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
) -> dict:
    """Replace plain PII fields of one object, in place (the convention every connector follows):
    a phone X becomes X_hash + X_masked, an email X_hash, a name or address line X_hash; `drop`
    fields (e.g. ciphertexts we cannot use) are removed with nothing in their place."""
    for key in phones:
        if key in record:
            record[f"{key}_hash"], record[f"{key}_masked"] = pii.phone_fields(record.pop(key))
    for key in emails:
        if key in record:
            record[f"{key}_hash"] = pii.email(record.pop(key))
    for key in names:
        if key in record:
            record[f"{key}_hash"] = pii.text(record.pop(key), "name")
    for key in addresses:
        if key in record:
            record[f"{key}_hash"] = pii.text(record.pop(key), "address")
    for key in drop:
        record.pop(key, None)
    return record
