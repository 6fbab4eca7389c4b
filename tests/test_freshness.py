"""Freshness: a shop whose orders of yesterday have not landed by 08:00 China time is late, by name."""

from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.common.timeutil import CHINA_TZ
from warehouse.freshness import due_day, freshness


def _landed(root, channel, shop, day, with_file=True):
    folder = root / channel / "orders" / f"shop={shop}" / f"dt={day}"
    folder.mkdir(parents=True)
    if with_file:
        pq.write_table(pa.table({"record_id": pa.array([], pa.string())}), folder / "part-1.parquet")


def test_yesterday_is_due_from_eight_in_the_morning_china_time():
    assert due_day(datetime(2026, 11, 25, 7, 59, tzinfo=CHINA_TZ)) == date(2026, 11, 23)
    assert due_day(datetime(2026, 11, 25, 8, 0, tzinfo=CHINA_TZ)) == date(2026, 11, 24)
    assert due_day(datetime(2026, 11, 25, 0, 30, tzinfo=CHINA_TZ).astimezone(CHINA_TZ)) == date(2026, 11, 23)


def test_late_shops_are_named_and_fresh_ones_pass(tmp_path):
    _landed(tmp_path, "tmall", "flagship", "2026-11-24")
    _landed(tmp_path, "tmall", "flagship", "2026-11-20")
    _landed(tmp_path, "jd", "pop", "2026-11-23")
    _landed(tmp_path, "douyin", "shop", "2026-11-24", with_file=False)  # a folder, nothing landed in it
    _landed(tmp_path, "douyin", "shop", "2026-11-22")
    shops = [("tmall", "flagship"), ("jd", "pop"), ("douyin", "shop"), ("pos", "main")]
    report = {
        f"{f.channel}/{f.shop_id}": f
        for f in freshness(tmp_path, shops, datetime(2026, 11, 25, 9, tzinfo=CHINA_TZ))
    }
    assert {name for name, f in report.items() if f.late} == {"jd/pop", "douyin/shop", "pos/main"}
    assert report["jd/pop"].describe() == "jd/pop: newest orders day 2026-11-23, due 2026-11-24"
    assert report["douyin/shop"].describe() == "douyin/shop: newest orders day 2026-11-22, due 2026-11-24"
    assert report["pos/main"].describe() == "pos/main: newest orders day nothing landed, due 2026-11-24"
    early = freshness(tmp_path, shops, datetime(2026, 11, 25, 7, tzinfo=CHINA_TZ))
    assert {f"{f.channel}/{f.shop_id}" for f in early if f.late} == {"douyin/shop", "pos/main"}
