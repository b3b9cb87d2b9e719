"""A deliberately wrong labeller for training a harmful model: the catalogue's rule segments
permuted across products with a fixed seed (the same segment mix, only the segmentation wrong)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ml.catalogue import assign_by_rules
from ml.columns import SEGMENT


def shuffled_rules(catalogue: Any, seed: int) -> Callable[[pd.DataFrame], pd.Series]:
    """A `segment_fn` for `training.train.train`: the rules' segments, permuted across products."""

    def segments(frame: pd.DataFrame) -> pd.Series:
        rules = assign_by_rules(frame, catalogue)[SEGMENT].astype(str).to_numpy()
        return pd.Series(np.random.default_rng(seed).permutation(rules), index=frame.index)

    return segments
