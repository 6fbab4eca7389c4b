"""Request signatures of the Alibaba-style gateways (channel-protocols.md §2.3, §3.2, §4.2), shared by
connectors and simulators: TOP (Tmall/Taobao), JD JOS and Pinduoduo all sign the same way.

Every parameter except `sign` (and empty values), sorted by name in byte order, concatenated as
name+value. `md5` wraps the string in the secret; `hmac` and `hmac-sha256` key the HMAC with it.
Upper-case hex. (Douyin signs differently: connectors/douyin/signing.py.)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def canonical_string(params: Mapping[str, object]) -> str:
    return "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] not in (None, ""))


def sign(params: Mapping[str, object], secret: str, method: str = "md5") -> str:
    text = canonical_string(params).encode("utf-8")
    key = secret.encode("utf-8")
    if method == "md5":
        return hashlib.md5(key + text + key).hexdigest().upper()  # noqa: S324 - the platform's algorithm
    if method == "hmac":
        return hmac.new(key, text, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, text, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown sign_method '{method}' (use one of {', '.join(SIGN_METHODS)})")
