"""PiiHasher: one hash per person's value however a platform writes it, cached or not."""

from __future__ import annotations

import hashlib
import hmac

from connectors.common.pii import PiiHasher, scrub_fields


def keyed(key: str, kind: str, normalised: str) -> str:
    """The documented hash, computed here without the hasher: HMAC-SHA256(key, "<kind>:<value>")."""
    return hmac.new(key.encode(), f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def test_a_value_written_differently_hashes_the_same_and_another_key_hashes_otherwise():
    pii = PiiHasher("test-key")
    for written in ("+86 138-0013-8000", "13800138000", 13800138000, "0086 13800138000"):
        assert pii.phone(written) == keyed("test-key", "phone", "13800138000")
    assert pii.phone_fields("+86 138 0013 8000") == (pii.phone("13800138000"), "138****8000")
    assert pii.email(" Wang.Li@Example.COM ") == keyed("test-key", "email", "wang.li@example.com")
    assert (
        pii.text("王  小明", "name") == pii.text(" 王 小明 ", "name") == keyed("test-key", "name", "王 小明")
    )
    assert pii.text("王 小明", "address") == keyed("test-key", "address", "王 小明")
    assert pii.phone("13800138000") != PiiHasher("another-key").phone("13800138000")
    # nothing to hash: None, never a hash of an empty string
    assert pii.phone("") is None and pii.phone("no digits") is None and pii.phone_fields(None) == (None, None)
    assert pii.email("   ") is None and pii.email(None) is None
    assert pii.text("  ") is None and pii.text(None) is None


def test_hashes_do_not_depend_on_what_the_caches_hold():
    class TinyCaches(PiiHasher):
        CACHE_SIZE = 2
        RAW_CACHE_SIZE = 2

    values = [f"1380013{n:04d}" for n in range(50)] + [f"+86 1380013{n:04d}" for n in range(50)]
    emails = [f"Buyer{n}@Example.com" for n in range(50)]
    tiny = TinyCaches("k")
    for _ in range(2):  # the second round after the tiny caches evicted everything
        assert [tiny.phone_fields(v) for v in values] == [
            (keyed("k", "phone", f"1380013{n % 50:04d}"), f"138****{n % 50:04d}") for n in range(100)
        ]
        assert [tiny.email(v) for v in emails] == [
            keyed("k", "email", f"buyer{n}@example.com") for n in range(50)
        ]


def test_scrub_fields_replaces_every_plain_value():
    pii = PiiHasher("k")
    record = {
        "phone": "138-0013-8000",
        "email": "a@b.cn",
        "first_name": "小明",
        "address1": "路 1 号",
        "x": 1,
    }
    scrub_fields(
        record, pii, phones=("phone",), emails=("email",), names=("first_name",), addresses=("address1",)
    )
    assert record == {
        "x": 1,
        "phone_hash": pii.phone("13800138000"),
        "phone_masked": "138****8000",
        "email_hash": pii.email("a@b.cn"),
        "first_name_hash": pii.text("小明", "name"),
        "address1_hash": pii.text("路 1 号", "address"),
    }
