"""The short per-channel summary the demo prints, read from the published warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

SUMMARY_SQL = """
with sales as (
    select
        channel,
        count(*) as orders,
        count(distinct customer_key) filter (where paid_cny > 0)
            + count(*) filter (where paid_cny > 0 and customer_key is null) as buyers,
        sum(gmv_cny) as gmv_cny,
        sum(net_cny) as net_cny
    from marts.fct_orders
    where order_date between $first and $last
    group by channel
),

traffic as (
    -- visitor-days: each shop's daily unique visitors summed (not unique people); conversion is the
    -- channel's own definition over the range; ROI only over the shop-days that bought ads
    select
        channel,
        sum(visitors) as visitor_days,
        sum(conversion_numerator) / nullif(sum(conversion_denominator), 0) as conversion_rate,
        max(conversion_definition) as conversion_definition,
        sum(ad_spend_cny) as ad_spend_cny,
        sum(paid_cny) filter (where ad_spend_cny > 0) / nullif(sum(ad_spend_cny), 0) as roi
    from marts.fct_channel_daily
    where order_date between $first and $last
    group by channel
)

select
    s.channel, s.orders, s.buyers, s.gmv_cny, s.net_cny,
    t.visitor_days, t.conversion_rate, t.conversion_definition, t.ad_spend_cny, t.roi
from sales as s
left join traffic as t using (channel)
order by s.net_cny desc
"""

EXAMPLE_QUERY = (
    "select channel, order_date, orders, buyers, net_cny, visitors, conversion_rate, roi "
    "from marts.fct_channel_daily order by order_date desc, net_cny desc limit 10"
)


def channel_summary(published: Path, first: date, last: date) -> list[tuple]:
    """Per channel, for orders placed (and traffic reported) on China days first..last."""
    with duckdb.connect(str(published), read_only=True) as conn:
        return conn.execute(SUMMARY_SQL, {"first": first, "last": last}).fetchall()


def _optional(value: object, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


CUSTOMERS_SQL = """
select
    (select count(*) from marts.dim_customers where not is_business) as customers,
    (select count(*) from marts.customer_accounts) as accounts,
    (select count(*) from marts.dim_customers where not is_business and len(channels_used) > 1)
        as multichannel
"""
QUALITY_SQL = """
select precision, recall, truth_accounts from audit.identity_quality order by measured_at desc limit 1
"""


def customer_summary(published: Path) -> tuple[tuple, tuple | None]:
    """(customers, accounts, customers on several channels) and the latest identity quality, if measured."""
    with duckdb.connect(str(published), read_only=True) as conn:
        counts = conn.execute(CUSTOMERS_SQL).fetchone() or (0, 0, 0)
        measured = conn.execute(
            "select count(*) from duckdb_tables() "
            "where schema_name = 'audit' and table_name = 'identity_quality'"
        ).fetchone()
        quality = conn.execute(QUALITY_SQL).fetchone() if measured and measured[0] else None
    return tuple(counts), tuple(quality) if quality else None


def print_summary(published: Path, first: date, last: date) -> None:
    rows = channel_summary(published, first, last)
    definitions: dict[str, str] = {}
    print(f"\norders placed {first}..{last}\n")
    print(
        f"{'channel':<14}{'orders':>8}{'buyers':>8}{'GMV (CNY)':>15}{'net sales (CNY)':>17}"
        f"{'visitors*':>11}{'conversion':>13}{'ad spend':>12}{'ROI':>7}"
    )
    for channel, orders, buyers, gmv, net, visitors, conversion, definition, spend, roi in rows:
        mark = ""
        if definition:
            mark = definitions.setdefault(definition, "abcdefgh"[len(definitions)])
        rate = "-" if conversion is None else f"{conversion:.2%} {mark}"
        sales = f"{channel:<14}{orders:>8,}{buyers:>8,}{gmv:>15,.2f}{net:>17,.2f}"
        traffic = f"{_optional(visitors, ',d'):>11}{rate:>13}{_optional(spend, ',.0f'):>12}"
        print(f"{sales}{traffic}{_optional(roi, '.1f'):>7}")
    print(
        f"{'total':<14}{sum(r[1] for r in rows):>8,}{'':>8}"
        f"{sum(r[3] for r in rows):>15,.2f}{sum(r[4] for r in rows):>17,.2f}"
    )
    print("\n* visitor-days: each shop's daily unique visitors summed over the days (not unique people).")
    for definition, mark in definitions.items():
        print(f"  conversion {mark}: {definition}")
    print("  ROI (投产比): paid sales / ad spend, over the shop-days that bought ads.")
    (customers, accounts, multichannel), quality = customer_summary(published)
    print(
        f"\nUnified customers: {customers:,} people from {accounts:,} platform accounts; "
        f"{multichannel:,} buy on more than one channel."
    )
    if quality:
        precision, recall, measured = quality
        print(
            f"Identity resolution vs the sandbox truth ({measured:,} accounts): "
            f"pairwise precision {precision:.4f}, recall {recall:.4f}."
        )
    print(f"\nWarehouse: {published}")
    print(f'Try:  duckdb -readonly {published} "{EXAMPLE_QUERY}"')
