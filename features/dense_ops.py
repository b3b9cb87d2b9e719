"""Dense-array steps of derivation: adding values by index, and row blocks on threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

__all__ = ["for_row_blocks", "scatter_add", "strictly_increasing"]


def scatter_add(
    target: NDArray[np.floating],
    index: NDArray[np.int64],
    weights: NDArray,
    increasing: bool | None = None,
) -> None:
    """target[index] += weights, summing repeated indices (target is 1-D, updated in place).

    Canonical tables are sorted by key and period, so a batch's indices usually increase
    strictly: then a plain fancy-index add is exact and fastest. Otherwise a bincount over the
    batch's index range, or ufunc.at when the batch is spread over a much wider range.
    `increasing` passes a check already made.
    """
    if len(index) == 0:
        return
    if increasing is None:
        increasing = strictly_increasing(index)
    if increasing:
        target[index] += weights
        return
    lo, hi = int(index.min()), int(index.max())
    if hi - lo < 8 * len(index) + 4096:
        target[lo : hi + 1] += np.bincount(index - lo, weights=weights, minlength=hi - lo + 1)
    else:
        np.add.at(target, index, weights.astype(target.dtype, copy=False))


def strictly_increasing(index: NDArray[np.int64]) -> bool:
    """Whether every index is larger than the one before it."""
    return len(index) < 2 or bool(np.all(index[1:] > index[:-1]))


def for_row_blocks(
    n: int, work: Callable[[slice], None], workers: int = 1, block_rows: int = 16_384
) -> None:
    """Call `work` on consecutive row slices covering 0..n, on `workers` threads.

    Blocks keep temporaries small (cache-friendly, few page faults); numpy releases the GIL in
    its loops, so threads share the work. Each call must write only its own rows.
    """
    blocks = [slice(i, min(i + block_rows, n)) for i in range(0, n, block_rows)]
    if workers <= 1 or len(blocks) <= 1:
        for rows in blocks:
            work(rows)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(work, blocks):
            del done
