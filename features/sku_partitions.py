"""Canonical tables split into sku partitions on disk: every row of a sku in one partition.

`write_sku_partitions` writes `<root>/<table>/part=<k>.parquet` for every table with a sku_id
column (partition = stable hash of sku_id mod n, the same in every process and on every
machine); `SkuPartitionWriter` does the same from batches of rows, so tables larger than the
driver's memory are staged one batch at a time; `read_sku_partition` gives back partition k of
every table with the dtypes the tables had when written (an empty frame for a table without
rows in that partition).
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

__all__ = [
    "SkuPartitionWriter",
    "SkuPartitions",
    "read_sku_partition",
    "sku_partition",
    "write_sku_partitions",
]


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


class SkuPartitionWriter:
    """Appends batches of a table's rows to their sku partitions; `close()` gives the result.

    Every batch of one table must have that table's columns and dtypes (the first batch's are
    the ones read back). A partition's rows keep the order they were appended in.
    """

    def __init__(self, root: Path, n: int) -> None:
        self.root, self.n = root, n
        self._empty: dict[str, pd.DataFrame] = {}
        self._rows: dict[str, int] = {}
        self._writers: dict[tuple[str, int], pq.ParquetWriter] = {}

    def append(self, name: str, frame: pd.DataFrame) -> None:
        """Write `frame`'s rows (a batch of table `name`) to their partitions."""
        if name not in self._empty:
            self._empty[name] = frame.iloc[:0]
            self._rows[name] = 0
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._rows[name] += len(frame)
        part = sku_partition(frame[C.SKU_ID], self.n)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self.n + 1))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for k in np.flatnonzero(bounds[1:] > bounds[:-1]).tolist():
            chunk = table.take(pa.array(order[bounds[k] : bounds[k + 1]]))
            writer = self._writers.get((name, k))
            if writer is None:
                path = self.root / name / f"part={k}.parquet"
                writer = self._writers[(name, k)] = pq.ParquetWriter(path, chunk.schema)
            writer.write_table(chunk)

    def close(self) -> SkuPartitions:
        """Finish every partition file; the partitions as written."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        return SkuPartitions(str(self.root), self.n, dict(self._empty), dict(self._rows))


def write_sku_partitions(tables: Mapping[str, pd.DataFrame], root: Path, n: int) -> SkuPartitions:
    """Write every table that has a sku_id column into n sku partitions under `root`."""
    writer = SkuPartitionWriter(root, n)
    for name, frame in tables.items():
        if C.SKU_ID in frame.columns:
            writer.append(name, frame)
    return writer.close()


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
