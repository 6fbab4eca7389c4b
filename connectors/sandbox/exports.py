"""The sandbox's analytics export files: the daily shop overview an operator downloads from 生意参谋
(Tmall, Taobao), 京东商智 (JD) or 拼多多数据中心 (Pinduoduo) and drops in the shop's folder.

The numbers are the world's traffic truth (`world.traffic.shop_days`); the layout is the format's
table in `connectors.exports.formats` (headers, title rows, file name, encoding), so the reader and
this writer cannot drift apart. How each platform writes a cell (thousands separators, numbers or
text in a workbook, date cells) is below, as unverified as the tables: 生意参谋 writes GBK CSV with
"1,234" and "16,660.85" quoted, 京东商智 a workbook with a merged title row and a mix of number
and text cells, 拼多多 UTF-8 CSV with a BOM and plain numbers.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from connectors.exports.formats import DEFAULT_FORMAT, ExportFormat, format_for
from connectors.sandbox.catalog import SHOPS
from connectors.sandbox.traffic import ShopDay
from connectors.sandbox.truth import fen_to_cny
from connectors.sandbox.world import World

_CENT = Decimal("0.01")


def _ratio(numerator: Decimal | int, denominator: int) -> Decimal:
    """numerator / denominator to two places (half up), 0.00 when there is nothing to divide by."""
    if denominator == 0:
        return Decimal("0.00")
    return (Decimal(numerator) / denominator).quantize(_CENT, rounding=ROUND_HALF_UP)


def day_values(day: ShopDay) -> dict[str, Any]:
    """A day of the truth as the platforms show it, by canonical field. The conversion rate is
    paying buyers / visitors in percent with two places, 客单价 the paid amount per paying buyer."""
    paid = fen_to_cny(day.paid_fen)
    return {
        "report_date": day.day,
        "visitors": day.visitors,
        "page_views": day.page_views,
        "paying_buyers": day.paying_buyers,
        "paid_orders": day.paid_orders,
        "paid_cny": paid,
        "conversion_rate": _ratio(day.paying_buyers * 100, day.visitors),
        "avg_paid_per_buyer_cny": _ratio(paid, day.paying_buyers),
    }


def _grouped(value: int | Decimal) -> str:
    return f"{value:,.2f}" if isinstance(value, Decimal) else f"{value:,}"


def _plain(value: int | Decimal) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


def _percent(value: Decimal) -> str:
    return f"{value:.2f}%"


def _date_cell(value: date) -> datetime:
    return datetime(value.year, value.month, value.day)


# How each platform writes a cell, by column kind (UNVERIFIED), and the fields 京东商智 writes as
# text with separators although the others of their kind are number cells.
CELL_STYLES: dict[str, dict[str, Callable[[Any], Any]]] = {
    "sycm": {"date": date.isoformat, "int": _grouped, "money": _grouped, "rate": _percent},
    "jd_shangzhi": {"date": _date_cell, "int": int, "money": _grouped, "rate": _percent},
    "pdd_datacenter": {"date": date.isoformat, "int": _plain, "money": _plain, "rate": _percent},
}
JD_TEXT_FIELDS = frozenset({"page_views", "paid_orders"})
XLSX_DATE_FORMAT = "yyyy-mm-dd"


def _rows(fmt: ExportFormat, days: Iterable[ShopDay]) -> list[list[Any]]:
    style = CELL_STYLES[fmt.name]
    out = []
    for day in days:
        values = day_values(day)
        row = []
        for column in fmt.columns:
            value = values[column.field]
            text_here = fmt.name == "jd_shangzhi" and column.field in JD_TEXT_FIELDS
            row.append(_grouped(value) if text_here else style[column.kind](value))
        out.append(row)
    return out


def _csv_bytes(fmt: ExportFormat, titles: list[str], rows: list[list[Any]]) -> bytes:
    assert fmt.encoding is not None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    width = len(fmt.columns)
    for title in titles:
        writer.writerow([title] + [""] * (width - 1) if title else [])
    writer.writerow([c.header for c in fmt.columns])
    writer.writerows(rows)
    return buffer.getvalue().encode(fmt.encoding)


def _xlsx_bytes(fmt: ExportFormat, titles: list[str], rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = fmt.label.split()[-1]
    last_column = get_column_letter(len(fmt.columns))
    for title in titles:
        sheet.append([title])
        sheet.merge_cells(f"A{sheet.max_row}:{last_column}{sheet.max_row}")
    sheet.append([c.header for c in fmt.columns])
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, datetime):
                cell.number_format = XLSX_DATE_FORMAT
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_export(
    world: World,
    shop_id: str,
    path: Path,
    days: Iterable[date] | None = None,
    revise: Mapping[date, int] | None = None,
    format_name: str | None = None,
) -> Path:
    """Write one shop's export file and return its path. `path` is the file, or a folder to write
    it into under the platform's own file name. `days`: only these days (default: the world's);
    `revise`: a corrected file, day -> replacement visitors (the conversion rate follows)."""
    spec = world.shop(shop_id)
    fmt = format_for(spec.channel, format_name)
    truth = world.traffic.shop_days(shop_id)
    if days is not None:
        wanted = set(days)
        unknown = wanted - {d.day for d in truth}
        if unknown:
            raise ValueError(f"days outside the world: {sorted(unknown)}")
        truth = tuple(d for d in truth if d.day in wanted)
    if revise:
        truth = tuple(dataclasses.replace(d, visitors=revise.get(d.day, d.visitors)) for d in truth)
    if not truth:
        raise ValueError("an export file needs at least one day")
    first, last = truth[0].day.isoformat(), truth[-1].day.isoformat()
    titles = [t.format(first=first, last=last) for t in fmt.title_rows]
    rows = _rows(fmt, truth)
    data = _xlsx_bytes(fmt, titles, rows) if fmt.container == "xlsx" else _csv_bytes(fmt, titles, rows)
    if path.is_dir():
        path = path / fmt.file_name.format(shop=spec.name, first=first, last=last)
    path.write_bytes(data)
    return path


def write_exports(world: World, drop_root: Path, shops: list[str] | None = None) -> list[Path]:
    """One file covering the world's days per shop with an export format (all, or those named),
    into `drop_root/<channel>/<shop_id>/` (the drop folders of config/sandbox.toml)."""
    with_format = [s for s in SHOPS if s.channel in DEFAULT_FORMAT]
    if shops is not None:
        unknown = set(shops) - {s.shop_id for s in with_format}
        if unknown:
            raise ValueError(f"no export format for shops {sorted(unknown)}")
        with_format = [s for s in with_format if s.shop_id in shops]
    written = []
    for spec in with_format:
        folder = drop_root / spec.channel / spec.shop_id
        folder.mkdir(parents=True, exist_ok=True)
        written.append(write_export(world, spec.shop_id, folder))
    return written
