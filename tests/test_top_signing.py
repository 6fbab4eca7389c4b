"""TOP signature vectors from channel-protocols.md §2.3 (published and reference)."""

import pytest

from connectors.top.signing import sign

DOC_EXAMPLE = {
    "method": "taobao.user.seller.get",
    "timestamp": "2013-05-06 13:52:03",
    "format": "xml",
    "app_key": "test",
    "v": "2.0",
    "fields": "nick",
    "session": "test",
}


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("md5", "72CB4D809B375A54502C09360D879C64"),  # published (official doc example)
        ("hmac", "FA15A9D5B42AB2D6F3397843851ED09A"),
        ("hmac-sha256", "267B9C1C7A2FE1CE413DBB95E596616D32107AE0992BE2C22143CFCE303E8E34"),
    ],
)
def test_doc_example_vectors(method, expected):
    assert sign({**DOC_EXAMPLE, "sign_method": method}, "test", method) == expected


def test_incremental_api_vector():
    params = {
        "method": "taobao.trades.sold.increment.get",
        "app_key": "12345678",
        "session": "sess-abc",
        "timestamp": "2024-06-01 10:00:00",
        "format": "json",
        "v": "2.0",
        "sign_method": "md5",
        "fields": "tid,status,payment,modified,orders",
        "start_modified": "2024-06-01 09:00:00",
        "end_modified": "2024-06-01 09:30:00",
        "page_no": 1,
        "page_size": 100,
        "use_has_next": "true",
    }
    assert sign(params, "secretX", "md5") == "B448FDF80EC91711017FB7C136393579"


def test_sign_and_empty_values_do_not_count_and_unknown_methods_fail():
    base = {**DOC_EXAMPLE, "sign_method": "md5"}
    assert sign({**base, "sign": "X", "partner_id": ""}, "test") == sign(base, "test")
    with pytest.raises(ValueError, match="unknown TOP sign_method"):
        sign(base, "test", "sha1")
