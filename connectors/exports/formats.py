"""Shop analytics export files: one declarative table per format, and the reader (file -> day rows).

Tmall / Taobao 生意参谋, JD 京东商智 and Pinduoduo 数据中心 have no public traffic API
(channel-protocols.md §12.4), so operators download the shop's daily overview report and drop it in
a folder per shop. Each format below is a table: the header text of each column, the canonical field
it fills, and how its cells are parsed.

UNVERIFIED: the header names, title rows, file names, encodings and layouts below are plausible
choices (the platforms' real exports were not available to check); adjust a format's table, and
only its table, when a real file disagrees.

Reading is all or nothing: any problem (undecodable bytes, not a workbook, no header row, a missing
column, an unparseable value, a duplicated or missing date, no data rows) raises `ExportFileError`
naming the file, the row and column, and what was wrong. A file's container is told by its name,
not by its format: a `.csv` is text (UTF-8 with or without BOM, else GB18030, a superset of GBK), an
`.xlsx` / `.xls` is an Office Open XML workbook (its first sheet), whatever platform wrote it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.common.reports import CHINA_TIME_ZONE, traffic_record
from connectors.common.timeutil import iter_days

CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # tried in order; GB18030 reads every GBK file
HEADER_SEARCH_ROWS = 10  # the header is the first row within these that holds the date header
TIME_ZONE = CHINA_TIME_ZONE
REPORT = "day_total"  # one shop-level row per day

# The canonical fields a format's columns fill (every format must have each of them).
CANONICAL_FIELDS = (
    "report_date",
    "visitors",
    "page_views",
    "paying_buyers",
    "paid_orders",
    "paid_cny",
    "conversion_rate",
)


class ExportFileError(Exception):
    """An export file cannot be read; the message names the file, where and what was wrong."""


@dataclass(frozen=True)
class Column:
    header: str  # the cell text of the header row
    field: str  # the canonical field it fills; a field outside CANONICAL_FIELDS stays in `platform`
    kind: str  # "date" | "int" | "money" | "rate" (see PARSERS)
    required: bool = True


@dataclass(frozen=True)
class ExportFormat:
    name: str
    label: str  # the report, as the operator knows it
    channels: tuple[str, ...]
    columns: tuple[Column, ...]
    conversion_definition: str  # the platform's own definition of its conversion rate
    # How the platform writes the file (the sandbox writes it so; the reader does not rely on it).
    container: str  # "csv" | "xlsx"
    encoding: str | None  # CSV bytes
    title_rows: tuple[str, ...]  # lines above the header ({first}, {last}: the file's days)
    file_name: str  # {shop}: the shop's name; {first}, {last}: the file's days

    @property
    def date_column(self) -> Column:
        return next(c for c in self.columns if c.kind == "date")


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat(
            name="sycm",
            label="生意参谋 店铺整体",
            channels=("tmall", "taobao"),
            columns=(
                Column("统计日期", "report_date", "date"),
                Column("访客数", "visitors", "int"),
                Column("浏览量", "page_views", "int"),
                Column("支付买家数", "paying_buyers", "int"),
                Column("支付子订单数", "paid_orders", "int"),
                Column("支付金额", "paid_cny", "money"),
                Column("支付转化率", "conversion_rate", "rate"),
                Column("客单价", "avg_paid_per_buyer_cny", "money", required=False),
            ),
            conversion_definition="支付买家数 / 访客数",
            container="csv",
            encoding="gbk",
            title_rows=("【生意参谋平台】店铺整体数据", "统计时间：{first} ~ {last}", ""),
            file_name="【生意参谋平台】店铺整体-{shop}-{first}_{last}.csv",
        ),
        ExportFormat(
            name="jd_shangzhi",
            label="京东商智 店铺概况",
            channels=("jd",),
            columns=(
                Column("日期", "report_date", "date"),
                Column("访客数", "visitors", "int"),
                Column("浏览量", "page_views", "int"),
                Column("成交客户数", "paying_buyers", "int"),
                Column("成交单量", "paid_orders", "int"),
                Column("成交金额", "paid_cny", "money"),
                Column("成交转化率", "conversion_rate", "rate"),
            ),
            conversion_definition="成交客户数 / 访客数",
            container="xlsx",
            encoding=None,
            title_rows=("京东商智-店铺概况（{first} 至 {last}）",),
            file_name="京东商智_店铺概况_{shop}_{first}_{last}.xlsx",
        ),
        ExportFormat(
            name="pdd_datacenter",
            label="拼多多 数据中心 交易概况",
            channels=("pinduoduo",),
            columns=(
                Column("日期", "report_date", "date"),
                Column("商品访客数", "visitors", "int"),
                Column("商品浏览量", "page_views", "int"),
                Column("支付买家数", "paying_buyers", "int"),
                Column("支付订单数", "paid_orders", "int"),
                Column("成交金额", "paid_cny", "money"),
                Column("支付转化率", "conversion_rate", "rate"),
            ),
            conversion_definition="支付买家数 / 商品访客数",
            container="csv",
            encoding="utf-8-sig",
            title_rows=(),
            file_name="拼多多_交易概况_{shop}_{first}_{last}.csv",
        ),
    )
}
DEFAULT_FORMAT = {"tmall": "sycm", "taobao": "sycm", "jd": "jd_shangzhi", "pinduoduo": "pdd_datacenter"}
assert all({c.field for c in f.columns if c.required} >= set(CANONICAL_FIELDS) for f in FORMATS.values()), (
    "every format must fill every canonical field"
)


def format_for(channel: str, name: str | None = None) -> ExportFormat:
    """The format named (a `[[traffic]]` entry's `format` option), else the channel's default."""
    name = name or DEFAULT_FORMAT.get(channel)
    if name is None or name not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"no export format {name!r} for channel {channel} (known formats: {known})")
    return FORMATS[name]


# --- values --------------------------------------------------------------------------------------

_INT = re.compile(r"\d{1,3}(?:,\d{3})+|\d+", re.ASCII)
_MONEY = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?", re.ASCII)
_RATE = re.compile(r"(\d+(?:\.\d+)?)%", re.ASCII)
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})|(\d{4})/(\d{1,2})/(\d{1,2})|(\d{4})(\d{2})(\d{2})", re.ASCII)
_CENT = Decimal("0.01")


def parse_int(text: str) -> int:
    """'1,234' or '1234' -> 1234; fractions, signs and anything else are refused."""
    if not _INT.fullmatch(text):
        raise ValueError("is not a whole number")
    return int(text.replace(",", ""))


def parse_money(text: str) -> Decimal:
    """'16,660.85' -> Decimal('16660.85'), always two places; more than two places is refused."""
    if not _MONEY.fullmatch(text):
        raise ValueError("is not an amount in yuan (like 16,660.85)")
    return Decimal(text.replace(",", "")).quantize(_CENT)


def parse_rate(text: str) -> Decimal:
    """'3.25%' -> Decimal('0.0325'): the fraction, with the digits as reported."""
    match = _RATE.fullmatch(text)
    if not match:
        raise ValueError("is not a percentage (like 3.25%)")
    return Decimal(match.group(1)).scaleb(-2)


def parse_date(text: str) -> date:
    """2026-11-24, 2026/11/24 or 20261124."""
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError("is not a date (like 2026-11-24, 2026/11/24 or 20261124)")
    year, month, day = (int(g) for g in match.groups() if g is not None)
    return date(year, month, day)  # ValueError for 2026-02-30


PARSERS: dict[str, Callable[[str], Any]] = {
    "date": parse_date,
    "int": parse_int,
    "money": parse_money,
    "rate": parse_rate,
}


# --- files -> grids of cell text -------------------------------------------------------------------

Grid = list[tuple[int, list[str]]]  # (row number in the file, 1-based; cell texts)


def _csv_grid(name: str, data: bytes) -> Grid:
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ExportFileError(f"{name}: not readable text (tried {', '.join(CSV_ENCODINGS)})")
    try:
        return [(n, [cell.strip() for cell in row]) for n, row in enumerate(csv.reader(io.StringIO(text)), 1)]
    except csv.Error as exc:
        raise ExportFileError(f"{name}: not a readable CSV file ({exc})") from exc


def _cell_text(value: Any, number_format: str) -> str:
    """A workbook cell as the text the operator sees: numbers exactly (shortest repr of a float),
    a percent-formatted number as a percentage, a date cell as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        if "%" in number_format:
            return f"{number.scaleb(2).normalize():f}%"
        return f"{number.normalize():f}" if number == number.to_integral_value() else f"{number:f}"
    return str(value).strip()


def _xlsx_grid(name: str, data: bytes) -> Grid:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        legacy = data.startswith(bytes.fromhex("d0cf11e0a1b11ae1"))
        hint = "a legacy .xls (Excel 97-2003) workbook: save it as .xlsx" if legacy else "not a workbook"
        raise ExportFileError(f"{name}: not an XLSX file ({hint})")
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles platforms leave out
            book = load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ExportFileError(f"{name}: not a readable XLSX workbook ({type(exc).__name__})") from exc
    sheet = book.worksheets[0]
    return [
        (n, [_cell_text(cell.value, cell.number_format) for cell in row])
        for n, row in enumerate(sheet.iter_rows(), 1)
    ]


def _grid(name: str, data: bytes) -> Grid:
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return _csv_grid(name, data)
    if suffix in (".xlsx", ".xls"):
        return _xlsx_grid(name, data)
    raise ExportFileError(f"{name}: not a .csv, .xlsx or .xls file")


# --- grids -> day rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    row_number: int
    values: Mapping[str, Any]  # field -> parsed value (date, int, Decimal)
    platform: Mapping[str, str]  # header -> cell text, as the file has it

    @property
    def report_date(self) -> date:
        day: date = self.values["report_date"]
        return day


@dataclass(frozen=True)
class ExportFile:
    name: str  # the file's base name
    sha256: str
    format: ExportFormat
    rows: tuple[ExportRow, ...]  # by date

    @property
    def first_day(self) -> date:
        return self.rows[0].report_date

    @property
    def last_day(self) -> date:
        return self.rows[-1].report_date

    def records(self) -> list[tuple[str, date, dict[str, Any]]]:
        """(record id, report day, canonical record) per day: what lands."""
        out = []
        for row in self.rows:
            day = row.report_date
            record = traffic_record(
                REPORT,
                day,
                TIME_ZONE,
                row.platform,
                **{f: row.values[f] for f in CANONICAL_FIELDS if f != "report_date"},
                conversion_definition=self.format.conversion_definition,
                format=self.format.name,
                file=self.name,
                file_sha256=self.sha256,
            )
            out.append((f"{REPORT}|{day.isoformat()}", day, record))
        return out


def _header(name: str, fmt: ExportFormat, grid: Grid) -> tuple[int, dict[str, int]]:
    """The header row's index in the grid and each column's position."""
    wanted = fmt.date_column.header
    for index, (number, cells) in enumerate(grid[:HEADER_SEARCH_ROWS]):
        if wanted not in cells:
            continue
        positions: dict[str, int] = {}
        for column in fmt.columns:
            found = [i for i, cell in enumerate(cells) if cell == column.header]
            if len(found) > 1:
                raise ExportFileError(f"{name}: header row {number}: column {column.header} appears twice")
            if found:
                positions[column.header] = found[0]
            elif column.required:
                raise ExportFileError(
                    f"{name}: header row {number} has no column {column.header} "
                    f"(a {fmt.label} export has: {', '.join(c.header for c in fmt.columns)})"
                )
        return index, positions
    raise ExportFileError(
        f"{name}: no header row (a row with a {wanted} column) in the first {HEADER_SEARCH_ROWS} rows; "
        f"is this a {fmt.label} export?"
    )


def _shown(text: str) -> str:
    return repr(text if len(text) <= 32 else text[:32] + "…")


def parse_grid(name: str, sha256: str, fmt: ExportFormat, grid: Grid) -> ExportFile:
    header_index, positions = _header(name, fmt, grid)
    header_number, header_cells = grid[header_index]
    rows: list[ExportRow] = []
    seen: dict[date, int] = {}
    for number, cells in grid[header_index + 1 :]:
        if not any(cells):
            break  # the table ends at its first empty row (platforms put notes below it)
        values: dict[str, Any] = {}
        for column in fmt.columns:
            position = positions.get(column.header)
            if position is None:
                continue
            text = cells[position] if position < len(cells) else ""
            if not text:
                raise ExportFileError(f"{name}: row {number}, column {column.header}: the value is empty")
            try:
                values[column.field] = PARSERS[column.kind](text)
            except ValueError as exc:
                raise ExportFileError(
                    f"{name}: row {number}, column {column.header}: {_shown(text)} {exc}"
                ) from exc
        day = values["report_date"]
        if day in seen:
            raise ExportFileError(
                f"{name}: row {number}: the date {day.isoformat()} appears twice (also in row {seen[day]})"
            )
        seen[day] = number
        platform = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header_cells) if h}
        rows.append(ExportRow(number, values, platform))
    if not rows:
        raise ExportFileError(f"{name}: no data rows below the header (row {header_number})")
    rows.sort(key=lambda r: r.report_date)
    first, last = rows[0].report_date, rows[-1].report_date
    missing = [d for d in iter_days(first, last) if d not in seen]
    if missing:
        raise ExportFileError(
            f"{name}: no row for {', '.join(d.isoformat() for d in missing[:5])}"
            f"{' …' if len(missing) > 5 else ''} between {first} and {last} "
            "(a daily export lists every day of its range; landing it would blank those days)"
        )
    return ExportFile(name, sha256, fmt, tuple(rows))


def read_export(path: Path, fmt: ExportFormat, data: bytes | None = None) -> ExportFile:
    """Read one export file (its bytes may be passed in, e.g. already hashed) into its day rows."""
    data = path.read_bytes() if data is None else data
    return parse_grid(path.name, hashlib.sha256(data).hexdigest(), fmt, _grid(path.name, data))
