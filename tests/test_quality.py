"""Great Expectations validation: bad data fails an expectation; a broken validation raises."""

import pandas as pd
import pytest

from warehouse.quality import (
    ValidationCrashed,
    amount_expectations,
    currency_expectations,
    key_expectations,
    validate,
)


def test_bad_data_fails_the_right_expectations():
    frame = pd.DataFrame({"order_key": ["a", "b", "b", None], "status": ["paid", "paid", "lost", "paid"]})
    outcomes = {
        o.name: o
        for o in validate(frame, key_expectations(("order_key",), ("status",), {"status": ["paid"]}))
    }
    assert not outcomes["order_key_unique"].success and outcomes["order_key_unique"].unexpected_count == 2
    assert not outcomes["order_key_not_null"].success
    assert outcomes["status_not_null"].success
    assert not outcomes["status_in_set"].success and outcomes["status_in_set"].sample == ["lost"]


def test_compound_keys_and_clean_data_pass():
    frame = pd.DataFrame({"channel": ["a", "a", "b"], "day": [1, 2, 1]})
    assert all(o.success for o in validate(frame, key_expectations(("channel", "day"), ())))


def test_a_crashed_validation_is_not_reported_as_bad_data():
    frame = pd.DataFrame({"other": [1, 2]})
    with pytest.raises(ValidationCrashed, match="order_key"):
        validate(frame, key_expectations(("order_key",), ()))


def test_amounts_negative_or_refunded_beyond_paid_fail():
    frame = pd.DataFrame(
        {
            "paid_cny": [100.0, 50.0, 0.0, 20.0],
            "refunded_cny": [100.0, 60.0, 0.0, -1.0],
            "gmv_cny": [100.0, 50.0, -5.0, 20.0],
        }
    )
    outcomes = {
        o.name: o for o in validate(frame, amount_expectations("paid_cny", "refunded_cny", "gmv_cny"))
    }
    assert outcomes["paid_cny_not_negative"].success
    assert outcomes["refunded_cny_not_negative"].unexpected_count == 1
    assert outcomes["gmv_cny_not_negative"].sample == [-5.0]
    # a full refund equals the payment: fine; 60 refunded of 50 paid is not
    assert outcomes["refunded_cny_at_most_paid_cny"].unexpected_count == 1


def test_an_unknown_currency_fails_and_known_ones_pass():
    outcomes = validate(pd.DataFrame({"currency": ["CNY", "USD", "EUR", "XYZ"]}), currency_expectations())
    assert [(o.name, o.success, o.sample) for o in outcomes] == [("currency_known", False, ["XYZ"])]
    assert all(
        o.success for o in validate(pd.DataFrame({"currency": ["CNY", "EUR"]}), currency_expectations())
    )


def _sliced(monkeypatch, slice_rows: int) -> list[int]:
    """Validations a slice of at most about `slice_rows` rows at a time; the sizes of the frames GX
    sees, in order."""
    from warehouse import quality

    monkeypatch.setattr(quality, "SLICE_ROWS", slice_rows)
    frames: list[int] = []
    monkeypatch.setattr(
        quality, "validate", lambda frame, suite: frames.append(len(frame)) or validate(frame, suite)
    )
    return frames


def _outcomes(validation) -> list[tuple[str, bool, int | None]]:
    return [(o.name, o.success, o.unexpected_count) for o in validation.outcomes]


def test_a_large_frame_validated_in_slices_gets_the_whole_table_verdict(monkeypatch):
    """Slices are cut by the hash of the key: a key repeated with different values elsewhere in its
    rows (which a cut by row would split across slices) is still found, and counted once."""
    import duckdb

    from warehouse.quality import validate_query

    frames = _sliced(monkeypatch, 10**9)
    conn = duckdb.connect()
    conn.execute(
        "create table t as select 'o' || (case when i % 50 = 7 then 0 else i end) as order_key, "
        "case when i % 41 = 3 then null else date '2026-01-01' + i::int end as order_date, "
        "case when i % 37 = 5 then 'nonsense' else 'paid' end as status from range(400) as r(i) "
        "union all select null, date '2026-02-01', 'paid' from range(2)"
    )

    def suite():
        return key_expectations(("order_key",), ("order_date", "status"), {"status": ["paid"]})

    whole = validate_query(conn, "select * from t", suite)
    assert frames == [402]
    frames.clear()
    monkeypatch.setattr("warehouse.quality.SLICE_ROWS", 40)
    sliced = validate_query(conn, "select * from t", suite)
    assert len(frames) == 11 and sum(frames) == sliced.rows_checked == 402
    assert _outcomes(sliced) == _outcomes(whole)
    # 'o0' nine times (i = 0 and every i % 50 = 7), the two null keys, ten null dates, eleven bad statuses
    assert {name: count for name, ok, count in _outcomes(sliced) if not ok} == {
        "order_key_unique": 9,
        "order_key_not_null": 2,
        "order_date_not_null": 10,
        "status_in_set": 11,
    }


def test_a_compound_key_or_no_key_is_sliced_too_and_other_suites_are_not(monkeypatch):
    import duckdb
    import great_expectations.expectations as gxe

    from warehouse.quality import validate_query

    frames = _sliced(monkeypatch, 40)
    conn = duckdb.connect()
    # (shop, day) repeats for i and i + 199 with different amounts: a cut by row would part them
    conn.execute(
        "create table t as select 's' || (i % 199 % 7) as shop, (i % 199) // 7 as day, "
        "i::double - 3 as paid_cny from range(400) as r(i)"
    )
    compound = validate_query(conn, "select * from t", lambda: key_expectations(("shop", "day"), ()))
    assert len(frames) == 10 and sum(frames) == 400
    assert _outcomes(compound) == [
        ("key_unique", False, 400),
        ("shop_not_null", True, 0),
        ("day_not_null", True, 0),
    ]

    frames.clear()
    money = validate_query(
        conn, "select paid_cny from t", lambda: amount_expectations("paid_cny", "paid_cny")
    )
    assert len(frames) == 10 and sorted(set(frames)) == [40]  # no key: cut by row number, evenly
    assert [(n, ok, c) for n, ok, c in _outcomes(money) if not ok] == [("paid_cny_not_negative", False, 3)]

    frames.clear()
    validate_query(
        conn,
        "select paid_cny from t",
        lambda: {"mean": gxe.ExpectColumnMeanToBeBetween(column="paid_cny", min_value=0)},
    )
    assert frames == [400]  # an aggregate over the table: one frame, whatever its size

    frames.clear()
    validate_query(
        conn,
        "select shop, paid_cny from t",
        lambda: {
            "shop_unique": gxe.ExpectColumnValuesToBeUnique(column="shop"),
            "paid_unique": gxe.ExpectColumnValuesToBeUnique(column="paid_cny"),
        },
    )
    assert frames == [400]  # two unique keys: no one cut keeps both keys' repeats together


def _orders_table(conn, rows: int) -> None:
    conn.execute(
        "create or replace table t as select 'o' || i as order_key, date '2026-01-01' + (i % 300)::int "
        f"as order_date, 'paid' as status, (i % 97)::double as paid_cny from range({rows}) as r(i)"
    )


def _orders_suite():
    return {
        **key_expectations(("order_key",), ("order_date", "status"), {"status": ["paid"]}),
        **amount_expectations("paid_cny", "paid_cny"),
    }


def _failed(validation) -> dict[str, int | None]:
    return {o.name: o.unexpected_count for o in validation.outcomes if not o.success}


def test_a_remembered_check_validates_only_new_rows_and_still_finds_every_kind_of_bad_row(
    tmp_path, monkeypatch
):
    """The nightly check validates the rows that changed since its last pass (plus the rows sharing
    a key with them) and gives the verdict a validation of every row gives: a bad value, a new row
    repeating an old row's key, an old row repeated whole."""
    import duckdb

    from warehouse import quality
    from warehouse.quality import RowMemory, validate_query

    monkeypatch.setattr(quality, "SLICE_ROWS", 1000)  # the first pass in slices

    conn = duckdb.connect()
    memory = RowMemory(tmp_path / "validated.duckdb", "t:keys")
    _orders_table(conn, 5000)
    first = validate_query(conn, "select * from t", _orders_suite, memory=memory)
    assert not _failed(first) and (first.rows_checked, first.rows_known) == (5000, 0)
    again = validate_query(conn, "select * from t", _orders_suite, memory=memory)
    assert not _failed(again) and (again.rows_checked, again.rows_known) == (0, 5000)

    # one new good row and one changed row: only those two are validated
    conn.execute("insert into t values ('new', date '2026-03-01', 'paid', 5)")
    conn.execute("update t set paid_cny = 1 where order_key = 'o7'")
    grown = validate_query(conn, "select * from t", _orders_suite, memory=memory)
    assert not _failed(grown) and (grown.rows_checked, grown.rows_known) == (2, 4999)

    bad = {
        "a value out of its set": "insert into t values ('x1', date '2026-03-01', 'nonsense', 1)",
        "a negative amount": "update t set paid_cny = -1 where order_key = 'o9'",
        "a new row with an old key": "insert into t values ('o11', date '2026-01-12', 'paid', 3)",
        "an old row repeated whole": "insert into t select * from t where order_key = 'o12'",
    }
    expected = {
        "a value out of its set": {"status_in_set": 1},
        "a negative amount": {"paid_cny_not_negative": 1},
        "a new row with an old key": {"order_key_unique": 2},
        "an old row repeated whole": {"order_key_unique": 2},
    }
    for what, change in bad.items():
        conn.execute("create or replace table saved as select * from t")
        conn.execute(change)
        remembered = validate_query(conn, "select * from t", _orders_suite, memory=memory)
        everything = validate_query(conn, "select * from t", _orders_suite)
        assert _failed(remembered) == _failed(everything) == expected[what], what
        assert remembered.rows_checked <= 3, what
        # a failure is not remembered: the same bad rows fail the next validation too
        assert _failed(validate_query(conn, "select * from t", _orders_suite, memory=memory)), what
        conn.execute("create or replace table t as select * from saved")


def test_a_remembered_check_validates_everything_when_its_suite_changes_or_a_rebuild_asks(tmp_path):
    import duckdb

    from warehouse.quality import RowMemory, validate_query

    conn = duckdb.connect()
    path = tmp_path / "validated.duckdb"
    _orders_table(conn, 1000)
    validate_query(conn, "select * from t", _orders_suite, memory=RowMemory(path, "t:keys"))
    assert validate_query(conn, "select * from t", _orders_suite, memory=RowMemory(path, "t:keys")).rows_known

    def stricter():
        return {**_orders_suite(), **currency_expectations("status")}

    changed = validate_query(conn, "select * from t", stricter, memory=RowMemory(path, "t:keys"))
    assert changed.rows_checked == 1000 and _failed(changed) == {"status_known": 1000}
    forced = validate_query(conn, "select * from t", _orders_suite, memory=RowMemory(path, "t:keys", True))
    assert (forced.rows_checked, forced.rows_known) == (1000, 0)
    # another check keeps its own memory
    other = validate_query(conn, "select * from t", _orders_suite, memory=RowMemory(path, "t:other"))
    assert other.rows_checked == 1000


def test_a_suite_with_an_aggregate_expectation_is_always_validated_whole(tmp_path):
    import duckdb
    import great_expectations.expectations as gxe

    from warehouse.quality import RowMemory, validate_query

    conn = duckdb.connect()
    _orders_table(conn, 100)
    memory = RowMemory(tmp_path / "validated.duckdb", "t:mean")

    def suite():
        return {"mean": gxe.ExpectColumnMeanToBeBetween(column="paid_cny", min_value=0, max_value=60)}

    for _ in range(2):
        assert validate_query(conn, "select * from t", suite, memory=memory).rows_checked == 100
    conn.execute("update t set paid_cny = 10000 where order_key = 'o1'")
    assert _failed(validate_query(conn, "select * from t", suite, memory=memory)) == {"mean": None}


def test_each_outcome_is_the_result_of_its_own_expectation():
    """GX returns its results grouped by column, not in the suite's order: a label must still name
    the expectation that failed."""
    suite = {
        **key_expectations(("order_key",), ("status",), {"status": ["paid"]}),
        **amount_expectations("paid_cny", "paid_cny"),
        **currency_expectations("status"),
    }
    frame = pd.DataFrame({"order_key": ["a", "b"], "status": ["paid", "paid"], "paid_cny": [-1.0, 2.0]})
    failed = {o.name: o.sample for o in validate(frame, suite) if not o.success}
    assert failed == {"paid_cny_not_negative": [-1.0], "status_known": ["paid", "paid"]}


def test_each_slice_reads_only_its_own_part_of_the_frame(monkeypatch, tmp_path):
    """A slice is a range of the key's hash read from a copy of the frame sorted by it, so DuckDB
    skips the row groups outside the range (cut by `% n`, every slice scanned the whole frame).
    Counted as rows scanned in DuckDB's profile of each slice's query, not timed."""
    import json

    import duckdb

    from warehouse.quality import validate_query

    profile = tmp_path / "slice.json"
    scanned: list[int] = []

    def after_slice_query(frame, suite):
        # the slice's query is the last one the connection ran: its profile is in the file
        scanned.append(json.loads(profile.read_text())["cumulative_rows_scanned"])
        return validate(frame, suite)

    monkeypatch.setattr("warehouse.quality.SLICE_ROWS", 200_000)
    monkeypatch.setattr("warehouse.quality.validate", after_slice_query)
    conn = duckdb.connect()
    conn.execute("set preserve_insertion_order = false")  # as the pipeline's connections
    _orders_table(conn, 1_200_000)
    conn.execute("set enable_profiling = 'json'")
    conn.execute(f"set profiling_output = '{profile}'")
    conn.execute("""set custom_profiling_settings = '{"CUMULATIVE_ROWS_SCANNED": "true"}'""")
    validation = validate_query(
        conn, "select order_key, status from t", lambda: key_expectations(("order_key",), ("status",))
    )
    assert validation.rows_checked == 1_200_000 and len(scanned) == 6 and not _failed(validation)
    # a slice is ~200k rows: with the row groups (122,880 rows) it straddles, at most three groups.
    # (A cut by row id is a range of row ids too; DuckDB skips by them as well, but its profile
    # counts every row of the table as scanned for such a filter, so it is not counted here.)
    assert max(scanned) <= 3 * 122_880, scanned


def test_a_validation_does_not_fingerprint_the_frame(monkeypatch):
    """GX hashes every row of a batch under 1 GB for a marker nothing reads (more than half of a
    large key check's time); `_context` turns that off. Fails if a GX upgrade brings it back."""
    from great_expectations.execution_engine import pandas_execution_engine

    hashed = []
    original = pandas_execution_engine.hash_pandas_dataframe
    monkeypatch.setattr(
        pandas_execution_engine, "hash_pandas_dataframe", lambda df: hashed.append(len(df)) or original(df)
    )
    frame = pd.DataFrame({"order_key": ["a", "b", "b"], "status": ["paid", "paid", "paid"]})
    outcomes = {o.name: o.success for o in validate(frame, key_expectations(("order_key",), ("status",)))}
    assert outcomes == {"order_key_unique": False, "order_key_not_null": True, "status_not_null": True}
    assert hashed == []
