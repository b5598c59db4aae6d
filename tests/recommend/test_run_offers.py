"""The value of a next order that `regulars offers` takes from the predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from regulars.recommend.run_offers import _order_value


def test_an_order_is_worth_the_clv_per_expected_order() -> None:
    predicted = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "churn_risk": [0.2, 0.9, 0.5],
            "expected_orders": [4.0, 0.05, 2.0],
            "clv": [180.0, 3.0, float("nan")],
            "expected_spend": [50.0, 40.0, 30.0],
        }
    )
    value = _order_value(predicted)
    assert list(value.columns) == ["customer_id", "churn_risk", "expected_spend"]
    # a: 180 / 4; b: too few expected orders, the spend model's 40; c: no CLV, 30.
    assert value["expected_spend"].tolist() == pytest.approx([45.0, 40.0, 30.0])
    assert value["churn_risk"].tolist() == [0.2, 0.9, 0.5]
