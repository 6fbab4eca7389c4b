"""Great Expectations validation: bad data fails an expectation; a broken validation raises."""

import pandas as pd
import pytest

from warehouse.quality import ValidationCrashed, key_expectations, validate


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
