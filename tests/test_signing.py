"""Every signature vector in channel-protocols.md: TOP §2.3, JD §3.2, Pinduoduo §4.2, Douyin §5.1."""

import pytest

from connectors.common.signing import sign
from connectors.douyin import signing as douyin

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
    with pytest.raises(ValueError, match="unknown sign_method"):
        sign(base, "test", "sha1")


def test_jd_reference_vector_signs_360buy_param_json_first():
    business = (
        '{"start_date":"2024-06-01 09:00:00","end_date":"2024-06-01 10:00:00",'
        '"order_state":"WAIT_SELLER_STOCK_OUT","optional_fields":"orderId,orderState,modified",'
        '"page":"1","page_size":"50","dateType":"0"}'
    )
    params = {
        "method": "jingdong.pop.order.enSearch",
        "app_key": "APPKEY1",
        "access_token": "tokJD",
        "timestamp": "2024-06-01 10:00:00",
        "v": "2.0",
        "360buy_param_json": business,
    }
    assert sign(params, "jdsecret", "md5") == "5B87A48E3F5C584C60EF3976DCA77AE8"


def test_pinduoduo_reference_vector():
    params = {
        "type": "pdd.order.number.list.increment.get",
        "client_id": "cid123",
        "access_token": "tok456",
        "timestamp": 1717207200,
        "data_type": "JSON",
        "start_updated_at": 1717205400,
        "end_updated_at": 1717207200,
        "is_lucky_flag": 0,
        "order_status": 5,
        "refund_status": 5,
        "page": 1,
        "page_size": 100,
        "use_has_next": "true",
    }
    assert sign(params, "sec789", "md5") == "8EE0EC4D476D08B1F2C0185BBFFEDB3D"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("md5", "a84d3597bbb7aaeb0540d1022623165c"),  # published (a client's unit test)
        ("hmac-sha256", "8a5350b8fdacaa753c0885ab9859d382a31de4add09c6943c1d34298bd2165f1"),
    ],
)
def test_douyin_published_vectors(method, expected):
    param_json = douyin.canonical_param_json({"size": 100, "page": 0})
    assert param_json == '{"page":0,"size":100}'
    assert douyin.sign_string(
        "appkey123", "secret123", "order.searchList", param_json, "1800000000", "2"
    ) == (
        "secret123app_keyappkey123methodorder.searchListparam_json"
        '{"page":0,"size":100}timestamp1800000000v2secret123'
    )
    assert douyin.sign(
        "appkey123", "secret123", "order.searchList", param_json, "1800000000", "2", method
    ) == (expected)


def test_douyin_param_json_is_canonical_at_every_level_and_escapes_html_characters():
    body = {"b": {"z": 1, "a": "x&y<z>"}, "a": [{"d": 2, "c": 1}]}
    assert (
        douyin.canonical_param_json(body)
        == '{"a":[{"c":1,"d":2}],"b":{"a":"x\\u0026y\\u003cz\\u003e","z":1}}'
    )


def test_alibaba_1688_reference_vector_signs_the_url_path_then_sorted_pairs():
    from connectors.alibaba_1688 import signing as aop

    path = aop.url_path("com.alibaba.trade", "alibaba.trade.getSellerOrderList", "1234567")
    params = {
        "access_token": "tok1688",
        "modifyStartTime": "20240601000000000+0800",
        "modifyEndTime": "20240602000000000+0800",
        "page": 1,
        "pageSize": 20,
    }
    assert aop.sign_string(path, params) == (
        "param2/1/com.alibaba.trade/alibaba.trade.getSellerOrderList/1234567access_tokentok1688"
        "modifyEndTime20240602000000000+0800modifyStartTime20240601000000000+0800page1pageSize20"
    )
    assert aop.sign(path, params, "sec1688") == "3370425D5A6856CFF1FFAE66E5735D3A76A2229E"
    assert aop.sign(path, {**params, "_aop_signature": "X"}, "sec1688") == aop.sign(path, params, "sec1688")


def test_meituan_reference_vector_signs_the_url_then_sorted_pairs_then_the_secret():
    from connectors.meituan import signing as meituan

    url = "https://waimaiopen.meituan.com/api/v1/order/getOrderDetail"
    params = {"timestamp": 1717207200, "order_id": "1234567890123", "app_id": "10001"}
    assert meituan.sign_string(url, params, "mtsecret") == (
        f"{url}?app_id=10001&order_id=1234567890123&timestamp=1717207200mtsecret"
    )
    assert meituan.sign(url, params, "mtsecret") == "726b2e96d3844857d7547d9629c9f47a"
    assert meituan.sign(url, {**params, "sig": "x"}, "mtsecret") == meituan.sign(url, params, "mtsecret")
    assert meituan.sign(url.replace("getOrderDetail", "getOrderDaySeq"), params, "mtsecret") != (
        "726b2e96d3844857d7547d9629c9f47a"
    )
