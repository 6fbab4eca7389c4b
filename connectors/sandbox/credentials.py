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


JD_APP_KEY = "JDSANDBOXAPPKEY"
JD_APP_SECRET = "sandbox-jd-secret"  # noqa: S105 - a public sandbox value
PDD_CLIENT_ID = "sandbox-pdd-client"
PDD_CLIENT_SECRET = "sandbox-pdd-secret"  # noqa: S105 - a public sandbox value
DOUYIN_APP_KEY = "7000000000000000001"
DOUYIN_APP_SECRET = "sandbox-douyin-secret"  # noqa: S105 - a public sandbox value


def marketplace_token(shop_id: str) -> str:
    """The sandbox access token of a JD, Pinduoduo or Douyin shop."""
    return f"sandbox-token-{shop_id}"


YOUZAN_CLIENT_ID = "sandbox-youzan-client"
YOUZAN_CLIENT_SECRET = "sandbox-youzan-secret"  # noqa: S105 - a public sandbox value
YOUZAN_KDT_ID = "91000001"  # the mini-program store's Youzan shop id (grant_id)
ALIBABA_1688_APP_KEY = "1688001"
ALIBABA_1688_APP_SECRET = "sandbox-1688-secret"  # noqa: S105 - a public sandbox value
MEITUAN_APP_ID = "10001"
MEITUAN_APP_SECRET = "sandbox-meituan-secret"  # noqa: S105 - a public sandbox value
GA4_ACCESS_TOKEN = "ya29.sandbox-ga4-token"  # noqa: S105 - a public sandbox value (a service account's)
OCEANENGINE_ACCESS_TOKEN = "sandbox-oceanengine-token"  # noqa: S105 - a public sandbox value


def simba_subway_token(shop_id: str) -> str:
    """直通车's own token (subway_token), one per shop, on top of the TOP session."""
    return f"sandbox-subway-{shop_id}"
