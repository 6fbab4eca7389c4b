"""The sandbox world: deterministic, stable across ranges, and as messy as real shoppers."""

from collections import Counter
from datetime import date, timedelta

from connectors.common.timeutil import CHINA_TZ, china_date, china_day_start
from connectors.sandbox.catalog import MEMBER_BINDING_CHANNELS
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
        if order.account_id and order.person_id:  # 1688 buyers are businesses, not people's accounts
            first.setdefault((order.channel, order.account_id), order.created_at)
    opened = {(a.channel, a.account_id): a.created_at for a in WORLD.accounts}
    assert {key: at for key, at in opened.items() if key in first} == first
    # the other accounts are loyalty cards of members who have not bought in a store (yet)
    cards_only = {key for key in opened if key not in first}
    assert cards_only and {channel for channel, _ in cards_only} == {"pos"}


def test_members_bind_their_own_marketplace_accounts():
    accounts = {(a.channel, a.account_id): a for a in WORLD.accounts}
    people = WORLD.people_by_id
    bindings = WORLD.member_bindings
    assert bindings
    for binding in bindings:
        card, account = accounts[("pos", binding.member_id)], accounts[(binding.channel, binding.account_id)]
        assert card.person_id == account.person_id, "a member binds their own accounts"
        assert binding.channel in MEMBER_BINDING_CHANNELS
        assert binding.bound_at == max(account.created_at, card.created_at)
    assert len({(b.channel, b.account_id) for b in bindings}) == len(bindings), "an account binds once"
    # members are likelier among multi-channel people, and some members' accounts stay unbound
    members = {accounts[("pos", b.member_id)].person_id for b in bindings}
    share = {
        n: sum(p in members for p in group) / len(group)
        for n in (1, 3)
        if (group := [p.person_id for p in WORLD.people if min(len(p.channels), 3) == n])
    }
    assert share[3] > share[1]
    bindable = [a for a in WORLD.accounts if a.channel in MEMBER_BINDING_CHANNELS and a.person_id in members]
    assert len(bindings) < len(bindable)
    # some people write a courtesy name on parcels, which the marketplace orders carry
    courteous = {p.person_id for p in people.values() if p.name_on_parcels}
    assert any(o.receiver_name.endswith(("先生", "女士")) for o in WORLD.orders if o.person_id in courteous)


def test_pinduoduo_group_buys_and_pre_sales():
    pdd = [o for o in WORLD.orders if o.channel == "pinduoduo"]
    assert all(len(o.lines) == 1 for o in pdd), "a Pinduoduo order is one goods"
    failed = [o for o in pdd if o.group and o.group.failed_at]
    assert failed and all(
        o.state(WORLD.as_of).status == "refunded" for o in failed if o.group.failed_at < WORLD.as_of
    )
    presales = [o for o in pdd if o.presale]
    assert presales and all(o.presale.balance_deadline.astimezone(CHINA_TZ).day == 12 for o in presales)
    before_peak = china_day_start(date(2026, 11, 11))
    for order in presales:
        state = order.state(before_peak)
        if state is not None:
            assert state.paid_fen == order.presale.deposit_fen < order.total_fen, "only the deposit so far"
    forfeited = [o for o in presales if o.presale.balance_paid_at is None]
    assert all(o.state(WORLD.as_of).status == "cancelled" for o in forfeited)
    assert all(o.state(WORLD.as_of).paid_fen == o.presale.deposit_fen for o in forfeited), "deposit kept"


def test_platform_coupons_stay_inside_the_merchant_side_gmv():
    subsidised = [o for o in WORLD.orders if o.platform_discount_fen]
    assert {o.channel for o in subsidised} == {"jd", "pinduoduo", "douyin"}
    assert all(o.buyer_pays_fen == o.total_fen - o.platform_discount_fen > 0 for o in subsidised)


def test_meituan_vouchers_are_each_settled_once():
    meituan = [o for o in WORLD.orders if o.channel == "meituan"]
    assert meituan and all(len(o.vouchers) == o.lines[0].quantity for o in meituan)
    for order in meituan:
        for voucher in order.vouchers:
            assert (voucher.redeemed_at is None) != (voucher.refunded_at is None), voucher
        refunded = [v for v in order.vouchers if v.refunded_at]
        assert sum(r.amount_fen for r in order.refunds) == len(refunded) * order.lines[0].unit_price_fen
    stores = {v.redeemed_store_id for o in meituan for v in o.vouchers if v.redeemed_at}
    assert len(stores) >= 2 and any(v.expired for o in meituan for v in o.vouchers)


def test_wholesale_buyers_are_businesses():
    wholesale = [o for o in WORLD.orders if o.channel == "alibaba_1688"]
    buyers = {b.buyer_id for b in WORLD.businesses}
    assert wholesale and all(o.person_id is None and o.account_id in buyers for o in wholesale)
    assert all(line.quantity >= 10 and line.quantity % 10 == 0 for o in wholesale for line in o.lines)
