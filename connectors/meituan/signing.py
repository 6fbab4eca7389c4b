"""Meituan open-platform request signing (channel-protocols.md §8, §14.1), shared by the connector
and the simulator.

The signed text is the exact URL the request goes to, without its query (scheme, host and path: a
request signed for one path or host fails on another), then `?`, then every parameter except `sig`
sorted by name as `k=v` joined by `&` (values unencoded), then the app secret. MD5, lower-case hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

SIGNATURE_PARAM = "sig"


def sign_string(url: str, params: Mapping[str, object], secret: str) -> str:
    query = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != SIGNATURE_PARAM)
    return f"{url}?{query}{secret}"


def sign(url: str, params: Mapping[str, object], secret: str) -> str:
    return hashlib.md5(sign_string(url, params, secret).encode("utf-8")).hexdigest()  # noqa: S324 - the platform's algorithm
