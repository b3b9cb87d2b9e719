"""Sku partitions on disk: every row of a sku in one partition, written whole or in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt

from features.sku_partitions import (
    SkuPartitionWriter,
    read_sku_partition,
    sku_partition,
    write_sku_partitions,
)


def _demand(n_rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sku = rng.integers(0, 50, n_rows)
    return pd.DataFrame(
        {
            "sku_id": pd.array([f"SKU{s}" for s in sku], dtype="str"),
            "period_start": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(7 * np.arange(n_rows), "D"),
            "qty": rng.poisson(3.0, n_rows).astype(np.float64),
        }
    )


def _every_partition(parts) -> dict[int, dict[str, pd.DataFrame]]:
    return {k: read_sku_partition(parts, k) for k in range(parts.n)}


def test_a_sku_lands_in_one_partition_and_every_row_is_read_back(tmp_path: Path) -> None:
    demand = _demand(500)
    parts = write_sku_partitions({"demand": demand}, tmp_path, 4)
    read = _every_partition(parts)
    back = pd.concat([read[k]["demand"] for k in range(4)], ignore_index=True)
    assert parts.rows == {"demand": 500}
    assert len(back) == 500
    for k in range(4):
        skus = read[k]["demand"]["sku_id"]
        assert (sku_partition(skus, 4) == k).all()
    key = ["sku_id", "period_start"]
    pdt.assert_frame_equal(
        back.sort_values(key).reset_index(drop=True),
        demand.sort_values(key).reset_index(drop=True),
    )


def test_batches_written_one_at_a_time_give_the_partitions_of_the_whole_table(
    tmp_path: Path,
) -> None:
    demand = _demand(900, seed=11)
    products = pd.DataFrame({"sku_id": pd.array(sorted(set(demand["sku_id"])), dtype="str")})
    whole = write_sku_partitions({"demand": demand, "products": products}, tmp_path / "whole", 5)
    writer = SkuPartitionWriter(tmp_path / "batched", 5)
    for start in range(0, len(demand), 200):  # five batches, the last one short
        writer.append("demand", demand.iloc[start : start + 200])
    writer.append("products", products)
    batched = writer.close()
    assert batched.rows == whole.rows == {"demand": 900, "products": len(products)}
    a, b = _every_partition(whole), _every_partition(batched)
    for k in range(5):
        for table in ("demand", "products"):
            pdt.assert_frame_equal(a[k][table], b[k][table])


def test_a_partition_without_rows_reads_back_empty_in_the_table_dtypes(tmp_path: Path) -> None:
    demand = _demand(3)
    parts = write_sku_partitions(
        {"demand": demand, "no_sku": pd.DataFrame({"x": [1]})}, tmp_path, 64
    )
    assert set(parts.empty) == {"demand"}  # a table without sku_id is not partitioned
    empty = [k for k in range(64) if not parts.path("demand", k).exists()]
    assert len(empty) >= 61
    frame = read_sku_partition(parts, empty[0])["demand"]
    assert frame.empty
    assert frame.dtypes.to_dict() == demand.dtypes.to_dict()
