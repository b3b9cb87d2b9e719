"""The text-column helpers of ml.policy_input_checks against the plain numpy conversions."""

import numpy as np
import pandas as pd

from ml.policy_input_checks import label_is, labels_of


def text_column() -> pd.Series:
    return pd.Series(["csl", "fill_rate", None, "csl", "fill_rate", "eoq"], dtype="str")


def test_label_is_is_the_numpy_comparison_with_missing_false():
    column = text_column()
    for label in ("csl", "fill_rate", "nan", "other"):
        np.testing.assert_array_equal(label_is(column, label), column.to_numpy() == label)
    assert label_is(column, "csl").tolist() == [True, False, False, True, False, False]


def test_labels_of_is_to_numpy_astype_str_of_the_rows():
    column = text_column()
    rows = np.array([5, 2, 0, 0, 4])
    got = labels_of(column, rows)
    np.testing.assert_array_equal(got, column.to_numpy()[rows].astype(str))
    assert got.tolist() == ["eoq", "nan", "csl", "csl", "fill_rate"]
