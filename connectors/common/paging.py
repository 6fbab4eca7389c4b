"""Small, named paging pieces shared by the platform clients."""

from __future__ import annotations

import re

from connectors.common.errors import ProtocolError

_LINK_PART = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-zA-Z]+)"?')


def parse_link_header(header: str | None) -> dict[str, str]:
    """RFC 8288 Link header -> {rel: url}.

    Shopify: '<https://…page_info=…>; rel="next", <…>; rel="previous"'.
    """
    if not header:
        return {}
    return {rel: url for url, rel in _LINK_PART.findall(header)}


class CursorGuard:
    """Fails loudly when a platform hands back a cursor it already gave (an endless paging loop)."""

    def __init__(self, channel: str, shop_id: str) -> None:
        self._seen: set[str] = set()
        self._channel = channel
        self._shop_id = shop_id

    def check(self, cursor: str) -> None:
        if cursor in self._seen:
            raise ProtocolError(
                self._channel, self._shop_id, f"paging loop: cursor repeated ({cursor[:40]}…)"
            )
        self._seen.add(cursor)


def last_page_number(total: int, page_size: int) -> int:
    """Number of pages for `total` rows (0 when there are none)."""
    if total < 0 or page_size <= 0:
        raise ValueError(f"bad paging arguments total={total} page_size={page_size}")
    return (total + page_size - 1) // page_size
