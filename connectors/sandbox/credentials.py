"""The sandbox's own credentials: fixed, public and useless anywhere but on loopback.

Real shops never use these: their credentials come from environment variables (.env.example).
"""

from __future__ import annotations

TOP_APP_KEY = "12345678"
TOP_APP_SECRET = "sandbox-top-secret"  # noqa: S105 - a public sandbox value


def shopify_token(shop_id: str) -> str:
    return f"shpat_sandbox_{shop_id}"


def top_session(shop_id: str) -> str:
    return f"sandbox-session-{shop_id}"
