"""The short per-channel summary the demo prints, read from the published warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

SUMMARY_SQL = """
select
    channel,
    count(*) as orders,
    count(distinct customer_key) filter (where paid_cny > 0)
        + count(*) filter (where paid_cny > 0 and customer_key is null) as buyers,
    sum(gmv_cny) as gmv_cny,
    sum(net_cny) as net_cny,
    min(order_date) as first_day,
    max(order_date) as last_day
from marts.fct_orders
where order_date between ? and ?
group by channel
order by net_cny desc
"""

EXAMPLE_QUERY = (
    "select channel, order_date, orders, buyers, gmv_cny, net_cny, aov_cny "
    "from marts.fct_channel_daily order by order_date desc, net_cny desc limit 10"
)


def channel_summary(published: Path, first: date, last: date) -> list[tuple]:
    """Per channel, for orders placed on China days first..last."""
    with duckdb.connect(str(published), read_only=True) as conn:
        return conn.execute(SUMMARY_SQL, [first, last]).fetchall()


def print_summary(published: Path, first: date, last: date) -> None:
    rows = channel_summary(published, first, last)
    print(f"\norders placed {first}..{last}")
    print(f"\n{'channel':<14}{'orders':>9}{'buyers':>9}{'GMV (CNY)':>16}{'net sales (CNY)':>18}  days")
    for channel, orders, buyers, gmv, net, first, last in rows:
        print(f"{channel:<14}{orders:>9,}{buyers:>9,}{gmv:>16,.2f}{net:>18,.2f}  {first}..{last}")
    total_orders = sum(r[1] for r in rows)
    print(
        f"{'total':<14}{total_orders:>9,}{'':>9}"
        f"{sum(r[3] for r in rows):>16,.2f}{sum(r[4] for r in rows):>18,.2f}"
    )
    print(f"\nWarehouse: {published}")
    print(f'Try:  duckdb -readonly {published} "{EXAMPLE_QUERY}"')
