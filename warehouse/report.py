"""The daily omnichannel KPI report: one static HTML file with inline SVG charts (no script, no
network), written from the published warehouse after each rebuild.

For the report day (the newest China date with orders): GMV and net sales by channel, that day and
the 7 days to it; net sales by day over 30 days; traffic and conversion by channel (each channel's
own conversion definition, never mixed); new vs returning customers on the unified customer id (a
customer who first bought on another channel is returning); where customers go after their first
channel; the RFM segments. Every chart carries its numbers as text, so a reader (or a test) can
check them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

BAR_COLOR = "#3b6ea8"
ALT_COLOR = "#d08c3a"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as the report prints it


def _money(value: Decimal | float | None) -> str:
    return f"¥{float(value or 0):,.2f}"


def bar_chart(chart_id: str, title: str, bars: list[Bar], color: str = BAR_COLOR) -> str:
    """Horizontal bars, each labelled with its name and value."""
    width, row, label_w, value_w = 640, 26, 150, 130
    top = max((b.value for b in bars), default=0) or 1
    height = row * len(bars) + 10
    parts = [
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg id="{chart_id}" class="chart" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">'
    ]
    for i, bar in enumerate(bars):
        y = 5 + i * row
        length = max(0.0, bar.value) / top * (width - label_w - value_w)
        parts.append(
            f'<g class="bar" data-label="{html.escape(bar.label)}" data-value="{bar.value}">'
            f'<text x="0" y="{y + 17}">{html.escape(bar.label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" fill="{color}"/>'
            f'<text class="value" x="{label_w + length + 6:.1f}" y="{y + 17}">'
            f"{html.escape(bar.shown)}</text></g>"
        )
    parts.append("</svg></figure>")
    return "".join(parts)


def column_chart(chart_id: str, title: str, bars: list[Bar]) -> str:
    """Vertical bars over time (one per day), the value in each bar's tooltip and data attribute."""
    width, height, pad = 640, 180, 20
    top = max((b.value for b in bars), default=0) or 1
    step = (width - 2 * pad) / max(len(bars), 1)
    parts = [
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg id="{chart_id}" class="chart" width="{width}" height="{height + 20}" role="img" '
        f'aria-label="{html.escape(title)}">'
    ]
    for i, bar in enumerate(bars):
        h = max(0.0, bar.value) / top * height
        x = pad + i * step
        parts.append(
            f'<g class="bar" data-label="{bar.label}" data-value="{bar.value}">'
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}" '
            f'fill="{BAR_COLOR}">'
            f"<title>{html.escape(bar.label)}: {html.escape(bar.shown)}</title></rect></g>"
        )
    if bars:
        parts.append(f'<text x="{pad}" y="{height + 16}">{html.escape(bars[0].label)}</text>')
        parts.append(f'<text x="{width - pad - 70}" y="{height + 16}">{html.escape(bars[-1].label)}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def report_day(conn: duckdb.DuckDBPyConnection) -> date | None:
    row = conn.execute("select max(order_date) from marts.fct_orders").fetchone()
    return row[0] if row else None


def build_report(published: Path, day: date | None = None) -> tuple[str, date | None]:
    """The report's HTML and its day (None: no orders yet)."""
    with duckdb.connect(str(published), read_only=True) as conn:
        day = day or report_day(conn)
        if day is None:
            return "<!doctype html><title>KPI report</title><p>No orders have been published yet.</p>", None
        week = day - timedelta(days=6)
        by_channel = conn.execute(
            "select channel, sum(gmv_cny) filter (where order_date = $day), "
            "sum(net_cny) filter (where order_date = $day), sum(gmv_cny), sum(net_cny), "
            "sum(orders) filter (where order_date = $day) "
            "from marts.fct_channel_daily where order_date between $week and $day "
            "group by channel order by sum(net_cny) desc nulls last",
            {"day": day, "week": week},
        ).fetchall()
        daily = conn.execute(
            "select order_date, sum(net_cny) from marts.fct_channel_daily "
            "where order_date between $start and $day group by order_date order by order_date",
            {"start": day - timedelta(days=29), "day": day},
        ).fetchall()
        traffic = conn.execute(
            "select channel, sum(visitors), "
            "sum(conversion_numerator) / nullif(sum(conversion_denominator), 0), "
            "max(conversion_definition) from marts.fct_channel_daily "
            "where order_date between $week and $day and visitors is not null "
            "group by channel order by channel",
            {"day": day, "week": week},
        ).fetchall()
        customers = conn.execute(
            "with buyers as (select distinct customer_id from marts.fct_orders "
            "where order_date between $week and $day and customer_id is not null and paid_cny > 0) "
            "select count(*) filter (where d.first_order_date >= $week), "
            "count(*) filter (where d.first_order_date < $week) "
            "from buyers join marts.dim_customers as d using (customer_id)",
            {"day": day, "week": week},
        ).fetchone() or (0, 0)
        migration = conn.execute(
            "select first_channel, later_channel, customers, net_cny from marts.channel_migration "
            "where first_channel <> later_channel order by customers desc, net_cny desc limit 10"
        ).fetchall()
        segments = conn.execute(
            "select segment, count(*), sum(monetary_cny) from marts.customer_rfm "
            "group by segment order by count(*) desc"
        ).fetchall()

    day_net = [Bar(c, float(net or 0), _money(net)) for c, _, net, _, _, _ in by_channel]
    week_net = [Bar(c, float(net or 0), _money(net)) for c, _, _, _, net, _ in by_channel]
    new, returning = customers
    sections = [
        f"<h1>Omnichannel KPIs — {day.isoformat()}</h1>",
        f"<p>China business day {day.isoformat()} and the 7 days {week.isoformat()} to {day.isoformat()}; "
        "money in CNY; customers on the unified customer id.</p>",
        "<h2>Sales by channel</h2>",
        bar_chart("net-by-channel-day", f"Net sales by channel on {day.isoformat()}", day_net),
        bar_chart("net-by-channel-week", "Net sales by channel, last 7 days", week_net, ALT_COLOR),
        _table(
            ["channel", "orders (day)", "GMV (day)", "net (day)", "GMV (7 days)", "net (7 days)"],
            [
                [c, str(int(o or 0)), _money(g), _money(n), _money(g7), _money(n7)]
                for c, g, n, g7, n7, o in by_channel
            ],
            "sales-by-channel",
        ),
        column_chart(
            "net-by-day",
            "Net sales by day, last 30 days",
            [Bar(d.isoformat(), float(v or 0), _money(v)) for d, v in daily],
        ),
        "<h2>Traffic and conversion (last 7 days)</h2>",
        _table(
            ["channel", "visitor-days", "conversion", "definition"],
            [
                [c, f"{int(v or 0):,}", f"{float(r) * 100:.2f}%" if r is not None else "-", d or "-"]
                for c, v, r, d in traffic
            ],
            "traffic",
        ),
        "<p>Visitors are each shop's daily unique visitors summed (not unique people); conversion is each "
        "channel's own definition and must not be compared across definitions.</p>",
        "<h2>New and returning customers (last 7 days)</h2>",
        bar_chart(
            "new-vs-returning",
            "Paying customers: first order in the 7 days vs before",
            [Bar("new", float(new), f"{new:,}"), Bar("returning", float(returning), f"{returning:,}")],
        ),
        "<h2>Channel migration</h2>",
        _table(
            ["first channel", "later channel", "customers", "their later net sales"],
            [[f, t, f"{n:,}", _money(v)] for f, t, n, v in migration],
            "migration",
        ),
        "<h2>Customer segments (RFM)</h2>",
        bar_chart(
            "segments", "Customers by RFM segment", [Bar(s, float(n), f"{n:,}") for s, n, _ in segments]
        ),
        _table(
            ["segment", "customers", "monetary"],
            [[s, f"{n:,}", _money(m)] for s, n, m in segments],
            "segment-table",
        ),
    ]
    style = (
        "body{font-family:sans-serif;max-width:720px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}figcaption{font-weight:bold;margin:1em 0 .3em}"
        "svg text{font-size:12px}"
    )
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>KPI report {day.isoformat()}</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )
    return page, day


def write_report(published: Path, reports_dir: Path) -> Path | None:
    """Write `kpi-<day>.html` and `latest.html` (a copy) under `reports_dir`; None without orders."""
    page, day = build_report(published)
    if day is None:
        return None
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"kpi-{day.isoformat()}.html"
    path.write_text(page, encoding="utf-8")
    (reports_dir / "latest.html").write_text(page, encoding="utf-8")
    return path
