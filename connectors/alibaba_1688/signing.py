"""1688 (Alibaba open platform, AOP) request signing (channel-protocols.md §9, §14.1), shared by the
connector and the simulator.

Unlike TOP/JD/PDD (connectors/common/signing.py), the signed text starts with the URL path of the
call, `param2/1/<namespace>/<api>/<appKey>`, so the app key is signed through the URL; then every
parameter except `_aop_signature` itself, each as name+value, the *pairs* sorted as strings (not
the names) and concatenated. HMAC-SHA1 keyed with the app secret, upper-case hex. Empty values are
kept (the reference does not drop them, unlike JD).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_PARAM = "_aop_signature"
PROTOCOL = "param2"
VERSION = "1"


def url_path(namespace: str, api: str, app_key: str) -> str:
    """`param2/1/com.alibaba.trade/alibaba.trade.getSellerOrderList/<appKey>`: no leading slash."""
    return f"{PROTOCOL}/{VERSION}/{namespace}/{api}/{app_key}"


def sign_string(path: str, params: Mapping[str, object]) -> str:
    return path + "".join(sorted(f"{k}{v}" for k, v in params.items() if k != SIGNATURE_PARAM))


def sign(path: str, params: Mapping[str, object], secret: str) -> str:
    text = sign_string(path, params).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), text, hashlib.sha1).hexdigest().upper()
