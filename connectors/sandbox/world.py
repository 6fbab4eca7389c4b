"""The sandbox world: a deterministic population of people shopping across channels.

One seed, a population size and a date range give one world. Every simulator serves its slice of
it in its platform's shape, and the world keeps the ground truth (who each account really is,
what every order really paid and refunded) so tests measure what the pipeline got right.

Money is integer fen throughout; times are aware UTC datetimes. An order carries its whole
lifecycle (created, paid, shipped, completed, cancelled, refunds); `Order.state(as_of)` says what a
platform would show at a moment. The world is cut at `as_of` = the day after `end`, 00:00 China
time: events after it have not happened yet. `generate.py` makes worlds; this module is the model.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from connectors.common.timeutil import china_day_start
from connectors.sandbox.catalog import (
    SHOPS,
    ShopSpec,
)

if TYPE_CHECKING:
    from connectors.sandbox.traffic import TrafficModel

# --- people and accounts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    person_id: str
    phone: str  # plain: exists only inside the sandbox, never landed
    email: str | None
    name: str
    city: str
    address: str
    channels: tuple[str, ...]
    rate: float  # expected orders per day on a normal day
    # People change numbers: orders from this moment on carry `later_phone`; accounts and member
    # cards keep the number they were registered with. (A person may also share `phone` with a
    # family member: a parent whose accounts use a grown child's number.)
    later_phone: str | None = None
    phone_changed_at: datetime | None = None
    # the name they write on parcels, when it is not `name` (a courtesy form: 王先生)
    name_on_parcels: str | None = None

    @property
    def parcel_name(self) -> str:
        return self.name_on_parcels or self.name

    def phone_at(self, ts: datetime) -> str:
        if self.later_phone and self.phone_changed_at and ts >= self.phone_changed_at:
            return self.later_phone
        return self.phone


@dataclass(frozen=True)
class Business:
    """A 1688 wholesale buyer: a shop or trading company (its contact person's details are PII)."""

    business_id: str
    name: str
    city: str
    contact_name: str
    contact_phone: str
    address: str
    buyer_id: str  # the platform's buyer id (1688 buyer login id)
    rate: float  # expected orders per day


@dataclass(frozen=True)
class Account:
    """A platform-scoped identity of a person (what the platform calls its customer)."""

    channel: str
    shop_id: str | None  # Shopify customers belong to one shop; TOP open uids and POS members do not
    account_id: str
    person_id: str
    created_at: datetime


@dataclass(frozen=True)
class MemberBinding:
    """A platform account bound to a brand loyalty member (会员通): the member database records the
    platform's account id beside the member card."""

    member_id: str  # the member card (a `pos` account id)
    channel: str
    account_id: str
    bound_at: datetime


# --- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    line_id: str
    sku: str
    title: str
    quantity: int
    unit_price_fen: int
    discount_fen: int

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity - self.discount_fen


@dataclass(frozen=True)
class Refund:
    refund_id: str
    at: datetime
    line_indexes: tuple[int, ...]
    amount_fen: int  # the refunded lines' amounts, plus shipping when every line is refunded


@dataclass(frozen=True)
class GroupBuy:
    """A Pinduoduo group (拼团): it forms when enough buyers join, or fails and is refunded."""

    group_id: str
    leader: bool
    formed_at: datetime | None  # None: the group never formed
    failed_at: datetime | None

    def status(self, as_of: datetime) -> str:
        if self.formed_at is not None and self.formed_at < as_of:
            return "formed"
        if self.failed_at is not None and self.failed_at < as_of:
            return "failed"
        return "forming"


@dataclass(frozen=True)
class PreSale:
    """A deposit order (定金预售): the deposit is paid when the order is placed, the balance on the
    promotion day. An unpaid balance cancels the order and the deposit is forfeited (kept)."""

    deposit_fen: int
    balance_paid_at: datetime | None
    balance_deadline: datetime


@dataclass(frozen=True)
class Voucher:
    """One Meituan voucher (券码) of an O2O order: redeemed in a store, refunded, or expired (and then
    refunded automatically). Its revenue belongs to the redeeming store on the redemption day."""

    code: str
    redeemed_at: datetime | None = None
    redeemed_store_id: str | None = None
    refunded_at: datetime | None = None  # a buyer's refund, or the automatic one at expiry
    expired: bool = False


@dataclass(frozen=True)
class OrderState:
    status: (
        str  # common lifecycle: created, paid, shipped, completed, cancelled, refunded, partially_refunded
    )
    modified_at: datetime
    paid_fen: int
    refunded_fen: int
    paid_at: datetime | None
    shipped_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    refunds: tuple[Refund, ...]

    @property
    def refunded_lines(self) -> set[int]:
        return {i for r in self.refunds for i in r.line_indexes}


@dataclass
class Order:
    channel: str
    shop_id: str
    order_id: str
    person_id: str | None  # None: an anonymous store sale
    account_id: str | None  # None: a guest checkout or an anonymous store sale
    store_id: str | None
    created_at: datetime
    lines: tuple[Line, ...]
    shipping_fen: int
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunds: tuple[Refund, ...] = ()
    receiver_name: str | None = None
    receiver_phone: str | None = None
    receiver_address: str | None = None
    receiver_city: str | None = None
    email: str | None = None
    # Marketplace extras: the platform-funded part of the discount (the merchant is reimbursed, so
    # it is part of the merchant's GMV), JD's fulfilment model, Pinduoduo group buys and pre-sales.
    platform_discount_fen: int = 0
    platform_fulfilled: bool = False
    business_id: str | None = None  # a 1688 wholesale order's buyer business
    vouchers: tuple[Voucher, ...] = ()  # a Meituan order's vouchers, one per unit of its one line
    group: GroupBuy | None = None
    presale: PreSale | None = None

    @property
    def goods_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def total_fen(self) -> int:
        """The order's GMV, merchant side: lines after the merchant's discounts plus shipping. A
        platform-funded discount is still in it: the platform pays that part to the merchant."""
        return self.goods_fen + self.shipping_fen

    @property
    def buyer_pays_fen(self) -> int:
        return self.total_fen - self.platform_discount_fen

    @property
    def discount_fen(self) -> int:
        return sum(line.discount_fen for line in self.lines)

    def state(self, as_of: datetime) -> OrderState | None:
        """The order as a platform shows it at `as_of` (exclusive), or None if not yet created."""
        if self.created_at >= as_of:
            return None

        def seen(ts: datetime | None) -> datetime | None:
            return ts if ts is not None and ts < as_of else None

        paid_at, shipped_at = seen(self.paid_at), seen(self.shipped_at)
        completed_at, cancelled_at = seen(self.completed_at), seen(self.cancelled_at)
        refunds = tuple(r for r in self.refunds if r.at < as_of)
        balance_paid_at = seen(self.presale.balance_paid_at) if self.presale else None
        if paid_at is None:
            paid = 0
        elif self.presale and balance_paid_at is None:
            paid = self.presale.deposit_fen  # still awaiting the balance, or forfeited
        else:
            paid = self.total_fen
        refunded = sum(r.amount_fen for r in refunds)
        if cancelled_at:
            status = "cancelled"
        elif refunds and refunded >= paid:
            status = "refunded"
        elif refunds:
            status = "partially_refunded"
        elif completed_at:
            status = "completed"
        elif shipped_at:
            status = "shipped"
        elif paid_at:
            status = "paid"
        else:
            status = "created"
        group_times = [seen(self.group.formed_at), seen(self.group.failed_at)] if self.group else []
        redemptions = [seen(v.redeemed_at) for v in self.vouchers]  # a voucher used changes the order
        times = [
            self.created_at,
            paid_at,
            balance_paid_at,
            shipped_at,
            completed_at,
            cancelled_at,
            *group_times,
            *redemptions,
            *(r.at for r in refunds),
        ]
        modified = max(t for t in times if t is not None)
        return OrderState(
            status, modified, paid, refunded, paid_at, shipped_at, completed_at, cancelled_at, refunds
        )


# --- the world --------------------------------------------------------------------------------


@dataclass
class World:
    seed: int
    people_count: int
    start: date
    end: date
    people: list[Person]
    accounts: list[Account]
    orders: list[Order]
    businesses: list[Business] = field(default_factory=list)
    member_bindings: list[MemberBinding] = field(default_factory=list)

    @property
    def as_of(self) -> datetime:
        """The world's 'now': the end of its last day (exclusive)."""
        return china_day_start(self.end + timedelta(days=1))

    def shops(self, channel: str | None = None) -> list[ShopSpec]:
        return [s for s in SHOPS if channel is None or s.channel == channel]

    def shop(self, shop_id: str) -> ShopSpec:
        for spec in SHOPS:
            if spec.shop_id == shop_id:
                return spec
        raise KeyError(shop_id)

    @functools.cached_property
    def _orders_by_shop(self) -> dict[str, list[Order]]:
        out: dict[str, list[Order]] = {}
        for order in self.orders:
            out.setdefault(order.shop_id, []).append(order)
        return out

    def orders_for(self, shop_id: str) -> list[Order]:
        return self._orders_by_shop.get(shop_id, [])

    @functools.cached_property
    def people_by_id(self) -> dict[str, Person]:
        return {p.person_id: p for p in self.people}

    @functools.cached_property
    def traffic(self) -> TrafficModel:
        """The traffic reports the platforms' analytics give for this world."""
        from connectors.sandbox.traffic import TrafficModel

        return TrafficModel(self)

    def accounts_for(self, channel: str, shop_id: str | None = None) -> list[Account]:
        return [
            a for a in self.accounts if a.channel == channel and (shop_id is None or a.shop_id == shop_id)
        ]


def visible_orders(orders: Iterable[Order], as_of: datetime) -> Iterable[tuple[Order, OrderState]]:
    for order in orders:
        state = order.state(as_of)
        if state is not None:
            yield order, state
