"""How a sandbox world is made: the population from (seed, people), then each day's orders from
(seed, people, day) alone, with demand shaped by 618 and Double 11 and every order's lifecycle
(payment, shipping, completion, cancellation, refunds days later) drawn up front."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np

from connectors.common.timeutil import CHINA_TZ, china_date, china_day_start
from connectors.sandbox.catalog import (
    ANONYMOUS_POS_SHARE,
    BRAND_MEMBER_SHARE,
    BUSINESS_KINDS,
    BUSINESSES_PER_PERSON,
    CATALOG,
    CHANNEL_ADOPTION,
    CITIES,
    COURTESY_NAME_SHARE,
    GIFT_ORDER_SHARE,
    GIVEN,
    MEMBER_BINDING_CHANNELS,
    MEMBER_BINDING_SHARE,
    PAID_ON_CREATION,
    PHONE_CHANGE_SHARE,
    PLATFORM_COUPONS_FEN,
    PLATFORM_SUBSIDISED,
    SHARED_FAMILY_PHONE_SHARE,
    SHOPS,
    STORES,
    SURNAMES,
    VOUCHER_DEALS,
    VOUCHER_VALIDITY_DAYS,
    WHOLESALE_PRICE_SHARE,
    ShopSpec,
)
from connectors.sandbox.world import (
    Account,
    Business,
    GroupBuy,
    Line,
    MemberBinding,
    Order,
    Person,
    PreSale,
    Refund,
    Voucher,
    World,
)

# Bumped whenever a change here or in catalog.py makes the same (seed, people) tell another story,
# so data landed from an older world is never mixed with the new one (`omni demo` clears it).
# 2: JD, Pinduoduo, Douyin; 3: Meituan vouchers, the mini-program store, 1688 businesses; 4: smaller
# wholesale orders; 5: shared family phones, phone changes and gift orders; 6: loyalty members
# and their marketplace account bindings.
WORLD_VERSION = 6


def season_multiplier(day: date) -> float:
    """Demand relative to a normal day: 618 and Double 11 peaks with their pre-sale ramps, 12.12."""
    month_day = (day.month, day.day)
    multiplier = 1.0
    if month_day == (11, 11):
        multiplier = 7.0
    elif day.month == 11 and 1 <= day.day <= 10:
        multiplier = 1.8
    elif month_day == (6, 18):
        multiplier = 5.0
    elif day.month == 6 and 1 <= day.day <= 17:
        multiplier = 1.5
    elif month_day == (12, 12):
        multiplier = 3.0
    if day.weekday() >= 5:
        multiplier *= 1.15
    return multiplier


_HOUR_WEIGHTS = np.array(
    [3, 2, 1, 1, 1, 1, 2, 3, 4, 6, 7, 7, 6, 6, 6, 6, 6, 6, 7, 8, 10, 11, 10, 6], dtype=float
)
_HOUR_WEIGHTS /= _HOUR_WEIGHTS.sum()
_STORE_HOUR_WEIGHTS = np.array([0] * 10 + [5, 7, 8, 6, 6, 7, 8, 9, 10, 10, 8, 5, 0, 0], dtype=float)
_STORE_HOUR_WEIGHTS /= _STORE_HOUR_WEIGHTS.sum()


_ID_EPOCH = date(2020, 1, 1)


class _Ids:
    """Platform ids for the orders of one day. They depend only on the day and the order's place in
    it, so worlds over different ranges agree on the days they share. TOP ids exceed 2^53 on
    purpose (parsers that go through floats break)."""

    def __init__(self, day: date) -> None:
        self.day_base = (day - _ID_EPOCH).days * 10_000_000
        self.counters: dict[str, int] = {}

    def next(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.day_base + self.counters[kind]

    def order_id(self, channel: str, created: datetime, store_id: str | None) -> str:
        n = self.next(f"order:{channel}")
        if channel == "shopify":
            return str(5_200_000_000_000 + n)
        if channel == "tmall":
            return str(3_800_000_000_000_000_000 + n * 7_919)  # 19 digits, > 2^53
        if channel == "taobao":
            return str(1_700_000_000_000_000 + n * 311)  # 16 digits
        local = created.astimezone(CHINA_TZ)
        if channel == "jd":
            return str(300_000_000_000 + n)  # 12 digits
        if channel == "pinduoduo":  # order_sn: yymmdd-15 digits
            return f"{local:%y%m%d}-{(n * 7_919_003) % 10**15:015d}"
        if channel == "douyin":
            return str(6_900_000_000_000_000_000 + n * 4_099)  # 19 digits, > 2^53, sent as a string
        if channel == "mini_program":  # Youzan tid: E + creation time + 9 digits
            return f"E{local:%Y%m%d%H%M%S}{(n * 7_919) % 10**9:09d}"
        if channel == "alibaba_1688":
            return str(2_400_000_000_000_000_000 + n * 6_007)  # 64-bit, read from idOfStr
        if channel == "meituan":
            return str(27_000_000_000_000 + n * 97)  # 17 digits
        return f"{store_id}-{local:%Y%m%d}-{n - self.day_base:06d}"

    def line_id(self, channel: str) -> str:
        n = self.next(f"line:{channel}")
        if channel == "shopify":
            return str(13_100_000_000_000 + n)
        if channel in ("tmall", "taobao"):
            return str(3_900_000_000_000_000_000 + n * 17)
        if channel == "douyin":
            return str(6_910_000_000_000_000_000 + n * 13)
        if channel == "alibaba_1688":
            return str(2_410_000_000_000_000_000 + n * 13)
        return str(n - self.day_base)


APP_SCOPED_IDS = ("jd", "douyin", "mini_program", "meituan")


def _shop_choice(rng: np.random.Generator, channel: str) -> tuple[int, ShopSpec]:
    shops = [s for s in SHOPS if s.channel == channel]
    weights = np.array([s.weight for s in shops])
    index = int(rng.choice(len(shops), p=weights / weights.sum()))
    return index, shops[index]


def _day_rng(seed: int, day: date) -> np.random.Generator:
    """Each day's orders come from their own stream: a day's history never depends on the range."""
    return np.random.default_rng([seed, (day - _ID_EPOCH).days])


def _mobile(rng: np.random.Generator) -> str:
    return f"1{int(rng.choice([3, 5, 7, 8, 9]))}{int(rng.integers(0, 10))}{int(rng.integers(0, 10**8)):08d}"


def _make_people(rng: np.random.Generator, count: int) -> list[Person]:
    people = []
    for i in range(count):
        person_id = f"P{i + 1:07d}"
        # Channel mix: each channel adopted independently; nobody has none.
        adopted = tuple(ch for ch, p in CHANNEL_ADOPTION.items() if rng.random() < p)
        if not adopted:
            adopted = (str(rng.choice(list(CHANNEL_ADOPTION))),)
        phone = _mobile(rng)
        name = SURNAMES[int(rng.integers(len(SURNAMES)))] + "".join(
            GIVEN[int(rng.integers(len(GIVEN)))] for _ in range(int(rng.integers(1, 3)))
        )
        city = CITIES[int(rng.integers(len(CITIES)))]
        email = f"user{i + 1:07d}@mail.example.cn" if rng.random() < 0.7 else None
        street, building, room = (
            int(rng.integers(1, 300)),
            int(rng.integers(1, 30)),
            int(rng.integers(101, 2800)),
        )
        address = f"{city}市{street}号{building}栋{room}室"
        rate = float(rng.gamma(shape=1.2, scale=0.035 / 1.2))  # a few heavy buyers, many light ones
        people.append(Person(person_id, phone, email, name, city, address, adopted, rate))
    return people


_PHONE_CHANGES_FROM = date(2025, 1, 1)  # phone changes happen between these days, whatever the
_PHONE_CHANGE_DAYS = 3 * 365  # world's range, so overlapping worlds agree on them


def _identity_noise(seed: int, people: list[Person]) -> list[Person]:
    """Shared family phones, courtesy names on parcels and phone changes, drawn from their own
    generator so the orders of a (seed, people) world stay what they were."""
    rng = np.random.default_rng([seed, 5])
    out = list(people)
    for i in np.flatnonzero(rng.random(len(out)) < SHARED_FAMILY_PHONE_SHARE):
        relative = out[(int(i) + 1 + int(rng.integers(0, 50))) % len(out)]
        out[int(i)] = replace(out[int(i)], phone=relative.phone)
    for i in np.flatnonzero(rng.random(len(out)) < COURTESY_NAME_SHARE):
        person = out[int(i)]
        out[int(i)] = replace(person, name_on_parcels=person.name[0] + str(rng.choice(["先生", "女士"])))
    for i in np.flatnonzero(rng.random(len(out)) < PHONE_CHANGE_SHARE):
        person = out[int(i)]
        later = (
            f"1{int(rng.choice([3, 5, 7, 8, 9]))}{int(rng.integers(0, 10))}{int(rng.integers(0, 10**8)):08d}"
        )
        when = china_day_start(_PHONE_CHANGES_FROM + timedelta(days=int(rng.integers(0, _PHONE_CHANGE_DAYS))))
        out[int(i)] = replace(person, later_phone=later, phone_changed_at=when)
    return out


def _gift_receiver(seed: int, order_id: str, population: list[Person]) -> Person | None:
    """A few orders are sent to someone else (a gift): their receiver is another person."""
    rng = np.random.default_rng([seed, 6, int(hashlib.sha256(order_id.encode()).hexdigest()[:12], 16)])
    if rng.random() >= GIFT_ORDER_SHARE:
        return None
    return population[int(rng.integers(len(population)))]


def _make_lines(rng: np.random.Generator, ids: _Ids, channel: str, big_day: bool) -> tuple[Line, ...]:
    # A Pinduoduo order is one goods (every group buy is for one product); others mix products.
    count = 1 if channel == "pinduoduo" else 1 + int(rng.poisson(0.6 if not big_day else 1.0))
    picks = rng.choice(len(CATALOG), size=min(count, len(CATALOG)), replace=False)
    lines = []
    for index in picks:
        sku, title, price = CATALOG[int(index)]
        quantity = 1 + int(rng.poisson(0.25))
        # Promotion days discount more; discounts are whole fen and never exceed the line.
        rate = rng.choice([0, 0, 0.05, 0.1]) if not big_day else rng.choice([0.1, 0.15, 0.2, 0.3])
        discount = round(price * quantity * float(rate))
        lines.append(Line(ids.line_id(channel), sku, title, quantity, price, discount))
    return tuple(lines)


def _after(start: datetime, seconds: float) -> datetime:
    """Whole seconds: the platforms' clocks (CST strings, epoch seconds) have no finer resolution."""
    return start + timedelta(seconds=int(seconds))


def _lifecycle(rng: np.random.Generator, order: Order, ids: _Ids) -> None:
    """Fill in what happens to an order after it is placed (times may fall after the world ends)."""
    created = order.created_at
    hour, day = 3600.0, 86400.0
    if order.channel == "pos":  # a store sale is paid and done at the till
        order.paid_at = order.completed_at = created
        if rng.random() < 0.04:
            _refund(rng, order, ids, _after(created, day * float(rng.uniform(1, 14))))
        return
    if order.channel == "alibaba_1688":
        _wholesale_lifecycle(rng, order, ids)
        return
    if order.channel == "meituan":
        _voucher_lifecycle(rng, order, ids)
        return
    if order.channel in PAID_ON_CREATION:  # these platforms create the order at payment
        order.paid_at = created
    elif rng.random() < 0.08:  # never paid: closed by the platform or the buyer
        order.cancelled_at = _after(created, float(rng.uniform(15 * 60, day)))
        return
    else:
        order.paid_at = _after(created, float(rng.uniform(5, 1800)))
    ready = _pinduoduo_terms(rng, order, ids) if order.channel == "pinduoduo" else order.paid_at
    if ready is None:  # a failed group or an unpaid pre-sale balance: settled already
        return
    if rng.random() < 0.05:  # refunded before it shipped
        _refund(rng, order, ids, _after(ready, hour * float(rng.uniform(1, 30))), full=True)
        return
    order.shipped_at = _after(ready, hour * float(rng.uniform(4, 72)))
    order.completed_at = _after(order.shipped_at, day * float(rng.uniform(3, 10)))
    # After-sales refunds days later. JD's order API cannot express them (they live in its
    # after-sales API, which the pipeline does not pull yet), so the JD world has none.
    if order.channel != "jd" and rng.random() < 0.07:
        _refund(rng, order, ids, _after(order.shipped_at, day * float(rng.uniform(2, 15))))


def _voucher_lifecycle(rng: np.random.Generator, order: Order, ids: _Ids) -> None:
    """Paid at purchase. Each voucher is then redeemed (mostly in the store it was bought for),
    refunded by the buyer, or left to expire and refunded automatically at expiry."""
    day = 86400.0
    order.paid_at = order.created_at
    expiry = order.created_at + timedelta(days=VOUCHER_VALIDITY_DAYS)
    vouchers, refunds, redeemed = [], [], []
    for _ in range(order.lines[0].quantity):
        code = f"{ids.next('voucher') % 10**12:012d}"
        fate = rng.random()
        if fate < 0.75:
            at = _after(order.created_at, day * float(rng.uniform(0.05, 20)))
            store = order.store_id if rng.random() < 0.8 else STORES[int(rng.integers(len(STORES)))][0]
            vouchers.append(Voucher(code, redeemed_at=at, redeemed_store_id=store))
            redeemed.append(at)
        elif fate < 0.85:
            at = _after(order.created_at, day * float(rng.uniform(0.1, 10)))
            vouchers.append(Voucher(code, refunded_at=at))
            refunds.append(
                Refund(str(90_000_000_000 + ids.next("refund")), at, (0,), order.lines[0].unit_price_fen)
            )
        else:
            vouchers.append(Voucher(code, refunded_at=expiry, expired=True))
            refunds.append(
                Refund(str(90_000_000_000 + ids.next("refund")), expiry, (0,), order.lines[0].unit_price_fen)
            )
    order.vouchers = tuple(vouchers)
    order.refunds = tuple(sorted(refunds, key=lambda r: r.at))
    if redeemed:  # done when the last voucher is settled, if any was used
        order.completed_at = max([*redeemed, *(r.at for r in refunds)])


def _meituan_lines(rng: np.random.Generator, ids: _Ids) -> tuple[Line, ...]:
    deal, title, price = VOUCHER_DEALS[int(rng.integers(len(VOUCHER_DEALS)))]
    quantity = 1 + int(rng.random() < 0.25)
    return (Line(ids.line_id("meituan"), deal, title, quantity, price, 0),)


def _wholesale_lifecycle(rng: np.random.Generator, order: Order, ids: _Ids) -> None:
    """A business pays within days (or the order lapses after a week), ships in days, and rarely
    cancels after paying (refunded in full before shipping)."""
    day = 86400.0
    if rng.random() < 0.05:
        order.cancelled_at = _after(order.created_at, 7 * day)
        return
    order.paid_at = _after(order.created_at, day * float(rng.uniform(0.05, 3)))
    if rng.random() < 0.02:
        _refund(rng, order, ids, _after(order.paid_at, day * float(rng.uniform(0.2, 2))), full=True)
        return
    order.shipped_at = _after(order.paid_at, day * float(rng.uniform(1, 5)))
    order.completed_at = _after(order.shipped_at, day * float(rng.uniform(5, 15)))


def _make_businesses(seed: int, people: int) -> list[Business]:
    """Wholesale buyers, from their own random stream so the consumer population is unchanged."""
    rng = np.random.default_rng([seed, 1688])
    businesses = []
    for i in range(max(5, round(people * BUSINESSES_PER_PERSON))):
        city = CITIES[int(rng.integers(len(CITIES)))]
        kind = BUSINESS_KINDS[int(rng.integers(len(BUSINESS_KINDS)))]
        contact = SURNAMES[int(rng.integers(len(SURNAMES)))] + GIVEN[int(rng.integers(len(GIVEN)))]
        phone = f"13{int(rng.integers(0, 10))}{int(rng.integers(0, 10**8)):08d}"
        address = f"{city}市商贸城{int(rng.integers(1, 40))}区{int(rng.integers(100, 999))}号"
        digest = hashlib.sha256(f"{seed}|1688|{i}".encode()).hexdigest()
        businesses.append(
            Business(
                f"B{i + 1:05d}",
                f"{city}{contact}{kind}",
                city,
                contact,
                phone,
                address,
                f"b2b-{digest[:12]}",
                float(rng.gamma(shape=2.0, scale=0.05)),
            )
        )
    return businesses


def _wholesale_lines(rng: np.random.Generator, ids: _Ids) -> tuple[Line, ...]:
    picks = rng.choice(len(CATALOG), size=1 + int(rng.integers(0, 3)), replace=False)
    lines = []
    for index in picks:
        sku, title, price = CATALOG[int(index)]
        quantity = 10 * int(rng.integers(1, 7))  # cartons of ten
        unit = round(price * WHOLESALE_PRICE_SHARE)
        lines.append(Line(ids.line_id("alibaba_1688"), sku, title, quantity, unit, 0))
    return tuple(lines)


def _presale_peak(day: date) -> date | None:
    """The promotion day a pre-sale placed on `day` is for (its balance is paid then)."""
    if day.month == 11 and 1 <= day.day <= 10:
        return date(day.year, 11, 11)
    if day.month == 6 and 1 <= day.day <= 17:
        return date(day.year, 6, 18)
    return None


def _pinduoduo_terms(rng: np.random.Generator, order: Order, ids: _Ids) -> datetime | None:
    """A pre-sale deposit order during a promotion's run-up, otherwise a group buy. Returns when the
    order can ship, or None when it never will (a failed group is refunded in full, an unpaid
    balance forfeits the deposit)."""
    assert order.paid_at is not None
    hour = 3600.0
    peak = _presale_peak(china_date(order.created_at))
    if peak is not None and rng.random() < 0.2:
        peak_start = china_day_start(peak)
        deadline = peak_start + timedelta(days=1)
        deposit = max(100, round(order.total_fen * 0.2 / 100) * 100)  # whole yuan
        if rng.random() < 0.1:
            order.presale = PreSale(deposit, None, deadline)
            order.cancelled_at = deadline
            return None
        balance_at = _after(peak_start, hour * float(rng.uniform(0, 20)))
        order.presale = PreSale(deposit, balance_at, deadline)
        return balance_at
    group_id = f"G{ids.next('group')}"
    leader = bool(rng.random() < 0.4)
    if rng.random() < 0.04:  # nobody joined within 24 hours: the group fails, the platform refunds
        failed_at = _after(order.created_at, 24 * hour)
        order.group = GroupBuy(group_id, leader, None, failed_at)
        _refund(rng, order, ids, failed_at, full=True)
        return None
    formed_at = _after(order.paid_at, float(rng.uniform(10, 6 * hour)))
    order.group = GroupBuy(group_id, leader, formed_at, None)
    return formed_at


def _platform_coupon(rng: np.random.Generator, order: Order) -> int:
    """A platform-funded coupon on some marketplace orders (never more than the goods)."""
    if order.channel not in PLATFORM_SUBSIDISED or order.goods_fen < 9_900 or rng.random() >= 0.3:
        return 0
    return int(rng.choice(PLATFORM_COUPONS_FEN))


def _refund(rng: np.random.Generator, order: Order, ids: _Ids, at: datetime, full: bool = False) -> None:
    n = len(order.lines)
    whole_order = full or n == 1 or rng.random() < 0.5
    indexes = tuple(range(n)) if whole_order else (int(rng.integers(n)),)
    amount = sum(order.lines[i].amount_fen for i in indexes)
    if len(indexes) == n:
        amount += order.shipping_fen
    refund_id = str(90_000_000_000 + ids.next("refund"))
    order.refunds = (Refund(refund_id, at, indexes, amount),)


def _time_on(rng: np.random.Generator, day: date, weights: np.ndarray) -> datetime:
    hour = int(rng.choice(24, p=weights))
    seconds = int(rng.integers(0, 3600))
    local = datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ) + timedelta(seconds=seconds)
    return local.astimezone(UTC)


def generate_world(seed: int, people: int, start: date, end: date) -> World:
    """The population depends on (seed, people); each day's orders on (seed, people, day) alone, so
    two worlds over overlapping ranges tell the same story about the days they share."""
    if end < start:
        raise ValueError(f"world end {end} is before its start {start}")
    if people <= 0:
        raise ValueError("a world needs at least one person")
    rng = np.random.default_rng(seed)
    population = _make_people(rng, people)
    open_uids = {p.person_id: f"AAH{int(rng.integers(10**15, 10**16))}{p.person_id[-4:]}" for p in population}
    population = _identity_noise(seed, population)
    index_of = {p.person_id: i for i, p in enumerate(population)}
    accounts: dict[tuple[str, str | None, str], Account] = {}  # (channel, shop, person) -> account
    orders: list[Order] = []

    def account_for(
        channel: str, shop_index: int, shop: ShopSpec, person: Person, at: datetime
    ) -> Account | None:
        """Account ids are fixed per person; an account exists from the person's first order there."""
        number = index_of[person.person_id]
        if channel == "shopify":
            if (number * 7 + shop_index) % 10 == 0:  # this person checks out as a guest here
                return None
            key: tuple[str, str | None, str] = (channel, shop.shop_id, person.person_id)
            account_id = str(7_400_000_000_000 + number * 10 + shop_index)
        elif channel in ("tmall", "taobao"):  # one OpenUID per person per app, on every TOP shop
            key, account_id = (channel, None, person.person_id), open_uids[person.person_id]
        elif channel == "pinduoduo":  # Pinduoduo's order list carries no buyer id at all
            return None
        elif channel in APP_SCOPED_IDS:  # open_id_buyer, doudian_open_id, yz_open_id, Meituan user ids
            digest = hashlib.sha256(f"{seed}|{channel}|{person.person_id}".encode()).hexdigest()
            key, account_id = (channel, None, person.person_id), f"{channel[:2]}_{digest[:24]}"
        else:  # POS: the member card
            key, account_id = (channel, None, person.person_id), f"M{number + 1:08d}"
        if key not in accounts:
            accounts[key] = Account(
                channel, shop.shop_id if channel == "shopify" else None, account_id, person.person_id, at
            )
        return accounts[key]

    businesses = _make_businesses(seed, people)
    rates = np.array([p.rate for p in population])
    day = start
    while day <= end:
        rng = _day_rng(seed, day)
        ids = _Ids(day)
        multiplier = season_multiplier(day)
        big_day = multiplier >= 3
        counts = rng.poisson(rates * multiplier)
        day_orders: list[Order] = []
        for person_index in np.flatnonzero(counts):
            person = population[int(person_index)]
            for _ in range(int(counts[person_index])):
                channel = str(rng.choice(person.channels))
                shop_index, shop = _shop_choice(rng, channel)
                in_store = channel in ("pos", "meituan")  # a Meituan voucher is bought for a store
                store = STORES[int(rng.integers(len(STORES)))] if in_store else None
                created = _time_on(rng, day, _STORE_HOUR_WEIGHTS if channel == "pos" else _HOUR_WEIGHTS)
                if channel == "meituan":
                    lines = _meituan_lines(rng, ids)
                else:
                    lines = _make_lines(rng, ids, channel, big_day)
                free = in_store or sum(x.amount_fen for x in lines) >= 9_900
                shipping = 0 if free else 1_000
                order_id = ids.order_id(channel, created, store[0] if store else None)
                gift = None if in_store else _gift_receiver(seed, order_id, population)
                receiver = gift or person
                order = Order(
                    channel=channel,
                    shop_id=shop.shop_id,
                    order_id=order_id,
                    person_id=person.person_id,
                    account_id=None,
                    store_id=store[0] if store else None,
                    created_at=created,
                    lines=lines,
                    shipping_fen=shipping,
                    receiver_name=receiver.name if in_store else receiver.parcel_name,
                    receiver_phone=receiver.phone_at(created),
                    receiver_address=receiver.address,
                    receiver_city=receiver.city,
                    email=person.email,
                )
                account = account_for(channel, shop_index, shop, person, created)
                order.account_id = account.account_id if account else None
                order.platform_discount_fen = _platform_coupon(rng, order)
                order.platform_fulfilled = channel == "jd" and bool(rng.random() < 0.3)
                _lifecycle(rng, order, ids)
                day_orders.append(order)
        # Anonymous store sales: walk-in customers with no member card.
        anonymous = int(rng.poisson(people * 0.004 * ANONYMOUS_POS_SHARE * multiplier))
        for _ in range(anonymous):
            store = STORES[int(rng.integers(len(STORES)))]
            created = _time_on(rng, day, _STORE_HOUR_WEIGHTS)
            order = Order(
                channel="pos",
                shop_id="pos-main",
                order_id=ids.order_id("pos", created, store[0]),
                person_id=None,
                account_id=None,
                store_id=store[0],
                created_at=created,
                lines=_make_lines(rng, ids, "pos", big_day),
                shipping_fen=0,
            )
            _lifecycle(rng, order, ids)
            day_orders.append(order)
        for business in businesses:  # wholesale orders on 1688
            for _ in range(int(rng.poisson(business.rate * (1.5 if multiplier > 1 else 1.0)))):
                created = _time_on(rng, day, _STORE_HOUR_WEIGHTS)
                order = Order(
                    channel="alibaba_1688",
                    shop_id="wholesale-1688",
                    order_id=ids.order_id("alibaba_1688", created, None),
                    person_id=None,
                    account_id=business.buyer_id,
                    store_id=None,
                    created_at=created,
                    lines=_wholesale_lines(rng, ids),
                    shipping_fen=0,  # freight is paid by the buyer on delivery (到付)
                    receiver_name=business.contact_name,
                    receiver_phone=business.contact_phone,
                    receiver_address=business.address,
                    receiver_city=business.city,
                    business_id=business.business_id,
                )
                _lifecycle(rng, order, ids)
                day_orders.append(order)
        orders += day_orders
        day += timedelta(days=1)

    # An account exists from its earliest order (within a day, orders were drawn person by person).
    first_order: dict[tuple[str, str], datetime] = {}
    for order in orders:
        if order.account_id:
            key = (order.channel, order.account_id)
            first_order[key] = min(first_order.get(key, order.created_at), order.created_at)
    opened = [replace(a, created_at=first_order[(a.channel, a.account_id)]) for a in accounts.values()]
    cards, bindings = _brand_membership(seed, population, opened)
    orders.sort(key=lambda o: (o.created_at, o.order_id))
    return World(seed, people, start, end, population, opened + cards, orders, businesses, bindings)


def _brand_membership(
    seed: int, population: list[Person], accounts: list[Account]
) -> tuple[list[Account], list[MemberBinding]]:
    """Who is a loyalty member and which of their marketplace accounts they bound to their card.

    Each person draws from their own generator, so membership does not depend on the world's range
    or on the order draws. A member's card is their POS member account; a member who has not bought
    in a store gets a card too (a member record without sales), opened with their first binding. An
    account is bound when it is opened (入会 at the first purchase), or when the card is, if later.
    Returns the new cards (`pos` accounts) and the bindings."""
    owned: dict[str, list[Account]] = {}
    for account in accounts:
        owned.setdefault(account.person_id, []).append(account)
    cards: list[Account] = []
    bindings: list[MemberBinding] = []
    for number, person in enumerate(population):
        rng = np.random.default_rng([seed, 7, number])
        mine = sorted(owned.get(person.person_id, []), key=lambda a: (a.channel, a.account_id))
        card = next((a for a in mine if a.channel == "pos"), None)
        share = BRAND_MEMBER_SHARE[min(len(person.channels), len(BRAND_MEMBER_SHARE)) - 1]
        if card is None and rng.random() >= share:
            continue
        bindable = [a for a in mine if a.channel in MEMBER_BINDING_CHANNELS]
        bound = [
            a
            for a, draw in zip(bindable, rng.random(len(bindable)), strict=True)
            if draw < MEMBER_BINDING_SHARE
        ]
        if not bound:
            continue
        if card is None:
            joined = min(a.created_at for a in bound)
            card = Account("pos", None, f"M{number + 1:08d}", person.person_id, joined)
            cards.append(card)
        bindings += [
            MemberBinding(card.account_id, a.channel, a.account_id, max(a.created_at, card.created_at))
            for a in bound
        ]
    return cards, bindings


@functools.lru_cache(maxsize=4)
def cached_world(seed: int, people: int, start: date, end: date) -> World:
    return generate_world(seed, people, start, end)
