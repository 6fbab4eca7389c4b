"""The channel registry: one line per sales channel.

`source` names the connector family (one folder under connectors/, one raw view prefix, one
staging model): Tmall and Taobao shops both speak TOP, so they share the `top` source.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from connectors.common.http import PullStats
from connectors.common.pii import PiiHasher
from connectors.config import ShopConfig


class Source(Protocol):
    """What every connector offers: pull one entity for one half-open UTC window, page by page."""

    stats: PullStats

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        """Yield pages in `connectors.common.records.LANDING_SCHEMA`, PII already scrubbed,
        every row's modified_at inside [start, end)."""
        ...

    def close(self) -> None: ...


SALES_MODELS = ("b2c", "c2c", "f2c", "o2o", "b2b", "offline")


@dataclass(frozen=True)
class ChannelSpec:
    channel: str
    source: str
    entities: tuple[str, ...]
    label: str
    factory: str  # "module:Class", imported only when a pull runs
    # How the channel sells (the seed essay's business models): b2c marketplace, c2c marketplace,
    # f2c (the brand's own store), o2o (vouchers redeemed in stores), b2b (wholesale), offline.
    sales_model: str = "b2c"

    def build(self, shop: ShopConfig, pii: PiiHasher) -> Source:
        module, _, name = self.factory.partition(":")
        cls = getattr(importlib.import_module(module), name)
        source: Source = cls(shop, pii)
        return source


CHANNELS: dict[str, ChannelSpec] = {
    spec.channel: spec
    for spec in (
        ChannelSpec(
            "shopify",
            "shopify",
            ("orders", "customers"),
            "Shopify store",
            "connectors.shopify.source:ShopifySource",
            "f2c",
        ),
        ChannelSpec("tmall", "top", ("orders",), "Tmall", "connectors.top.source:TopSource", "b2c"),
        ChannelSpec("taobao", "top", ("orders",), "Taobao", "connectors.top.source:TopSource", "c2c"),
        ChannelSpec("jd", "jd", ("orders",), "JD.com", "connectors.jd.source:JdSource", "b2c"),
        ChannelSpec(
            "pinduoduo",
            "pinduoduo",
            ("orders",),
            "Pinduoduo",
            "connectors.pinduoduo.source:PinduoduoSource",
            "b2c",
        ),
        ChannelSpec(
            "douyin", "douyin", ("orders",), "Douyin shop", "connectors.douyin.source:DouyinSource", "b2c"
        ),
        ChannelSpec(
            "mini_program",
            "youzan",
            ("orders", "customers"),
            "Brand mini-program store (Youzan)",
            "connectors.youzan.source:YouzanSource",
            "f2c",
        ),
        ChannelSpec(
            "alibaba_1688",
            "alibaba_1688",
            ("orders",),
            "1688 wholesale",
            "connectors.alibaba_1688.source:Alibaba1688Source",
            "b2b",
        ),
        ChannelSpec(
            "meituan",
            "meituan",
            ("orders",),
            "Meituan / Dianping vouchers",
            "connectors.meituan.source:MeituanSource",
            "o2o",
        ),
        ChannelSpec(
            "pos",
            "pos",
            ("orders", "customers"),
            "Offline stores (POS)",
            "connectors.pos.source:PosSource",
            "offline",
        ),
    )
}
assert all(spec.sales_model in SALES_MODELS for spec in CHANNELS.values())


@dataclass(frozen=True)
class TrafficSpec:
    """A traffic or ad-spend source: an analytics API pulled by day like orders, or report files an
    operator downloads and drops in a folder (the marketplaces' 生意参谋 / 京东商智 / 拼多多数据中心
    have no public traffic API). A `[[traffic]]` config entry ties one to a shop of a channel."""

    source: str
    label: str
    channels: tuple[str, ...]  # the channels whose shops this source can describe
    factory: str | None = None  # "module:Class" of an API source; None: files from a drop folder

    @property
    def from_files(self) -> bool:
        return self.factory is None

    def build(self, entry: ShopConfig, pii: PiiHasher) -> Source:
        if self.factory is None:
            raise TypeError(f"traffic source {self.source} is loaded from files, not pulled")
        module, _, name = self.factory.partition(":")
        source: Source = getattr(importlib.import_module(module), name)(entry, pii)
        return source


TRAFFIC_ENTITY = "traffic"
TRAFFIC_SOURCES: dict[str, TrafficSpec] = {
    spec.source: spec
    for spec in (
        TrafficSpec(
            "ga4",
            "Google Analytics 4 (sessions by source / medium / campaign)",
            ("shopify", "mini_program"),
            "connectors.ga4.source:Ga4Source",
        ),
        TrafficSpec(
            "oceanengine",
            "Ocean Engine 巨量引擎 ad report",
            ("douyin",),
            "connectors.oceanengine.source:OceanEngineSource",
        ),
        TrafficSpec(
            "simba", "Taobao 直通车 ad report (TOP)", ("tmall", "taobao"), "connectors.top.simba:SimbaSource"
        ),
        TrafficSpec("exports", "Shop analytics export files", ("tmall", "taobao", "jd", "pinduoduo")),
        TrafficSpec(
            "pos_footfall", "Store door counters (POS database)", ("pos",), "connectors.pos.source:PosSource"
        ),
    )
}


def sources() -> dict[str, list[str]]:
    """source -> channels that speak it."""
    out: dict[str, list[str]] = {}
    for spec in CHANNELS.values():
        out.setdefault(spec.source, []).append(spec.channel)
    return out
