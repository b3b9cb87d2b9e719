"""Canonical tables split into sku partitions on disk: every row of a sku in one partition.

`write_sku_partitions` writes `<root>/<table>/part=<k>.parquet` for every table with a sku_id
column (partition = stable hash of sku_id mod n, the same in every process and on every
machine); `read_sku_partition` gives back partition k of every table with the dtypes the
tables had when written (an empty frame for a table without rows in that partition).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml import columns as C

__all__ = ["SkuPartitions", "read_sku_partition", "sku_partition", "write_sku_partitions"]


@dataclass(frozen=True)
class SkuPartitions:
    """Where the partitions are, how many, and an empty frame of each table (its dtypes)."""

    root: str
    n: int
    empty: dict[str, pd.DataFrame]
    rows: dict[str, int]

    def path(self, table: str, part: int) -> Path:
        """The file of partition `part` of `table`."""
        return Path(self.root) / table / f"part={part}.parquet"


def sku_partition(sku: pd.Series, n: int) -> np.ndarray:
    """The partition of each sku: a hash fixed across processes (pandas' own), mod n."""
    hashed = pd.util.hash_array(sku.astype(object).to_numpy(dtype=object), categorize=True)
    return (hashed % np.uint64(n)).astype(np.int64)


def write_sku_partitions(tables: Mapping[str, pd.DataFrame], root: Path, n: int) -> SkuPartitions:
    """Write every table that has a sku_id column into n sku partitions under `root`."""
    empty: dict[str, pd.DataFrame] = {}
    rows: dict[str, int] = {}
    for name, frame in tables.items():
        if C.SKU_ID not in frame.columns:
            continue
        empty[name] = frame.iloc[:0]
        rows[name] = len(frame)
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        part = sku_partition(frame[C.SKU_ID], n)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(n + 1))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for k in range(n):
            if bounds[k + 1] > bounds[k]:
                take = pa.array(order[bounds[k] : bounds[k + 1]])
                pq.write_table(table.take(take), folder / f"part={k}.parquet")
    return SkuPartitions(str(root), n, empty, rows)


def read_sku_partition(parts: SkuPartitions, k: int) -> dict[str, pd.DataFrame]:
    """Partition k of every table, in its written dtypes (rows in their original order)."""
    out: dict[str, pd.DataFrame] = {}
    for name, empty in parts.empty.items():
        path = parts.path(name, k)
        if not path.exists():
            out[name] = empty.copy()
            continue
        frame = pq.read_table(path).to_pandas()
        out[name] = frame.astype(empty.dtypes.to_dict()).reset_index(drop=True)
    return out
