"""The sandbox's traffic: what each platform's analytics would report for a shop and a day.

Derived from the world's orders, so traffic and sales tell one story: every paying buyer of a day
was one of its visitors (visitors >= buyers), and promotion days bring more visitors and more
buyers at once (campaigns lift both, and ad budgets rise with them). Every report draws from its
own generator seeded by (world seed, shop, day, report), so a world always reports the same
traffic, whichever simulator asks first.

Reports, each the raw material of one simulator or export file:
- `shop_day`: the shop-level daily report of 生意参谋 / 京东商智 / 拼多多数据中心 (China days):
  visitors (unique per day), page views, paying buyers, paid orders and amount.
- `ga4_rows`: GA4 sessions per (property-zone day, source, medium, campaign) for the Shopify
  stores and the mini-program; one purchase key event per converted session.
- `ad_day`: paid ads per China day (Ocean Engine for Douyin, 直通车 for Tmall / Taobao): spend,
  impressions, clicks, conversions. 直通车 clicks land on the shop, so they are part of its visitors.
- `footfall`: store door-counter entries per store and China day, beside the POS transactions of
  that store and day (each sale walked in, so entries >= transactions).
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np

from connectors.common.timeutil import china_date, iter_days
from connectors.sandbox.catalog import STORES
from connectors.sandbox.generate import season_multiplier
from connectors.sandbox.world import Order, World

# Paying buyers / visitors on a normal day (生意参谋's 支付转化率), by channel.
BASE_CONVERSION = {
    "tmall": 0.045,
    "taobao": 0.032,
    "jd": 0.05,
    "pinduoduo": 0.065,
    "douyin": 0.02,
    "shopify": 0.022,
    "mini_program": 0.055,
}
PAGES_PER_VISITOR = (2.5, 4.5)
# Shops with paid ads: the Douyin shop buys Ocean Engine (巨量引擎) traffic, two TOP shops buy 直通车.
AD_SHOPS = {"douyin-shop": "oceanengine", "tmall-flagship": "simba", "taobao-store": "simba"}
SIMBA_CLICK_SHARE = 0.25  # share of a TOP shop's visitors who arrived through a 直通车 click
OCEANENGINE_ORDER_SHARE = 0.4  # share of Douyin orders an ad click converted
STORE_CONVERSION = 0.22  # store entries that end in a sale

# GA4 traffic mix: (source, medium, campaign, share of sessions, sessions' purchase rate vs mean).
GA4_MIX = {
    "shopify": (
        ("google", "organic", "(organic)", 0.30, 1.0),
        ("(direct)", "(none)", "(direct)", 0.22, 1.3),
        ("google", "cpc", "brand_search", 0.14, 1.6),
        ("facebook", "paid_social", "prospecting", 0.14, 0.6),
        ("instagram", "referral", "(referral)", 0.10, 0.7),
        ("newsletter", "email", "weekly_edit", 0.10, 1.4),
    ),
    "mini_program": (
        ("weixin", "social", "(not set)", 0.40, 1.0),
        ("weixin_search", "organic", "(organic)", 0.20, 1.1),
        ("moments_ad", "cpc", "pengyouquan_feed", 0.15, 0.8),
        ("store_qr", "offline", "store_qrcode", 0.15, 1.3),
        ("(direct)", "(none)", "(direct)", 0.10, 0.9),
    ),
}
GA4_SESSION_CONVERSION = {"shopify": 0.018, "mini_program": 0.045}
REPEAT_USER_OVERLAP = 0.88  # a day's users / the sum of its per-source users (people come back twice)


@dataclass(frozen=True)
class ShopDay:
    channel: str
    shop_id: str
    day: date
    visitors: int
    page_views: int
    paying_buyers: int
    paid_orders: int
    paid_fen: int  # what buyers paid that day (支付金额), at the time of payment


@dataclass(frozen=True)
class Ga4Row:
    shop_id: str
    day: date  # in the property's time zone
    source: str
    medium: str
    campaign: str
    sessions: int
    users: int
    new_users: int
    page_views: int
    converted_sessions: int  # sessions with a purchase key event


@dataclass(frozen=True)
class AdDay:
    channel: str
    shop_id: str
    platform: str  # "oceanengine" | "simba"
    day: date
    cost_fen: int
    impressions: int
    clicks: int
    conversions: int


@dataclass(frozen=True)
class Footfall:
    store_id: str
    day: date
    entries: int  # door-counter entries (进店人数)
    transactions: int  # POS sales created at the store that China day (成交笔数)


def _rng(seed: int, *parts: object) -> np.random.Generator:
    key = "|".join(str(p) for p in parts).encode("utf-8")
    return np.random.default_rng([seed, zlib.crc32(key)])


def _paid(order: Order, world: World) -> bool:
    return order.paid_at is not None and order.paid_at < world.as_of


class TrafficModel:
    """Traffic reports of one world. Build once per world; reports are cached."""

    def __init__(self, world: World) -> None:
        self.world = world

    # --- orders grouped the ways the reports need ------------------------------------------------

    @functools.cached_property
    def _paid_by_shop_day(self) -> dict[tuple[str, date], list[Order]]:
        out: dict[tuple[str, date], list[Order]] = {}
        for order in self.world.orders:
            if _paid(order, self.world):
                assert order.paid_at is not None
                out.setdefault((order.shop_id, china_date(order.paid_at)), []).append(order)
        return out

    def _days(self) -> list[date]:
        return list(iter_days(self.world.start, self.world.end))

    # --- 生意参谋 / 京东商智 / 拼多多数据中心 -------------------------------------------------------------

    @functools.cache  # noqa: B019 - one model per world, kept as long as its simulator
    def shop_days(self, shop_id: str) -> tuple[ShopDay, ...]:
        spec = self.world.shop(shop_id)
        out = []
        for day in self._days():
            orders = self._paid_by_shop_day.get((shop_id, day), [])
            buyers = len({o.person_id or o.order_id for o in orders})
            rng = _rng(self.world.seed, "shop_day", shop_id, day)
            season = season_multiplier(day)
            # Promotion days convert better (buyers come to buy), but bring many more visitors.
            conversion = BASE_CONVERSION.get(spec.channel, 0.03) * (1.25 if season >= 3 else 1.0)
            conversion *= float(rng.lognormal(0.0, 0.15))
            browsing = int(rng.poisson(15 * season))  # visitors even on a day nobody buys
            visitors = max(buyers + browsing, math.ceil(buyers / conversion))
            pages = float(rng.uniform(*PAGES_PER_VISITOR))
            out.append(
                ShopDay(
                    channel=spec.channel,
                    shop_id=shop_id,
                    day=day,
                    visitors=visitors,
                    page_views=max(visitors, round(visitors * pages)),
                    paying_buyers=buyers,
                    paid_orders=len(orders),
                    paid_fen=sum(o.buyer_pays_fen for o in orders),
                )
            )
        return tuple(out)

    # --- GA4 ---------------------------------------------------------------------------------------

    @functools.cache  # noqa: B019
    def ga4_rows(self, shop_id: str) -> tuple[Ga4Row, ...]:
        """Per day in the property's zone, one row per (source, medium, campaign); the purchases
        of the day (orders created, in that zone) are spread over the sources by their purchase
        rates, and the sessions follow from each source's conversion."""
        spec = self.world.shop(shop_id)
        zone = ZoneInfo(spec.timezone)
        mix = GA4_MIX[spec.channel]
        purchases: dict[date, int] = {}
        for order in self.world.orders_for(shop_id):
            local_day = order.created_at.astimezone(zone).date()
            purchases[local_day] = purchases.get(local_day, 0) + 1
        rows = []
        for day in self._days():
            rng = _rng(self.world.seed, "ga4", shop_id, day)
            season = season_multiplier(day)
            weights = np.array([share * rate for _, _, _, share, rate in mix])
            converted = rng.multinomial(purchases.get(day, 0), weights / weights.sum())
            for (source, medium, campaign, share, rate), conv in zip(mix, converted, strict=True):
                expected = GA4_SESSION_CONVERSION[spec.channel] * rate * float(rng.lognormal(0.0, 0.2))
                sessions = max(int(conv), math.ceil(conv / expected), int(rng.poisson(40 * share * season)))
                if sessions == 0:
                    continue
                users = max(1, round(sessions / float(rng.uniform(1.1, 1.35))))
                rows.append(
                    Ga4Row(
                        shop_id=shop_id,
                        day=day,
                        source=source,
                        medium=medium,
                        campaign=campaign,
                        sessions=sessions,
                        users=users,
                        new_users=round(users * float(rng.uniform(0.45, 0.7))),
                        page_views=round(sessions * float(rng.uniform(3.0, 6.0))),
                        converted_sessions=int(conv),
                    )
                )
        return tuple(rows)

    def ga4_day_users(self, shop_id: str, day: date) -> int:
        """A day's unique users: fewer than the per-source users summed (people come back twice)."""
        users = [r.users for r in self.ga4_rows(shop_id) if r.day == day]
        return max([*users, round(sum(users) * REPEAT_USER_OVERLAP)], default=0)

    # --- ads ---------------------------------------------------------------------------------------

    @functools.cache  # noqa: B019
    def ad_days(self, shop_id: str) -> tuple[AdDay, ...]:
        spec = self.world.shop(shop_id)
        platform = AD_SHOPS.get(shop_id)
        if platform is None:
            return ()
        visitors = {d.day: d.visitors for d in self.shop_days(shop_id)}
        out = []
        for day in self._days():
            rng = _rng(self.world.seed, "ads", shop_id, day)
            season = season_multiplier(day)
            if platform == "simba":  # 直通车: a share of the shop's visitors came by a paid click
                clicks = round(visitors[day] * SIMBA_CLICK_SHARE * float(rng.uniform(0.8, 1.2)))
                conversions = int(rng.binomial(clicks, BASE_CONVERSION[spec.channel] * 0.8)) if clicks else 0
                cpc_fen = float(rng.uniform(120, 250))
                ctr = float(rng.uniform(0.012, 0.02))
            else:  # Ocean Engine: ads drive a share of the Douyin orders
                orders = len(self._paid_by_shop_day.get((shop_id, day), []))
                conversions = int(rng.binomial(orders, OCEANENGINE_ORDER_SHARE)) if orders else 0
                clicks = max(conversions, math.ceil(conversions / float(rng.uniform(0.02, 0.04))))
                clicks = max(clicks, int(rng.poisson(30 * season)))
                cpc_fen = float(rng.uniform(60, 140))
                ctr = float(rng.uniform(0.015, 0.03))
            cpc_fen *= 1.5 if season >= 3 else 1.0  # bids rise on promotion days
            out.append(
                AdDay(
                    channel=spec.channel,
                    shop_id=shop_id,
                    platform=platform,
                    day=day,
                    cost_fen=round(clicks * cpc_fen),
                    impressions=math.ceil(clicks / ctr) if clicks else int(rng.poisson(200)),
                    clicks=clicks,
                    conversions=conversions,
                )
            )
        return tuple(out)

    # --- stores ------------------------------------------------------------------------------------

    @functools.cached_property
    def footfall(self) -> tuple[Footfall, ...]:
        sales: dict[tuple[str, date], int] = {}
        for order in self.world.orders_for("pos-main"):
            key = (order.store_id or "", china_date(order.created_at))
            sales[key] = sales.get(key, 0) + 1
        out = []
        for store_id, _, _ in STORES:
            for day in self._days():
                rng = _rng(self.world.seed, "footfall", store_id, day)
                sold = sales.get((store_id, day), 0)
                walk_ins = math.ceil(sold / (STORE_CONVERSION * float(rng.lognormal(0.0, 0.15))))
                out.append(Footfall(store_id, day, max(sold, walk_ins + int(rng.poisson(5))), sold))
        return tuple(out)
