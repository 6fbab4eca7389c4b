"""The sandbox's fixed cast: shops per channel, physical stores, the product catalogue, and the
names and cities people are drawn from. Changing anything here changes every world."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShopSpec:
    channel: str
    shop_id: str
    name: str
    weight: float  # share of the channel's orders
    timezone: str = "Asia/Shanghai"  # the shop's own clock (Shopify timestamps carry its offset)
    presentment_currency: str = "CNY"
    presentment_per_cny: str = "1"  # fixed sandbox rate (decimal string) for presentment amounts


SHOPS: tuple[ShopSpec, ...] = (
    ShopSpec("shopify", "shopify-intl", "Brand Global Store", 0.7, "America/Los_Angeles", "USD", "0.1380"),
    ShopSpec("shopify", "shopify-eu", "Brand EU Store", 0.3, "Europe/Berlin", "EUR", "0.1290"),
    ShopSpec("tmall", "tmall-flagship", "品牌天猫旗舰店", 0.75),
    ShopSpec("tmall", "tmall-outlet", "品牌天猫奥莱店", 0.25),
    ShopSpec("taobao", "taobao-store", "品牌淘宝店", 0.6),
    ShopSpec("taobao", "taobao-kids", "品牌童装淘宝店", 0.4),
    ShopSpec("jd", "jd-pop", "品牌京东旗舰店", 1.0),
    ShopSpec("pinduoduo", "pdd-store", "品牌拼多多官方店", 1.0),
    ShopSpec("douyin", "douyin-shop", "品牌抖音小店", 1.0),
    ShopSpec("mini_program", "youzan-mini", "品牌官方小程序商城", 1.0),
    ShopSpec("alibaba_1688", "wholesale-1688", "品牌1688批发旗舰店", 1.0),
    ShopSpec("meituan", "meituan-o2o", "品牌美团门店", 1.0),
    ShopSpec("pos", "pos-main", "门店POS系统", 1.0),
)

# Traffic accounts: the GA4 properties of the web stores (their reporting zone is the shop's), and
# the Ocean Engine advertiser account of the Douyin shop. 直通车 accounts are the TOP shops' own.
GA4_PROPERTIES = {"412000001": "shopify-intl", "412000002": "shopify-eu", "412000003": "youzan-mini"}
OCEANENGINE_ADVERTISERS = {"1760000000000001": "douyin-shop"}

STORES: tuple[tuple[str, str, str], ...] = (  # store_id, name, city
    ("SH001", "上海南京西路店", "上海"),
    ("BJ002", "北京三里屯店", "北京"),
    ("GZ003", "广州天河店", "广州"),
)

# Channel shares of online demand, and how likely a person is to use each channel at all.
CHANNEL_ADOPTION = {
    "tmall": 0.55,
    "taobao": 0.35,
    "jd": 0.3,
    "pinduoduo": 0.3,
    "douyin": 0.25,
    "shopify": 0.18,
    "mini_program": 0.2,
    "meituan": 0.2,
    "pos": 0.45,
}
# Meituan O2O: vouchers (团购券) bought online for a store and redeemed (核销) in a store, usually
# the same one, within their validity; unused vouchers are refunded automatically at expiry
# (Meituan's 过期自动退), and buyers may refund unused vouchers any time (随时退).
MEITUAN_POI_CODES = {"SH001": "mt_poi_21001", "BJ002": "mt_poi_21002", "GZ003": "mt_poi_21003"}
VOUCHER_VALIDITY_DAYS = 30
VOUCHER_DEALS: tuple[tuple[str, str, int], ...] = (  # deal id, title, price in fen
    ("DEAL-100", "100元代金券", 8_800),
    ("DEAL-200", "200元代金券", 17_600),
    ("DEAL-TEE", "T恤任选一件套餐", 9_900),
    ("DEAL-SHO", "跑步鞋到店体验套餐", 39_900),
)
# 1688 buyers are businesses (shops reselling the brand), not people: one per 100 people, at
# least five; they buy wholesale (large quantities at a wholesale price) and pay slowly.
BUSINESSES_PER_PERSON = 0.01
WHOLESALE_PRICE_SHARE = 0.55
BUSINESS_KINDS = ("服饰店", "运动用品店", "百货商行", "贸易有限公司", "童装店")
# Marketplaces that show the merchant an order only once it is paid (no unpaid orders in their
# order APIs), and those where the platform funds part of the discount (coupons, subsidies).
PAID_ON_CREATION = frozenset({"jd", "pinduoduo"})
PLATFORM_SUBSIDISED = frozenset({"jd", "pinduoduo", "douyin"})
PLATFORM_COUPONS_FEN = (300, 500, 1_000, 2_000)
ANONYMOUS_POS_SHARE = 0.35  # store sales with no member card
# Why identity resolution is hard, in the world's own numbers: people who use a family member's
# phone for their accounts and orders, people who change numbers during the world, and orders
# sent as gifts (the receiver is someone else: their name, phone and address on the order).
SHARED_FAMILY_PHONE_SHARE = 0.04
PHONE_CHANGE_SHARE = 0.05
GIFT_ORDER_SHARE = 0.02
# People who put a courtesy form of their name on parcels (王先生, 李女士) instead of their full name.
COURTESY_NAME_SHARE = 0.1
# The brand's loyalty programme (全渠道会员): its member database is the stores' POS member table,
# and marketplace members bind their platform account to it (Tmall/Taobao, JD and Douyin 会员通,
# Meituan 商家会员) when they buy. Loyal multi-channel buyers are the likeliest members: the share of
# people who are members, by how many channels they buy on (1, 2, 3 or more; assumptions, not
# measurements), and the share of a member's accounts on those platforms that get bound.
BRAND_MEMBER_SHARE = (0.3, 0.75, 0.9)
MEMBER_BINDING_CHANNELS = ("tmall", "taobao", "jd", "douyin", "meituan")
MEMBER_BINDING_SHARE = 0.9

CATALOG: tuple[tuple[str, str, int], ...] = (  # sku, title, unit price in fen
    ("SKU-TEE-01", "纯棉短袖T恤", 9_900),
    ("SKU-TEE-02", "印花圆领T恤", 12_900),
    ("SKU-HOOD-01", "连帽卫衣", 29_900),
    ("SKU-JKT-01", "轻薄羽绒服", 69_900),
    ("SKU-JKT-02", "户外冲锋衣", 129_900),
    ("SKU-PNT-01", "直筒牛仔裤", 25_900),
    ("SKU-PNT-02", "休闲运动裤", 15_900),
    ("SKU-SHO-01", "跑步鞋", 49_900),
    ("SKU-SHO-02", "帆布鞋", 19_900),
    ("SKU-BAG-01", "双肩背包", 22_900),
    ("SKU-CAP-01", "棒球帽", 7_900),
    ("SKU-SOC-01", "运动袜三双装", 3_900),
    ("SKU-SCF-01", "羊毛围巾", 16_900),
    ("SKU-DRS-01", "针织连衣裙", 39_900),
    ("SKU-SKT-01", "百褶半身裙", 21_900),
)

CITIES = ("上海", "北京", "广州", "深圳", "杭州", "成都", "南京", "武汉", "西安", "苏州")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
