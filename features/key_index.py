"""Stable integer codes for product keys (sku, or sku x location), in order of first sight."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml.errors import StrataError

__all__ = ["KeyIndex"]


class KeyIndex:
    """Stable integer codes for keys (sku, or sku x location), in order of first sight.

    Vectorised: keys are hashed (pandas.util.hash_array) and looked up in a sorted hash array;
    a hash collision between two different keys raises rather than merging them.
    """

    def __init__(self, n_columns: int = 1) -> None:
        self.n_columns = n_columns
        self._hashes = np.empty(0, dtype=np.uint64)
        self._codes = np.empty(0, dtype=np.int64)
        self._keys = [np.empty(1024, dtype=object) for _ in range(n_columns)]
        self.n = 0

    def _hash(self, columns: Sequence[NDArray[np.object_]]) -> NDArray[np.uint64]:
        h = pd.util.hash_array(np.asarray(columns[0], dtype=object), categorize=False)
        for col in columns[1:]:
            more = pd.util.hash_array(np.asarray(col, dtype=object), categorize=False)
            h = h * np.uint64(1_000_003) ^ more
        return h

    def codes(self, *columns: NDArray[np.object_], distinct: bool = False) -> NDArray[np.int64]:
        """The code of each key (one array per key column); unseen keys get the next codes.

        `distinct=True` promises the keys are already distinct (an Arrow dictionary), which
        skips de-duplication.
        """
        if len(columns) != self.n_columns:
            raise ValueError(f"KeyIndex holds {self.n_columns} key column(s), got {len(columns)}")
        h = self._hash(columns)
        if distinct:
            order = np.argsort(h)
            uniq, first = h[order], order
            inverse = np.empty(len(h), dtype=np.int64)
            inverse[order] = np.arange(len(h))
        else:
            uniq, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        pos = np.searchsorted(self._hashes, uniq)
        found = pos < len(self._hashes)
        found[found] = self._hashes[pos[found]] == uniq[found]
        out = np.empty(len(uniq), dtype=np.int64)
        out[found] = self._codes[pos[found]]
        self._check_same(out[found], [np.asarray(c, dtype=object)[first[found]] for c in columns])
        new = np.flatnonzero(~found)
        if len(new):
            # codes in order of first sight; the sorted hash table gets the new hashes merged in
            by_sight = new[np.argsort(first[new], kind="stable")]
            out[by_sight] = np.arange(self.n, self.n + len(new))
            self._store([np.asarray(c, dtype=object)[first[by_sight]] for c in columns])
            slots = pos[new] + np.arange(len(new))
            old = np.ones(len(self._hashes) + len(new), dtype=bool)
            old[slots] = False
            hashes = np.empty(len(old), dtype=np.uint64)
            codes = np.empty(len(old), dtype=np.int64)
            hashes[old], hashes[slots] = self._hashes, uniq[new]
            codes[old], codes[slots] = self._codes, out[new]
            self._hashes, self._codes = hashes, codes
        return out[inverse]

    def _check_same(self, codes: NDArray[np.int64], values: list[NDArray[np.object_]]) -> None:
        for keys, vals in zip(self._keys, values, strict=True):
            stored = keys[codes]
            same = (stored == vals) | (pd.isna(stored) & pd.isna(vals))
            if not np.all(same):
                i = int(np.flatnonzero(~same)[0])
                raise StrataError(
                    f"two keys share a 64-bit hash ({stored[i]!r} and {vals[i]!r}); rename one "
                    "of them (this should practically never happen)"
                )

    def _store(self, values: list[NDArray[np.object_]]) -> None:
        end = self.n + len(values[0])
        if end > len(self._keys[0]):
            size = max(end, 2 * len(self._keys[0]))
            for i, keys in enumerate(self._keys):
                grown = np.empty(size, dtype=object)
                grown[: self.n] = keys[: self.n]
                self._keys[i] = grown
        for keys, vals in zip(self._keys, values, strict=True):
            keys[self.n : end] = vals
        self.n = end

    def keys(self) -> list[NDArray[np.object_]]:
        """The key columns in code order (code i is row i)."""
        return [k[: self.n] for k in self._keys]
