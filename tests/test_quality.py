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


def test_month_by_month_validation_finds_what_the_whole_table_does():
    import duckdb

    from warehouse.quality import validate_query

    conn = duckdb.connect()
    conn.execute(
        "create table t as select * from (values "
        "('a', date '2026-10-31', 'paid'), ('b', date '2026-11-01', 'nonsense'), "
        "('b', date '2026-11-01', 'paid'), ('c', date '2026-12-05', 'nonsense'), ('d', null, 'paid')) "
        "as v(order_key, order_date, status)"
    )

    def suite():
        return key_expectations(("order_key",), ("order_date", "status"), {"status": ["paid"]})

    whole, whole_rows = validate_query(conn, "select * from t", suite)
    by_month, month_rows = validate_query(conn, "select * from t", suite, month_column="order_date")
    assert whole_rows == month_rows == 5
    assert [(o.name, o.success, o.unexpected_count) for o in by_month] == [
        (o.name, o.success, o.unexpected_count) for o in whole
    ]
    failed = {o.name: o for o in by_month if not o.success}
    assert set(failed) == {"order_key_unique", "order_date_not_null", "status_in_set"}
    assert failed["status_in_set"].unexpected_count == 2  # one in November, one in December
