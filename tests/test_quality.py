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


def test_month_by_month_validation_finds_what_the_whole_table_does(monkeypatch):
    import duckdb

    from warehouse import quality
    from warehouse.quality import validate_query

    monkeypatch.setattr(quality, "MONTH_SLICE_ROWS", 0)  # this small table a month at a time
    sliced = []
    monkeypatch.setattr(
        quality, "validate", lambda frame, suite: sliced.append(len(frame)) or validate(frame, suite)
    )

    conn = duckdb.connect()
    conn.execute(
        "create table t as select * from (values "
        "('a', date '2026-10-31', 'paid'), ('b', date '2026-11-01', 'nonsense'), "
        "('b', date '2026-11-01', 'paid'), ('c', date '2026-12-05', 'nonsense'), ('d', null, 'paid')) "
        "as v(order_key, order_date, status)"
    )

    def suite():
        return key_expectations(("order_key",), ("order_date", "status"), {"status": ["paid"]})

    whole = validate_query(conn, "select * from t", suite)
    by_month = validate_query(conn, "select * from t", suite, month_column="order_date")
    assert whole.rows_checked == by_month.rows_checked == 5
    # the whole table once, then a frame per month (October, November, December) and the undated
    assert sliced[0] == 5 and sorted(sliced[1:]) == [1, 1, 1, 2]
    assert [(o.name, o.success, o.unexpected_count) for o in by_month.outcomes] == [
        (o.name, o.success, o.unexpected_count) for o in whole.outcomes
    ]
    failed = {o.name: o for o in by_month.outcomes if not o.success}
    assert set(failed) == {"order_key_unique", "order_date_not_null", "status_in_set"}
    assert failed["status_in_set"].unexpected_count == 2  # one in November, one in December


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


def test_a_remembered_check_validates_only_new_rows_and_still_finds_every_kind_of_bad_row(tmp_path):
    """The nightly check validates the rows that changed since its last pass (plus the rows sharing
    a key with them) and gives the verdict a validation of every row gives: a bad value, a new row
    repeating an old row's key, an old row repeated whole."""
    import duckdb

    from warehouse.quality import RowMemory, validate_query

    conn = duckdb.connect()
    memory = RowMemory(tmp_path / "validated.duckdb", "t:keys")
    _orders_table(conn, 5000)
    first = validate_query(conn, "select * from t", _orders_suite, "order_date", memory)
    assert not _failed(first) and (first.rows_checked, first.rows_known) == (5000, 0)
    again = validate_query(conn, "select * from t", _orders_suite, "order_date", memory)
    assert not _failed(again) and (again.rows_checked, again.rows_known) == (0, 5000)

    # one new good row and one changed row: only those two are validated
    conn.execute("insert into t values ('new', date '2026-03-01', 'paid', 5)")
    conn.execute("update t set paid_cny = 1 where order_key = 'o7'")
    grown = validate_query(conn, "select * from t", _orders_suite, "order_date", memory)
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
        remembered = validate_query(conn, "select * from t", _orders_suite, "order_date", memory)
        everything = validate_query(conn, "select * from t", _orders_suite, "order_date")
        assert _failed(remembered) == _failed(everything) == expected[what], what
        assert remembered.rows_checked <= 3, what
        # a failure is not remembered: the same bad rows fail the next validation too
        assert _failed(validate_query(conn, "select * from t", _orders_suite, "order_date", memory)), what
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
