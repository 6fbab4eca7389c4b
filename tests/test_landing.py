from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.common.records import LandingRows, dumps_record, landing_page, version_key
from warehouse import landing
from warehouse.landing import LandingWriter, partition_dir

EXTRACTED = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def page(rows):
    return landing_page(
        [r[0] for r in rows],
        [r[1] for r in rows],
        ["S"] * len(rows),
        [dumps_record({"id": r[0]}) for r in rows],
        EXTRACTED,
    )


def test_rows_go_to_their_china_day_and_empty_days_get_an_empty_file(tmp_path):
    writer = LandingWriter(tmp_path)
    rows = [
        ("a", datetime(2026, 11, 1, 15, 59, 59, tzinfo=UTC)),  # 23:59:59 on Nov 1 in China
        ("b", datetime(2026, 11, 1, 16, 0, 0, tzinfo=UTC)),  # 00:00:00 on Nov 2 in China
    ]
    result = writer.land(
        "shopify", "orders", "s1", date(2026, 11, 1), date(2026, 11, 3), [page(rows)], EXTRACTED
    )
    assert result.rows_by_day == {date(2026, 11, 1): 1, date(2026, 11, 2): 1, date(2026, 11, 3): 0}
    for day, ids in [(date(2026, 11, 1), ["a"]), (date(2026, 11, 2), ["b"]), (date(2026, 11, 3), [])]:
        files = list(partition_dir(tmp_path, "shopify", "orders", "s1", day).glob("*.parquet"))
        assert len(files) == 1
        assert pq.read_table(files[0]).column("record_id").to_pylist() == ids
    assert not any((tmp_path / "_tmp").iterdir()), "temporary files must be cleaned up"


def test_landing_files_are_zstd_compressed_and_read_back_whole(tmp_path):
    """Landing is kept for good: its records are stored with zstd (a third of snappy's size on
    platform JSON, see warehouse/landing.py), and DuckDB, which staging reads them with, reads them."""
    at = datetime(2026, 11, 5, 1, tzinfo=UTC)
    LandingWriter(tmp_path).land(
        "tmall",
        "orders",
        "s",
        date(2026, 11, 5),
        date(2026, 11, 5),
        [page([("a", at), ("b", at)])],
        EXTRACTED,
    )
    (file,) = partition_dir(tmp_path, "tmall", "orders", "s", date(2026, 11, 5)).glob("*.parquet")
    metadata = pq.ParquetFile(file).metadata
    codecs = {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)}
    assert codecs == {"ZSTD"}
    rows = duckdb.sql(f"select record_id, record from read_parquet('{file}') order by 1").fetchall()
    assert rows == [("a", '{"id":"a"}'), ("b", '{"id":"b"}')]


def test_rows_outside_the_range_are_counted_not_landed(tmp_path):
    rows = [("a", datetime(2026, 11, 5, 1, tzinfo=UTC)), ("z", datetime(2026, 12, 5, 1, tzinfo=UTC))]
    result = LandingWriter(tmp_path).land(
        "tmall", "orders", "s", date(2026, 11, 5), date(2026, 11, 5), [page(rows)], EXTRACTED
    )
    assert result.rows == 1 and result.rows_outside_window == 1


def test_small_pages_are_written_in_batches_not_one_row_group_each(tmp_path, monkeypatch):
    monkeypatch.setattr(landing, "BATCH_BYTES", 4_000)  # a few pages of ten rows
    start = datetime(2026, 11, 5, 1, tzinfo=UTC)  # every row on one China day
    pages = [
        page([(f"{p}-{i}", start + timedelta(seconds=10 * p + i)) for i in range(10)]) for p in range(50)
    ]
    # one page of another schema (its timestamp without a zone) is cast, not refused
    pages.append(
        page([("late", start + timedelta(hours=1))]).cast(
            page([("x", start)]).schema.set(1, pa.field("modified_at", pa.timestamp("us")))
        )
    )
    result = LandingWriter(tmp_path).land(
        "tmall", "orders", "s", date(2026, 11, 5), date(2026, 11, 5), pages, EXTRACTED
    )
    assert result.rows == 501
    (file,) = partition_dir(tmp_path, "tmall", "orders", "s", date(2026, 11, 5)).glob("*.parquet")
    landed = pq.ParquetFile(file)
    assert landed.metadata.num_rows == 501
    assert 1 < landed.metadata.num_row_groups < 20  # 51 pages, a handful of batches
    assert landed.read().column("record_id").to_pylist()[-1] == "late"


def test_a_failed_pull_lands_nothing(tmp_path):
    def pages():
        yield page([("a", datetime(2026, 11, 5, 1, tzinfo=UTC))])
        raise RuntimeError("platform went away")

    with pytest.raises(RuntimeError):
        LandingWriter(tmp_path).land(
            "tmall", "orders", "s", date(2026, 11, 5), date(2026, 11, 6), pages(), EXTRACTED
        )
    assert not list(tmp_path.glob("tmall/**/*.parquet")), "a partial extraction must not become visible"


def test_a_second_pull_is_appended_not_overwritten(tmp_path):
    writer = LandingWriter(tmp_path)
    for _ in range(2):
        writer.land(
            "pos",
            "orders",
            "p",
            date(2026, 11, 5),
            date(2026, 11, 5),
            [page([("a", datetime(2026, 11, 5, 1, tzinfo=UTC))])],
            EXTRACTED,
        )
    assert len(list(partition_dir(tmp_path, "pos", "orders", "p", date(2026, 11, 5)).glob("*.parquet"))) == 2


def test_a_build_run_reads_the_landing_zone_as_it_first_found_it(tmp_path):
    """Files a landing run renames in while the warehouse builds stay invisible to the rest of that
    build (its models and checks agree on one landing zone); the next build reads them."""
    import duckdb

    from warehouse.models import prepare_connection
    from warehouse.raw import create_raw_views

    landing = tmp_path / "landing"
    writer = LandingWriter(landing)
    day = date(2026, 11, 5)

    def land(order_id, hour):
        writer.land(
            "shopify",
            "orders",
            "s",
            day,
            day,
            [page([(order_id, datetime(2026, 11, 5, hour, tzinfo=UTC))])],
            EXTRACTED,
        )

    def latest(conn, run_id):
        create_raw_views(conn, landing, run_id, only={"shopify__orders"})
        return conn.execute(
            "select record_id, modified_at from raw.shopify__orders_latest order by all"
        ).fetchall()

    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_connection(conn)
        assert latest(conn, "run-0") == []  # a run that found nothing landed ...
        land("a", 1)
        assert latest(conn, "run-0") == []  # ... keeps finding nothing until the next run
        first = latest(conn, "run-1")
        assert [r[0] for r in first] == ["a"]
        land("b", 2)  # a new order and a newer version of "a" land mid-build
        land("a", 3)
        assert latest(conn, "run-1") == first
        second = latest(conn, "run-2")
        assert [r[0] for r in second] == ["a", "b"] and second[0][1] > first[0][1]


def test_two_versions_of_a_record_in_one_pull_give_one_latest_row(tmp_path):
    """A record modified while a pull pages lands twice in one file (two modified times): the raw
    latest view, and the changed-records view an incremental model reads, hold its newest version
    once."""
    import duckdb

    from warehouse.models import prepare_connection
    from warehouse.raw import changed_records_view, create_raw_views

    landing = tmp_path / "landing"
    day = date(2026, 11, 5)
    versions = [("a", datetime(2026, 11, 5, 1, tzinfo=UTC)), ("a", datetime(2026, 11, 5, 4, tzinfo=UTC))]
    versions.append(("b", datetime(2026, 11, 5, 2, tzinfo=UTC)))
    LandingWriter(landing).land("shopify", "orders", "s", day, day, [page(versions)], EXTRACTED)
    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_connection(conn)
        create_raw_views(conn, landing, "run-1", only={"shopify__orders"})
        expected = [("a", datetime(2026, 11, 5, 4, tzinfo=UTC)), ("b", datetime(2026, 11, 5, 2, tzinfo=UTC))]
        for view in ("raw.shopify__orders_latest", changed_records_view(conn, "shopify__orders", -1)):
            rows = conn.execute(f"select record_id, modified_at from {view} order by all").fetchall()
            assert rows == expected, view


def test_each_report_day_shows_its_newest_extraction_and_a_build_rereads_only_changed_days(tmp_path):
    """Traffic reports: each (channel, shop, day) shows every row of its newest extraction and no
    other — a row missing from it is gone, an empty extraction empties the day, a removed newest file
    brings back the one before — and a build reads only the days whose newest file changed."""
    import duckdb

    from warehouse.models import prepare_connection
    from warehouse.raw import create_raw_views

    landing = tmp_path / "landing"
    writer = LandingWriter(landing)
    first, second = date(2026, 11, 4), date(2026, 11, 5)

    def at(day, hour=3):
        return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)

    def land(rows, days, hours_later):
        return writer.land(
            "tmall",
            "traffic/simba",
            "s",
            days[0],
            days[-1],
            [page(rows)],
            EXTRACTED + timedelta(hours=hours_later),
        ).files

    def latest(conn, run_id, full=False):
        create_raw_views(conn, landing, run_id, only={"simba__traffic"}, full=full)
        rows = conn.execute("select partition_date, record_id from raw.simba__traffic_latest order by all")
        return [(str(day), record) for day, record in rows.fetchall()]

    def days_read(conn):
        return conn.execute(
            "select count(*) from raw.report_files where entity = 'simba__traffic'"
        ).fetchone()

    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_connection(conn)
        assert latest(conn, "run-0") == []
        land([("a", at(first)), ("b", at(first)), ("c", at(second))], [first, second], 0)
        assert latest(conn, "run-1") == [("2026-11-04", "a"), ("2026-11-04", "b"), ("2026-11-05", "c")]
        revised = land([("a", at(first, 5))], [first], 1)  # the first day revised: "b" is gone
        [empty] = land([], [second], 1)  # the second day's new extraction found nothing
        assert latest(conn, "run-2") == [("2026-11-04", "a")]
        assert days_read(conn) == (2,)
        revised[0].unlink()  # the revision removed: the first extraction's day again
        kept = empty.read_bytes()
        empty.write_bytes(b"not parquet")  # a day that did not change is not read again
        assert latest(conn, "run-3") == [("2026-11-04", "a"), ("2026-11-04", "b")]
        empty.write_bytes(kept)
        assert latest(conn, "run-4", full=True) == latest(conn, "run-5")
        landing = landing.rename(tmp_path / "moved")  # the data folder moved: its days are read again
        assert latest(conn, "run-6") == [("2026-11-04", "a"), ("2026-11-04", "b")]
        assert days_read(conn) == (2,)


def test_a_pull_lands_each_record_version_once():
    at = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)
    later = at + timedelta(microseconds=1)
    seen: set[object] = set()
    first = LandingRows()
    for record_id, modified in [("5500000000001", at), ("5500000000001", later), ("A-1", at), ("12", at)]:
        first.append(record_id, modified, None, "{}")
    assert first.unseen(seen).record_ids == ["5500000000001", "5500000000001", "A-1", "12"]
    again = LandingRows()
    versions = [("5500000000001", later), ("A-1", at), ("012", at), ("12", later), ("A-1", later)]
    for record_id, modified in versions:
        again.append(record_id, modified, None, "{}")
    assert again.unseen(seen).record_ids == ["012", "12", "A-1"], "only the versions not landed yet"
    # numeric ids are packed into one exact integer; ids that would pack alike are kept apart
    assert version_key("12", at) != version_key("012", at) != version_key("\u0661\u0662", at)
    assert version_key("12", at) == version_key("12", at) and isinstance(version_key("12", at), int)
    assert version_key("12", datetime(1969, 12, 31, tzinfo=UTC)) == ("12", datetime(1969, 12, 31, tzinfo=UTC))
