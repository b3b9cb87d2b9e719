"""Like-item demand: a product that never sold borrows its family's medians, else its category's."""

import numpy as np
import pandas as pd
import pytest

from ml.like_items import DEMAND_SOURCE, OWN_HISTORY, like_item_demand


def test_never_sold_products_borrow_the_family_median_else_the_category_median():
    features = pd.DataFrame(
        {
            "sku_id": ["a", "b", "c", "new_in_f1", "new_in_cat", "orphan"],
            "family": ["f1", "f1", "f2", "f1", "f9", "f8"],
            "category": ["k", "k", "k", "k", "k", "z"],
            "mean_qty": [10.0, 30.0, 6.0, np.nan, np.nan, np.nan],
            "std_qty": [2.0, 4.0, 1.0, np.nan, np.nan, np.nan],
            "adi": [1.0, 1.2, 3.0, np.nan, np.nan, np.nan],
            "cv2": [0.1, 0.3, 0.9, np.nan, np.nan, np.nan],
        }
    )
    got = like_item_demand(features).set_index(features["sku_id"])
    assert got.loc["a", "mean_qty"] == 10.0 and got.loc["a", DEMAND_SOURCE] == OWN_HISTORY
    # f1's selling products are a and b: medians 20, 3, 1.1, 0.2
    assert got.loc["new_in_f1", ["mean_qty", "std_qty", "adi", "cv2"]].tolist() == pytest.approx(
        [20.0, 3.0, 1.1, 0.2]
    )
    assert got.loc["new_in_f1", DEMAND_SOURCE] == "like items: family f1 (2)"
    # family f9 has no seller: category k's three sellers, median 10
    assert got.loc["new_in_cat", "mean_qty"] == 10.0
    assert got.loc["new_in_cat", DEMAND_SOURCE] == "like items: category k (3)"
    assert np.isnan(got.loc["orphan", "mean_qty"]) and got.loc["orphan", DEMAND_SOURCE] == ""
