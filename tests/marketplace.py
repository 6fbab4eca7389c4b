"""Checks every windowed marketplace connector (TOP, JD, Pinduoduo, Douyin, Youzan, 1688) must pass,
written once.

Each platform's test module supplies `make_source(server, **options)` and calls these."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from connectors.common.errors import ProtocolError
from connectors.common.timeutil import china_days_window
from connectors.common.windowed import WindowedOrderSource
from connectors.sandbox.server import SandboxServer
from connectors.sandbox.world import World

SourceFactory = Callable[..., WindowedOrderSource]


def pull(source: WindowedOrderSource, start: datetime, end: datetime) -> pa.Table:
    pages = list(source.pull("orders", start, end))
    return pa.concat_tables(pages) if pages else pa.table({"record_id": pa.array([], pa.string())})


def records(table: pa.Table) -> list[dict[str, Any]]:
    return [json.loads(text) for text in table.column("record").to_pylist()]


def whole_world(server: SandboxServer) -> tuple[datetime, datetime]:
    return china_days_window(server.world.start, server.world.end)


def final_versions_modified_in(
    server: SandboxServer, shop_id: str, start: datetime, end: datetime
) -> set[str]:
    as_of = server.world.as_of
    return {
        o.order_id
        for o in server.world.orders_for(shop_id)
        if (s := o.state(as_of)) and start <= s.modified_at < end
    }


def busiest_window(world: World, shop_id: str, length: timedelta) -> tuple[datetime, datetime]:
    """The window of `length` (aligned to the world's start) holding the most final versions of the
    shop's orders, before the world's last day: paging checks need several orders in one window."""
    origin, last_day = china_days_window(world.start, world.end)[0], world.as_of - timedelta(days=1)
    counts: Counter[int] = Counter()
    for order in world.orders_for(shop_id):
        state = order.state(world.as_of)
        if state is not None and state.modified_at < last_day:
            counts[int((state.modified_at - origin) / length)] += 1
    slot = max(counts, key=lambda k: (counts[k], -k))
    return origin + slot * length, origin + (slot + 1) * length


def check_every_order_once(server: SandboxServer, make_source: SourceFactory, shop_id: str) -> pa.Table:
    table = pull(make_source(server), *whole_world(server))
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)), "no order twice"
    assert set(ids) == {o.order_id for o in server.world.orders_for(shop_id)}, "every order of the world"
    return table


def check_paging_edges(
    server: SandboxServer, make_source: SourceFactory, start: datetime, end: datetime
) -> None:
    """In one platform window: a total that fills exactly one page costs one call; a short last page
    costs page 1 (for the total), pages n..2, then page 1 again; an empty window one call."""
    minutes = (end - start).total_seconds() / 60
    total = pull(make_source(server, window_minutes=minutes), start, end).num_rows
    assert total >= 3, "pick a busier window"

    def landed_and_calls(page_size: int, lo: datetime = start, hi: datetime = end) -> tuple[int, int]:
        source = make_source(server, page_size=page_size, window_minutes=minutes)
        return pull(source, lo, hi).num_rows, source.stats.requests

    assert landed_and_calls(total) == (total, 1)
    pages = -(-total // (total - 1))
    assert landed_and_calls(total - 1) == (total, pages + 1)
    assert landed_and_calls(10, start - timedelta(days=40), start - timedelta(days=40) + (end - start)) == (
        0,
        1,
    )


def check_modified_while_paging(
    sandbox: SandboxServer,
    make_sandbox: Callable[..., SandboxServer],
    make_source: SourceFactory,
    forward_paging: Callable[[SandboxServer, datetime, datetime], set[str]] | None,
    window: tuple[datetime, datetime],
    page_size: int,
) -> None:
    """Each page served, the newest order of the window is modified again and leaves it. Paging
    backwards loses no order that stayed; paging forwards (the naive client) does. Without a
    platform-specific `forward_paging`, the naive client is the connector's own page fetch, used
    forwards over the whole window."""
    expected = set(pull(make_source(sandbox), *window).column("record_id").to_pylist())
    assert len(expected) > 3 * page_size, "the window needs several pages"

    server = make_sandbox(faults=frozenset({"modify_while_paging"}))
    landed = pull(make_source(server, page_size=page_size), *window).column("record_id").to_pylist()
    moved = _feed_of(server, make_source).moved()
    assert moved, "the fault must have fired"
    assert expected - moved <= set(landed), f"skipped: {sorted(expected - moved - set(landed))}"
    assert set(landed) <= expected
    assert len(landed) == len(set(landed)), "an order seen on two pages lands once"

    naive_server = make_sandbox(faults=frozenset({"modify_while_paging"}))
    if forward_paging is None:
        naive = naive_forward_paging(make_source(naive_server, page_size=page_size), *window)
    else:
        naive = forward_paging(naive_server, *window)
    naive_moved = _feed_of(naive_server, make_source).moved()
    assert expected - naive_moved - naive, "forward paging must skip orders here, else this proves nothing"


def check_empty_and_repeated_pages(
    sandbox: SandboxServer,
    make_sandbox: Callable[..., SandboxServer],
    make_source: SourceFactory,
    page_size: int,
    window: tuple[datetime, datetime] | None = None,
    **world: Any,
) -> None:
    """A platform that serves a page empty once (asked again, it is whole) and records twice across
    pages: the connector lands exactly what it lands from a clean platform. A page that stays empty
    fails the pull, naming the page, instead of silently skipping its orders. `world`: settings of
    the faulty sandboxes, as `sandbox` was made."""
    window = window or whole_world(sandbox)
    columns = ["record_id", "modified_at", "record"]
    clean = pull(make_source(sandbox, page_size=page_size), *window).select(columns).sort_by("record_id")

    server = make_sandbox(faults=frozenset({"empty_page_once", "duplicate_across_pages"}), **world)
    source = make_source(server, page_size=page_size)
    faulty = pull(source, *window).select(columns).sort_by("record_id")
    assert _feed_of(server, make_source).emptied, "the empty-page fault must have fired"
    assert faulty.equals(clean), "the same versions, each once"
    assert any("came back empty" in note for note in source.stats.notes)

    stuck = make_sandbox(faults=frozenset({"empty_pages"}), **world)
    with pytest.raises(ProtocolError, match=r"page \d+ of the window starting .* came back empty twice"):
        pull(make_source(stuck, page_size=page_size), *window)


def check_gateway_clock_ahead(
    sandbox: SandboxServer,
    make_sandbox: Callable[..., SandboxServer],
    make_source: SourceFactory,
    window: tuple[datetime, datetime] | None = None,
    **world: Any,
) -> None:
    """The gateway's clock runs 15 minutes ahead of ours (beyond its ±10 min tolerance): the first
    call is rejected, the client takes the platform's time from the HTTP Date header and signs
    with it, and the pull lands what it lands from a platform whose clock agrees."""
    window = window or whole_world(sandbox)
    columns = ["record_id", "modified_at", "record"]
    clean = pull(make_source(sandbox), *window).select(columns).sort_by("record_id")
    server = make_sandbox(faults=frozenset({"clock_skew"}), **world)
    source = make_source(server)
    skewed = pull(source, *window).select(columns).sort_by("record_id")
    assert skewed.equals(clean)
    assert server.injected_faults()["clock_skew"] == 1, "one call rejected, then signed with its time"
    told = [n for n in source.stats.notes if re.search(r"clock is \+(899|900|901) s from this machine's", n)]
    assert told, source.stats.notes  # 15 minutes, as the Date header's whole seconds tell it


def naive_forward_paging(source: WindowedOrderSource, start: datetime, end: datetime) -> set[str]:
    """What a naive client lands: the first page, the next, ... of one window, as the API numbers
    them, while orders change under it."""
    last = end - timedelta(seconds=1) if source.inclusive_end else end
    ids: set[str] = set()
    fetched = 0
    while True:
        page = source.fetch_page(start, last, source.first_page + fetched)
        ids |= {source.identify(record).record_id for record in page.records}
        fetched += 1
        if fetched * source.page_size >= page.total:
            return ids


def _feed_of(server: SandboxServer, make_source: SourceFactory) -> Any:
    channel = make_source(server).shop.channel
    for sim in server.simulators:
        feed = getattr(sim, "feed", None)
        if feed is not None and any(
            s.channel == channel and s.shop_id in feed.rows for s in server.world.shops()
        ):
            return feed
    raise AssertionError(f"no simulator serves {channel}")


def check_no_plain_pii(server: SandboxServer, table: pa.Table) -> None:
    blob = "\n".join(table.column("record").to_pylist())
    assert blob
    for person in server.world.people:
        assert person.phone not in blob and person.address not in blob and person.name not in blob, person
    for business in server.world.businesses:  # 1688 buyers' contact people
        assert business.contact_phone not in blob and business.address not in blob, business.business_id
