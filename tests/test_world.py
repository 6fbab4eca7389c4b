"""The sandbox world: deterministic, stable across ranges, and as messy as real shoppers."""

from collections import Counter
from datetime import date, timedelta

from connectors.common.timeutil import china_date
from connectors.sandbox.generate import generate_world

WORLD = generate_world(5, 1500, date(2026, 10, 20), date(2026, 11, 20))


def _key(order):
    state = order.state(WORLD.as_of)
    return order.channel, order.order_id, order.total_fen, order.account_id, state.status if state else None


def test_same_arguments_same_world():
    again = generate_world(5, 1500, date(2026, 10, 20), date(2026, 11, 20))
    assert [_key(o) for o in again.orders] == [_key(o) for o in WORLD.orders]


def test_overlapping_ranges_tell_the_same_story_about_shared_days():
    later = generate_world(5, 1500, date(2026, 10, 25), date(2026, 11, 25))
    shared = {date(2026, 10, 25) + timedelta(days=i) for i in range(27)}

    def orders_on(world):
        return {
            (o.channel, o.order_id, o.total_fen, o.account_id, o.created_at)
            for o in world.orders
            if china_date(o.created_at) in shared
        }

    assert orders_on(WORLD) == orders_on(later)
    assert orders_on(WORLD)


def test_people_shop_on_one_channel_or_many_and_stores_have_walk_ins():
    channels = Counter(
        len({o.channel for o in WORLD.orders if o.person_id == p.person_id}) for p in WORLD.people
    )
    assert channels[1] > 0 and sum(n for k, n in channels.items() if k >= 3) > 0
    assert any(o.channel == "pos" and o.person_id is None for o in WORLD.orders), "anonymous store sales"
    assert any(o.channel == "shopify" and o.account_id is None and o.person_id for o in WORLD.orders), (
        "guests"
    )
    shops = Counter(s.channel for s in WORLD.shops())
    assert shops["tmall"] >= 2 and shops["taobao"] >= 2 and shops["shopify"] >= 2


def test_lifecycles_refunds_and_double_11():
    states = [(o, o.state(WORLD.as_of)) for o in WORLD.orders]
    statuses = Counter(s.status for _, s in states)
    for status in ("cancelled", "completed", "refunded", "partially_refunded", "shipped"):
        assert statuses[status] > 0, status
    late_refunds = [o for o, s in states if s.refunds and s.refunds[0].at - o.created_at > timedelta(days=2)]
    assert late_refunds, "after-sales refunds come days later"
    assert all(s.refunded_fen <= s.paid_fen for _, s in states)
    per_day = Counter(china_date(o.created_at) for o in WORLD.orders)
    assert per_day[date(2026, 11, 11)] > 3 * (sum(per_day.values()) / len(per_day)) / 1.5, "Double 11 peak"
    assert max(int(o.order_id) for o in WORLD.orders if o.channel == "tmall") > 2**53


def test_accounts_exist_from_their_first_order():
    first = {}
    for order in WORLD.orders:
        if order.account_id:
            first.setdefault((order.channel, order.account_id), order.created_at)
    assert {(a.channel, a.account_id): a.created_at for a in WORLD.accounts} == first
