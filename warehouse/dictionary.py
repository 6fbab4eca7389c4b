"""The data dictionary: every table analysts query (schemas `marts` and `audit`) and every column,
generated from the published warehouse's own comments, so it says what the file holds.

Grain and meaning come from the table comments the models set (their `-- grain:` and
`-- description:` headers), each column's meaning from its comment, its unit from its type and
name (money `_cny`, times `_at`, dates `_date`), and each table has an example query (below; the
tests run every one against a built warehouse). `omni dictionary` prints it; the committed copy is
warehouse/DATA_DICTIONARY.md, kept equal to a fresh build's by a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

SCHEMAS = ("marts", "audit")

EXAMPLES: dict[str, str] = {
    "marts.fct_orders": (
        "select channel, order_date, count(*) as orders, sum(net_cny) as net_cny\n"
        "from marts.fct_orders group by all order by order_date desc, net_cny desc limit 20"
    ),
    "marts.fct_order_lines": (
        "select sku, any_value(title) as title, sum(quantity) as units, sum(line_amount_cny) as sales_cny\n"
        "from marts.fct_order_lines where not is_refunded group by sku order by sales_cny desc limit 10"
    ),
    "marts.fct_channel_daily": (
        "select channel, sum(net_cny) as net_cny, sum(orders) as orders,\n"
        "    sum(conversion_numerator) / nullif(sum(conversion_denominator), 0) as conversion_rate\n"
        "from marts.fct_channel_daily\n"
        "where order_date > (select max(order_date) from marts.fct_channel_daily) - 7\n"
        "group by channel order by net_cny desc"
    ),
    "marts.fct_channel_traffic_daily": (
        "select channel, source, medium, sum(sessions) as sessions, sum(ad_spend_cny) as ad_spend_cny\n"
        "from marts.fct_channel_traffic_daily group by all order by sessions desc limit 20"
    ),
    "marts.fct_voucher_redemptions": (
        "select redeemed_store_id, redeemed_date, count(*) as vouchers, sum(amount_cny) as revenue_cny\n"
        "from marts.fct_voucher_redemptions group by all order by redeemed_date desc, revenue_cny desc"
    ),
    "marts.dim_customers": (
        "select rfm_segment, count(*) as customers, avg(net_revenue_cny) as avg_net_cny\n"
        "from marts.dim_customers group by rfm_segment order by customers desc"
    ),
    "marts.customer_accounts": (
        "select customer_id, count(*) as accounts, string_agg(distinct channel, ', ') as channels\n"
        "from marts.customer_accounts group by customer_id having count(distinct channel) > 1 limit 10"
    ),
    "marts.customer_cohorts": (
        "select cohort_month, months_since_first, customers_active\n"
        "from marts.customer_cohorts order by cohort_month, months_since_first"
    ),
    "marts.channel_migration": (
        "select first_channel, later_channel, customers, net_cny\n"
        "from marts.channel_migration order by customers desc limit 10"
    ),
    "marts.customer_rfm": (
        "select segment, count(*) as customers\n"
        "from marts.customer_rfm group by segment order by customers desc"
    ),
    "marts.customer_ltv": (
        "select customer_id, p_alive, expected_purchases_12m, clv_12m_cny\n"
        "from marts.customer_ltv order by clv_12m_cny desc limit 10"
    ),
    "audit.quarantine": (
        "select channel, partition_date, reason, count(*) as records\nfrom audit.quarantine group by all"
    ),
    "audit.order_reconciliation": (
        "select * from audit.order_reconciliation\n"
        "where unexplained_orders <> 0 or published_not_landed <> 0 or paid_difference_cny <> 0"
    ),
    "audit.identity_quality": "select * from audit.identity_quality order by measured_at desc limit 5",
    "audit.model_state": "select * from audit.model_state order by model",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str | None

    @property
    def unit(self) -> str:
        name, kind = self.name, self.type.upper()
        if name.endswith("_cny"):
            return "CNY"
        if name.endswith("_at") or kind.startswith("TIMESTAMP"):
            return "UTC time"
        if name.endswith(("_date", "_month")) or kind == "DATE":
            return "China date"
        if name.endswith(("_rate", "_share")) or name in ("precision", "recall", "p_alive"):
            return "fraction (0-1)"
        return ""


@dataclass(frozen=True)
class Table:
    name: str  # schema.table
    comment: str | None
    columns: list[Column]


def describe(conn: duckdb.DuckDBPyConnection) -> list[Table]:
    tables = conn.execute(
        "select schema_name || '.' || table_name, comment from duckdb_tables() "
        "where schema_name in (select unnest(?)) order by schema_name desc, table_name",
        [list(SCHEMAS)],
    ).fetchall()
    described = []
    for name, comment in tables:
        schema, table = name.split(".")
        columns = conn.execute(
            "select column_name, data_type, comment from duckdb_columns() "
            "where schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
        described.append(Table(name, comment, [Column(*c) for c in columns]))
    return described


def undocumented(tables: list[Table]) -> list[str]:
    """Every table or column without a comment, and every table without an example query."""
    missing = []
    for table in tables:
        if not table.comment:
            missing.append(f"{table.name}: no table comment")
        if table.name not in EXAMPLES:
            missing.append(f"{table.name}: no example query in warehouse/dictionary.py")
        missing += [f"{table.name}.{c.name}: no comment" for c in table.columns if not c.comment]
    return missing


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(tables: list[Table]) -> str:
    lines = [
        "# Data dictionary",
        "",
        "Generated from the published warehouse (`omni dictionary`); do not edit by hand. Every table",
        "in `marts` (what analysts query) and `audit` (what the pipeline could not publish, and how it",
        "checked itself). Money is DECIMAL(18,2) CNY; times are UTC; dates are China (Asia/Shanghai) dates.",
        "",
    ]
    for table in tables:
        lines += [f"## `{table.name}`", "", table.comment or "(no description)", ""]
        lines += ["| column | type | unit | meaning |", "|---|---|---|---|"]
        lines += [
            f"| `{c.name}` | {c.type} | {c.unit} | {_cell(c.comment or '(no description)')} |"
            for c in table.columns
        ]
        if table.name in EXAMPLES:
            lines += ["", "```sql", EXAMPLES[table.name], "```"]
        lines.append("")
    return "\n".join(lines)
