"""planning.replay's distinct (product, policy) rows: the hashed grouping against pandas'."""

import numpy as np
import pandas as pd

from ml.simulate import ReplenishmentPolicy
from planning import replay
from planning.replay import _distinct_rows


def pandas_distinct(policy: ReplenishmentPolicy, rows: np.ndarray):
    """The grouping the replay used before: pandas groupby, NaNs equal, first appearance."""
    keys = {f: getattr(policy, f) for f in replay._POLICY_FIELDS if getattr(policy, f) is not None}
    frame = pd.DataFrame({"row": rows, **keys})
    code = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(code, return_index=True)
    return first, code


def stacked_policies(seed: int = 4, n: int = 400, sets: int = 6):
    """Several sets on the same products, many rows repeated across sets, NaN MOQs, -0.0."""
    rng = np.random.default_rng(seed)
    rows = np.tile(np.arange(n), sets)
    s = rng.choice([0.0, -0.0, 3.5, 7.25, 11.0], rows.size)
    moq = np.where(rng.random(rows.size) < 0.2, np.nan, rng.choice([0.0, 5.0], rows.size))
    policy = ReplenishmentPolicy.of(
        s,
        rng.choice([0.0, 4.0], rows.size),
        rng.choice([0.0, 1.0], rows.size),
        rng.random(rows.size) < 0.5,
        np.tile(rng.uniform(0.5, 3.0, n), sets),
        np.zeros(rows.size),
        moq=moq,
        pack_size=np.ones(rows.size),
    )
    return policy, rows


def test_distinct_rows_are_pandas_groups_in_first_appearance_order():
    policy, rows = stacked_policies()
    first, code = _distinct_rows(policy, rows)
    want_first, want_code = pandas_distinct(policy, rows)
    assert first.size < rows.size  # repeats were merged
    np.testing.assert_array_equal(first, want_first)
    np.testing.assert_array_equal(code, want_code)


def test_a_hash_collision_falls_back_to_the_exact_grouping(monkeypatch):
    """Every row hashed alike: the check against each group's first row catches it."""
    policy, rows = stacked_policies(seed=5)
    monkeypatch.setattr(replay, "_row_hashes", lambda keys: np.zeros(keys[0].size, np.uint64))
    first, code = _distinct_rows(policy, rows)
    want_first, want_code = pandas_distinct(policy, rows)
    np.testing.assert_array_equal(first, want_first)
    np.testing.assert_array_equal(code, want_code)


def test_common_products_are_the_shared_products_sorted_in_every_set():
    """Sets in order, out of order and with products missing: each comes back holding the
    products all sets have, sorted, sku_id first; the flagged products no set kept are counted."""
    from ml.segment_policies import SegmentPolicies
    from planning.replay import common_products

    def made(skus: list[str], flagged: list[str]) -> SegmentPolicies:
        policies = pd.DataFrame({"r": [float(len(s)) for s in skus], "sku_id": skus})
        return SegmentPolicies(policies, pd.DataFrame({"sku_id": flagged}))

    sets = [
        made(["a", "b", "c", "d"], []),
        made(["d", "c", "b", "a"], []),
        made(["a", "c", "d"], ["b"]),
    ]
    frames, flagged = common_products(sets)
    assert flagged == 1
    for frame in frames:
        assert frame["sku_id"].tolist() == ["a", "c", "d"]
        assert list(frame.columns) == ["sku_id", "r"]
        assert frame.index.tolist() == [0, 1, 2]
