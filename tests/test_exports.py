"""Shop analytics export files: the sandbox writes them as operators download them, the loader lands
them exactly (vs the world's traffic truth), skips repeats, lands corrections and quarantines junk."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import orjson
import pyarrow.parquet as pq
import pytest

from connectors.common.errors import ConfigError
from connectors.common.reports import TRAFFIC_KEYS
from connectors.config import TrafficConfig
from connectors.exports.formats import (
    FORMATS,
    ExportFileError,
    parse_date,
    parse_int,
    parse_money,
    parse_rate,
    read_export,
)
from connectors.exports.loader import ExportDropLoader
from connectors.sandbox.exports import write_export, write_exports
from connectors.sandbox.generate import cached_world
from connectors.sandbox.truth import fen_to_cny
from connectors.sandbox.world import World
from tests.conftest import TEST_WORLD
from warehouse.landing import partition_dir

NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
ENTITY = "traffic/exports"


@pytest.fixture(scope="module")
def world() -> World:
    return cached_world(TEST_WORLD.seed, TEST_WORLD.people, TEST_WORLD.start, TEST_WORLD.end)


def loader_for(channel: str, shop_id: str, drop: Path, landing: Path, **options) -> ExportDropLoader:
    entry = TrafficConfig(channel, shop_id, {"drop_dir": str(drop), **options}, source="exports")
    return ExportDropLoader(entry, landing)


def settled(*paths: Path) -> None:
    """Age the files past the loader's settle time (a finished download)."""
    old = time.time() - 60
    for path in paths:
        os.utime(path, (old, old))


def landed(landing: Path, channel: str, shop_id: str, day: date) -> list[list[dict]]:
    """The records of each extraction of a day, oldest first."""
    files = sorted(partition_dir(landing, channel, ENTITY, shop_id, day).glob("*.parquet"))
    return [[orjson.loads(r) for r in pq.read_table(f).column("record").to_pylist()] for f in files]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def expected_rate(buyers: int, visitors: int) -> str:
    """The fraction the platform shows as a percentage with two places."""
    rate = Decimal(buyers) / Decimal(visitors) if visitors else Decimal(0)
    return str(rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def assert_sycm_bytes(data: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # GBK, as 生意参谋 writes it
    lines = data.decode("gbk").splitlines()
    assert lines[0].startswith("【生意参谋平台】店铺整体数据")
    assert lines[1].startswith("统计时间：2026-11-05 ~ 2026-11-14")
    assert lines[3].startswith("统计日期,访客数,浏览量,支付买家数")
    assert '"' in data.decode("gbk"), "amounts over 1,000 are written quoted with separators"


def assert_jd_bytes(data: bytes) -> None:
    assert zipfile.is_zipfile(io.BytesIO(data))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:G1"]
    assert sheet["A1"].value.startswith("京东商智-店铺概况")
    assert [c.value for c in sheet[2]] == [c.header for c in FORMATS["jd_shangzhi"].columns]
    assert isinstance(sheet["A3"].value, datetime) and isinstance(sheet["B3"].value, int)
    assert isinstance(sheet["C3"].value, str), "京东商智 writes some numbers as text"


def assert_pdd_bytes(data: bytes) -> None:
    assert data.startswith(b"\xef\xbb\xbf" + "日期,商品访客数,".encode())  # BOM, no title row


@pytest.mark.parametrize(
    ("channel", "shop_id", "check_bytes"),
    [
        ("tmall", "tmall-flagship", assert_sycm_bytes),
        ("taobao", "taobao-kids", assert_sycm_bytes),
        ("jd", "jd-pop", assert_jd_bytes),
        ("pinduoduo", "pdd-store", assert_pdd_bytes),
    ],
)
def test_each_format_lands_every_day_exactly_as_the_truth(tmp_path, world, channel, shop_id, check_bytes):
    drops, landing = tmp_path / "drops", tmp_path / "landing"
    [path] = write_exports(world, drops, shops=[shop_id])
    assert path.parent == drops / channel / shop_id
    data = path.read_bytes()
    check_bytes(data)
    settled(path)

    loader = loader_for(channel, shop_id, path.parent, landing)
    [outcome] = loader.load_pending(NOW)

    truth = world.traffic.shop_days(shop_id)
    sha = hashlib.sha256(data).hexdigest()
    assert (outcome.status, outcome.name, outcome.sha256) == ("loaded", path.name, sha)
    assert (outcome.days, outcome.rows) == (len(truth), len(truth)) == (10, 10)
    assert outcome.path == path.parent / "_loaded" / path.name and outcome.path.read_bytes() == data
    assert not path.exists()
    fmt = loader.format
    for day in truth:
        [[record]] = landed(landing, channel, shop_id, day.day)
        assert record == {
            **dict.fromkeys(TRAFFIC_KEYS),
            "report": "day_total",
            "report_date": day.day.isoformat(),
            "visitors": day.visitors,
            "page_views": day.page_views,
            "paying_buyers": day.paying_buyers,
            "paid_orders": day.paid_orders,
            "paid_cny": str(fen_to_cny(day.paid_fen)),
            "conversion_rate": expected_rate(day.paying_buyers, day.visitors),
            "conversion_definition": fmt.conversion_definition,
            "format": fmt.name,
            "file": path.name,
            "file_sha256": sha,
            "time_zone": "Asia/Shanghai",
            "platform": record["platform"],
        }
        assert list(record["platform"]) == [c.header for c in fmt.columns]
        record_ids = pq.read_table(
            next(partition_dir(landing, channel, ENTITY, shop_id, day.day).glob("*.parquet"))
        ).column("record_id")
        assert record_ids.to_pylist() == [f"day_total|{day.day.isoformat()}"]
    assert sum(d.paid_fen for d in truth) > 0
    manifest = json.loads((landing / channel / ENTITY / "_files" / f"{sha}.json").read_text("utf-8"))
    assert manifest | {"loaded_at": None} == {
        "sha256": sha,
        "file": path.name,
        "channel": channel,
        "shop_id": shop_id,
        "format": fmt.name,
        "first_day": "2026-11-05",
        "last_day": "2026-11-14",
        "days": 10,
        "rows": 10,
        "loaded_at": None,
    }


def test_an_identical_file_dropped_again_is_a_duplicate_and_lands_nothing(tmp_path, world):
    drop, landing = tmp_path / "drop", tmp_path / "landing"
    drop.mkdir()
    loader = loader_for("pinduoduo", "pdd-store", drop, landing)
    first = write_export(world, "pdd-store", drop)
    data = first.read_bytes()
    settled(first)
    [loaded] = loader.load_pending(NOW)
    assert loaded.status == "loaded"
    before = tree(landing)

    again = drop / first.name
    again.write_bytes(data)
    settled(again)
    [outcome] = loader.load_pending(NOW + timedelta(hours=1))

    assert (outcome.status, outcome.sha256, outcome.days, outcome.rows) == ("duplicate", loaded.sha256, 0, 0)
    assert tree(landing) == before
    assert outcome.path == drop / "_loaded" / f"{first.stem} (2){first.suffix}"
    assert sorted(p.name for p in (drop / "_loaded").iterdir()) == sorted([first.name, outcome.path.name])


def test_a_corrected_file_for_one_day_is_a_newer_extraction_of_that_day(tmp_path, world):
    drop, landing = tmp_path / "drop", tmp_path / "landing"
    drop.mkdir()
    loader = loader_for("tmall", "tmall-flagship", drop, landing)
    settled(write_export(world, "tmall-flagship", drop))
    [original] = loader.load_pending(NOW)
    assert original.status == "loaded"

    day = date(2026, 11, 11)
    truth = next(d for d in world.traffic.shop_days("tmall-flagship") if d.day == day)
    corrected = write_export(world, "tmall-flagship", drop, days=[day], revise={day: 12_345})
    assert corrected.name.endswith("-2026-11-11_2026-11-11.csv")
    assert '"12,345"' in corrected.read_bytes().decode("gbk")  # thousands separators, quoted
    settled(corrected)
    [outcome] = loader.load_pending(NOW + timedelta(hours=1))

    assert (outcome.status, outcome.days, outcome.rows) == ("loaded", 1, 1)
    old, new = landed(landing, "tmall", "tmall-flagship", day)
    assert old[0]["visitors"] == truth.visitors != 12_345
    [record] = new
    assert record["visitors"] == 12_345 and record["platform"]["访客数"] == "12,345"
    assert record["conversion_rate"] == expected_rate(truth.paying_buyers, 12_345)
    assert record["paid_cny"] == str(fen_to_cny(truth.paid_fen))
    assert record["file"] == corrected.name
    for other in (day - timedelta(days=1), day + timedelta(days=1)):
        assert len(landed(landing, "tmall", "tmall-flagship", other)) == 1, "other days are untouched"


def test_a_correction_dropped_with_the_file_it_corrects_lands_after_it(tmp_path, world):
    drop, landing = tmp_path / "drop", tmp_path / "landing"
    drop.mkdir()
    day = date(2026, 11, 12)
    original = write_export(world, "jd-pop", drop)
    corrected = write_export(world, "jd-pop", drop, days=[day], revise={day: 999})
    os.utime(original, (time.time() - 120, time.time() - 120))
    settled(corrected)  # modified after the original: it is the newer word on that day

    outcomes = loader_for("jd", "jd-pop", drop, landing).load_pending(NOW)

    assert [(o.name, o.status) for o in outcomes] == [(original.name, "loaded"), (corrected.name, "loaded")]
    files = sorted(partition_dir(landing, "jd", ENTITY, "jd-pop", day).glob("*.parquet"))
    extracted = {pq.read_table(f).column("extracted_at")[0].as_py(): f for f in files}
    newest = extracted[max(extracted)]
    assert len(extracted) == 2, "each file is its own extraction, the later one newer"
    assert orjson.loads(pq.read_table(newest).column("record")[0].as_py())["visitors"] == 999
    assert newest == files[-1]


def _sycm_with(world: World, folder: Path, name: str, edit) -> Path:
    """A 生意参谋 file (GBK) whose rows were edited."""
    source = write_export(world, "taobao-store", folder / name)
    rows = list(csv.reader(io.StringIO(source.read_bytes().decode("gbk"))))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(edit(rows))
    source.write_bytes(buffer.getvalue().encode("gbk"))
    return source


def test_unreadable_files_are_quarantined_with_a_reason_and_good_files_still_load(tmp_path, world):
    drop, landing = tmp_path / "drop", tmp_path / "landing"
    drop.mkdir()
    loader = loader_for("taobao", "taobao-store", drop, landing)
    junk = drop / "店铺整体.xlsx"
    junk.write_bytes(bytes(range(256)) * 8)

    def abc_visitors(rows):
        rows[4][1] = "abc"
        return rows

    bad_value = _sycm_with(world, drop, "bad-value.csv", abc_visitors)
    no_header = _sycm_with(world, drop, "no-header.csv", lambda rows: rows[4:])
    good = write_export(world, "taobao-store", drop)
    settled(junk, bad_value, no_header, good)

    outcomes = {o.name: o for o in loader.load_pending(NOW)}

    assert {name: o.status for name, o in outcomes.items()} == {
        junk.name: "quarantined",
        bad_value.name: "quarantined",
        no_header.name: "quarantined",
        good.name: "loaded",
    }
    expected = {
        junk.name: "not an XLSX file",
        bad_value.name: "row 5, column 访客数: 'abc' is not a whole number",
        no_header.name: "no header row (a row with a 统计日期 column) in the first 10 rows",
    }
    for name, problem in expected.items():
        outcome = outcomes[name]
        assert outcome.reason is not None
        assert outcome.reason.startswith(f"taobao/taobao-store: {name}: ") and problem in outcome.reason
        assert outcome.path == drop / "_quarantine" / name and outcome.path.exists()
        reason_file = drop / "_quarantine" / f"{name}.reason.txt"
        assert reason_file.read_text("utf-8").startswith(outcome.reason + "\n")
        record = json.loads(
            (landing / "taobao" / ENTITY / "_quarantine" / f"{outcome.sha256}.json").read_text("utf-8")
        )
        assert {k: record[k] for k in ("file", "shop_id", "reason")} == {
            "file": name,
            "shop_id": "taobao-store",
            "reason": outcome.reason,
        }
        assert datetime.fromisoformat(record["detected_at"]) - NOW < timedelta(milliseconds=1)
        assert not (landing / "taobao" / ENTITY / "_files" / f"{outcome.sha256}.json").exists()
    truth = world.traffic.shop_days("taobao-store")
    assert [landed(landing, "taobao", "taobao-store", d.day)[0][0]["visitors"] for d in truth] == [
        d.visitors for d in truth
    ]
    assert [p.name for p in drop.iterdir() if p.is_file()] == []


def test_only_settled_export_files_directly_in_the_folder_are_pending(tmp_path, world):
    drop = tmp_path / "drop"
    loader = loader_for("jd", "jd-pop", drop, tmp_path / "landing")
    assert drop.is_dir(), "the drop folder is created"
    fresh = write_export(world, "jd-pop", drop)
    ignored = [drop / ".hidden.csv", drop / f"~${fresh.name}", drop / "notes.txt"]
    for path in ignored:
        path.write_bytes(b"x")
    (drop / "_loaded").mkdir()
    (drop / "_loaded" / "old.csv").write_bytes(b"x")
    settled(*ignored, drop / "_loaded" / "old.csv")

    assert loader.pending() == [] and loader.load_pending(NOW) == []
    assert fresh.exists(), "a file still being copied is left for the next scan"
    settled(fresh)
    upper = drop / "SHOP.CSV"
    upper.write_bytes(b"x")
    os.utime(upper, (time.time() - 30, time.time() - 30))
    assert loader.pending() == [fresh, upper], "oldest first, suffixes case-insensitive"


def test_an_unknown_format_option_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"exports tmall/tmall-flagship: option 'format'.*'sycmx'"):
        loader_for("tmall", "tmall-flagship", tmp_path, tmp_path, format="sycmx")


# --- the reader's values and edge cases ----------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (parse_int, "1,234", 1234),
        (parse_int, "1234567", 1234567),
        (parse_money, "16,660.85", Decimal("16660.85")),
        (parse_money, "945", Decimal("945.00")),
        (parse_money, "0.5", Decimal("0.50")),
        (parse_rate, "3.25%", Decimal("0.0325")),
        (parse_rate, "0.00%", Decimal("0.0000")),
        (parse_date, "2026-11-24", date(2026, 11, 24)),
        (parse_date, "2026/11/24", date(2026, 11, 24)),
        (parse_date, "20261124", date(2026, 11, 24)),
    ],
)
def test_values_parse_exactly(parse, text, value):
    parsed = parse(text)
    assert parsed == value and str(parsed) == str(value)


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_int, "12.5"),
        (parse_int, "1,23"),
        (parse_int, "-3"),
        (parse_int, "abc"),
        (parse_int, "１２３"),  # full-width digits are not what the platforms write
        (parse_money, "1.005"),
        (parse_money, "12,34.00"),
        (parse_rate, "3.25"),
        (parse_date, "2026-02-30"),
        (parse_date, "24/11/2026"),
    ],
)
def test_values_that_are_not_exact_are_refused(parse, text):
    with pytest.raises(ValueError):
        parse(text)


def _pdd_file(path: Path, rows: list[str]) -> Path:
    header = ",".join(c.header for c in FORMATS["pdd_datacenter"].columns)
    path.write_bytes("\r\n".join([header, *rows]).encode("utf-8-sig"))
    return path


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([], "no data rows below the header (row 1)"),
        (
            ["2026-11-05,1,2,0,0,0.00,0.00%", "20261105,1,2,0,0,0.00,0.00%"],
            "row 3: the date 2026-11-05 appears twice (also in row 2)",
        ),
        (
            ["2026-11-05,1,2,0,0,0.00,0.00%", "2026-11-07,1,2,0,0,0.00,0.00%"],
            "no row for 2026-11-06 between 2026-11-05 and 2026-11-07",
        ),
        (["2026-11-05,1,2,0,0,,0.00%"], "row 2, column 成交金额: the value is empty"),
    ],
)
def test_a_file_is_all_or_nothing(tmp_path, rows, problem):
    path = _pdd_file(tmp_path / "交易概况.csv", rows)
    with pytest.raises(ExportFileError, match=r"^交易概况\.csv: ") as raised:
        read_export(path, FORMATS["pdd_datacenter"])
    assert problem in str(raised.value)


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "概况.csv"
    path.write_bytes("日期,商品访客数\r\n2026-11-05,1\r\n".encode())
    with pytest.raises(ExportFileError, match=r"^概况\.csv: header row 1 has no column 商品浏览量"):
        read_export(path, FORMATS["pdd_datacenter"])


def test_rows_end_at_the_first_empty_row_and_workbook_cells_read_exactly(tmp_path):
    """A workbook re-saved in Excel: float amounts, a percent-formatted rate, text dates, a note."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["京东商智-店铺概况"])
    sheet.append([c.header for c in FORMATS["jd_shangzhi"].columns])
    sheet.append(["20261105", 1234, "5,678", 51, 52.0, 16660.85, 0.0413])
    sheet["G3"].number_format = "0.00%"
    sheet.append([])
    sheet.append(["注：数据仅供参考"])
    book.save(tmp_path / "概况.xlsx")

    export = read_export(tmp_path / "概况.xlsx", FORMATS["jd_shangzhi"])

    [record] = [r for _, _, r in export.records()]
    assert (record["report_date"], record["visitors"], record["page_views"]) == ("2026-11-05", 1234, 5678)
    assert (record["paying_buyers"], record["paid_orders"]) == (51, 52)
    assert (record["paid_cny"], record["conversion_rate"]) == ("16660.85", "0.0413")
    assert record["platform"]["成交转化率"] == "4.13%" and record["platform"]["成交金额"] == "16660.85"


def test_two_loaders_on_one_folder_at_once_load_each_file_once(tmp_path, world):
    """The sensor's run and an `omni run` may load the same folder at the same moment."""
    import threading

    drop, landing = tmp_path / "drop", tmp_path / "landing"
    drop.mkdir()
    first = write_export(world, "pdd-store", drop)
    data = first.read_bytes()
    copies = [first]
    for i in range(1, 6):  # the same report downloaded again (different bytes: a trailing newline)
        copy = drop / f"{first.stem}-{i}{first.suffix}"
        copy.write_bytes(data + b"\r\n" * i)
        copies.append(copy)
    settled(*copies)
    loaders = [loader_for("pinduoduo", "pdd-store", drop, landing) for _ in range(2)]
    start = threading.Barrier(2)
    outcomes: list[list] = [[], []]
    errors: list[BaseException] = []

    def load(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = loaders[index].load_pending(NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    names = sorted(o.name for outcome in outcomes for o in outcome)
    assert names == sorted(p.name for p in copies), "each file once, by one of the two loaders"
    assert sorted(p.name for p in (drop / "_loaded").iterdir()) == sorted(p.name for p in copies)
