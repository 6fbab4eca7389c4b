"""Douyin shop (抖店) request signing (channel-protocols.md §5.1), shared by connector and simulator.

Unlike the Alibaba-style gateways, only five fixed parameters are signed, in a fixed order, and
`param_json` is the request body serialised canonically: keys sorted at every level, compact, with
`&`, `<` and `>` escaped as the platform's Go serialiser does. Lower-case hex.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGN_METHODS = ("hmac-sha256", "md5")


def canonical_param_json(params: Any) -> str:
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def sign_string(app_key: str, app_secret: str, method: str, param_json: str, timestamp: str, v: str) -> str:
    inner = f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{v}"
    return f"{app_secret}{inner}{app_secret}"


def sign(
    app_key: str,
    app_secret: str,
    method: str,
    param_json: str,
    timestamp: str,
    v: str = "2",
    sign_method: str = "hmac-sha256",
) -> str:
    text = sign_string(app_key, app_secret, method, param_json, timestamp, v).encode("utf-8")
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode("utf-8"), text, hashlib.sha256).hexdigest()
    if sign_method == "md5":
        return hashlib.md5(text).hexdigest()  # noqa: S324 - the platform's algorithm
    raise ValueError(f"unknown Douyin sign_method '{sign_method}' (use one of {', '.join(SIGN_METHODS)})")
