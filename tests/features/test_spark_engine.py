"""`strata features build --engine spark` writes the snapshot the pandas engine writes.

Real Spark (local[2]), one session for the module; small inputs. The Spark builds use several
sku partitions so that shares, ranks and family / category fallbacks have to be computed
across partitions to come out equal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.build import BuildResult, build_features
from features.ingest import ingest
from features.snapshots import load_features
from ml.config import SparkConfig, Workspace
from ml.config.files import load_workspace
from ml.errors import StrataError
from synth.company import write_synthetic_company

pytest.importorskip(
    "pyspark", reason="pyspark is the optional extra strata[spark]: pip install -e '.[spark]'"
)
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")

REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 3
# Provenance that differs between two builds of the same input by design.
VOLATILE = ("created_at", "engine", "code_version")


@pytest.fixture(scope="module")
def spark():
    from features.spark_engine import spark_session

    config = SparkConfig(
        master="local[2]", app_name="strata-test", conf={"spark.sql.shuffle.partitions": "2"}
    )
    with spark_session(config) as session:
        yield session


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict[str, Any]]:
    out = tmp_path_factory.mktemp("synthco")
    write_synthetic_company(out, n_skus=150, n_weeks=70, seed=5)
    counts = json.loads((out / "truth_counts.json").read_text())
    return load_workspace(out / "strata.yaml"), counts


def _variant(ws: Workspace, warehouse: str, **features: Any) -> Workspace:
    return ws.model_copy(
        update={
            "paths": ws.paths.model_copy(update={"warehouse_dir": Path(warehouse)}),
            "features": ws.features.model_copy(update=features),
            "spark": SparkConfig(master="local[2]", partitions=PARTITIONS),
        }
    )


def _both(ws: Workspace, spark: Any, **features: Any) -> tuple[BuildResult, BuildResult]:
    by_pandas = build_features(_variant(ws, "wh_pandas", **features))
    by_spark = build_features(_variant(ws, "wh_spark", **features), engine="spark", spark=spark)
    return by_pandas, by_spark


def _manifest(result: BuildResult) -> dict[str, Any]:
    found = json.loads((result.snapshots[0] / "manifest.json").read_text())
    return {k: v for k, v in found.items() if k not in VOLATILE}


def _assert_same_snapshot(by_pandas: BuildResult, by_spark: BuildResult) -> None:
    assert [p.name for p in by_spark.snapshots] == [p.name for p in by_pandas.snapshots]
    for name in ("features.parquet", "unresolved.parquet"):
        a = pd.read_parquet(by_pandas.snapshots[0] / name)
        b = pd.read_parquet(by_spark.snapshots[0] / name)
        keys = [c for c in ("sku_id", "location_id", "attribute") if c in a.columns]
        pd.testing.assert_frame_equal(
            b.sort_values(keys).reset_index(drop=True),
            a.sort_values(keys).reset_index(drop=True),
            check_exact=False,
            rtol=1e-9,
            atol=1e-12,
        )
    assert _manifest(by_spark) == _manifest(by_pandas)
    quarantine = [
        pd.read_parquet(r.tables_dir / "quarantine.parquet") for r in (by_pandas, by_spark)
    ]
    pd.testing.assert_frame_equal(quarantine[1], quarantine[0])


@pytest.mark.parametrize("grain", ["product", "product_location"])
def test_spark_and_pandas_engines_write_the_same_snapshot_of_the_synthetic_company(
    company, spark, grain
):
    ws, _ = company
    by_pandas, by_spark = _both(ws, spark, grain=grain)
    _assert_same_snapshot(by_pandas, by_spark)
    # every partition held products: shares and ranks had to be taken across partitions
    assert len(by_spark.tasks) == PARTITIONS
    frame = load_features(None, workspace=_variant(ws, "wh_spark"))
    assert by_spark.tasks["keys"].sum() == len(frame)
    assert frame["revenue_share"].sum() == pytest.approx(1.0, rel=1e-9)
    assert frame["revenue_rank"].min() == 1


def test_spark_build_quarantines_every_planted_bad_row_under_its_reason(company, spark):
    ws, counts = company
    by_pandas, by_spark = _both(ws, spark)
    assert by_spark.quarantined_by_reason == by_pandas.quarantined_by_reason
    report = {s["name"]: s for s in by_spark.sources}
    for planted in counts["files"].values():
        if "quarantined" not in planted:
            continue
        got = report[planted["source"]]
        expected = {**planted["quarantined"], **planted["excluded"]}
        assert got["quarantined_by_reason"] == {k: v for k, v in expected.items() if v}
        assert got["rows_in"] == planted["rows"] == got["rows_accepted"] + got["rows_quarantined"]
    manifest = json.loads((by_spark.snapshots[0] / "manifest.json").read_text())
    assert manifest["engine"] == {
        "name": "spark",
        "master": "local[2]",
        "partitions": PARTITIONS,
        "task_seconds_max": manifest["engine"]["task_seconds_max"],
    }
    assert manifest["rows_in"] == manifest["rows_accepted"] + manifest["rows_quarantined"] > 0


def _online_retail_slice(raw: pd.DataFrame, tmp_path: Path) -> Workspace:
    """The Online Retail workspace reading only `raw` (its invoice lines) from tmp_path."""
    raw.to_csv(tmp_path / "slice.csv", index=False)
    real = load_workspace(REPO / "configs/strata.yaml")
    source = next(s for s in real.sources if s.name == "uk_2010_2011")
    return real.model_copy(
        update={
            "root": tmp_path,
            "sources": [source.model_copy(update={"path": Path("slice.csv")})],
            "paths": real.paths.model_copy(update={"mlruns_dir": tmp_path / "mlruns"}),
        }
    )


def test_spark_and_pandas_engines_write_the_same_snapshot_of_online_retail(tmp_path, spark):
    """The first 4,000 invoice lines of the real file (a few hundred products)."""
    raw = pd.read_csv(
        REPO / "data/online_retail/online_retail.csv.gz",
        nrows=4_000,
        dtype=str,
        keep_default_na=False,
    )
    ws = _online_retail_slice(raw, tmp_path)
    by_pandas, by_spark = _both(ws, spark)
    _assert_same_snapshot(by_pandas, by_spark)
    [products] = by_spark.products.values()
    assert 200 <= products <= 2_000
    assert by_spark.quarantined_by_reason == by_pandas.quarantined_by_reason
    assert by_spark.quarantined_by_reason["non_product_code"] > 0


def test_spark_build_of_a_source_without_one_good_row_fails_like_pandas(tmp_path, spark):
    (tmp_path / "shop.csv").write_text(
        "invoice,sku,qty,when,price\n1,85123A,abc,2011-01-03,2.55\n2,22423,3,05/01/2011,1.0\n",
        encoding="utf-8",
    )
    ws = Workspace.model_validate(
        {
            "name": "bad",
            "root": tmp_path,
            "sources": [
                {
                    "name": "shop",
                    "table": "demand",
                    "kind": "csv",
                    "path": "shop.csv",
                    "columns": {
                        "document_id": "invoice",
                        "sku_id": "sku",
                        "qty": "qty",
                        "date": "when",
                        "unit_price": "price",
                    },
                    "date_formats": {"date": "%Y-%m-%d"},
                    "constants": {"location_id": "UK"},
                    "currency": "GBP",
                }
            ],
            "harmonisation": {"reporting_currency": "GBP", "product_master": {}},
        }
    )
    errors = []
    for engine in ("pandas", "spark"):
        with pytest.raises(StrataError) as caught:
            build_features(ws, engine=engine, spark=spark)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "no demand line was accepted" in errors[1]
    [entry, *_] = ingest(ws).report
    assert entry["quarantined_by_reason"] == {"bad_number": 1, "bad_date": 1}


def test_an_unknown_engine_is_refused_by_name(company):
    ws, _ = company
    with pytest.raises(StrataError, match=r"--engine 'dask' is not an engine; use pandas or spark"):
        build_features(ws, engine="dask")


def _champion(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A rules model trained on ws's snapshot (2 CV folds) and forced to champion: its ref."""
    from ml.config import GatesConfig
    from ml.config.files import load_catalogue, load_training_config
    from ml.config.scoring import ScoringConfig
    from promotion.promote import promote
    from store.registry import RegistryRef
    from training.tracking import tracking_uri
    from training.train import train

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("STRATA_USER", "tester")
    config = load_training_config(ws.model_copy(update={"root": REPO}))
    config = config.model_copy(
        update={"assigner": config.assigner.model_copy(update={"cv_folds": 2})}
    )
    trained = train(
        ws, labels="rules", config=config, catalogue=load_catalogue(REPO / "configs/segments.yaml")
    )
    ref = RegistryRef(trained.model_name, tracking_uri(ws))
    promote(
        ws,
        ref,
        trained.model_version,
        "champion",
        GatesConfig(),
        ScoringConfig(),
        force=True,
        reason="t",
    )
    return ref


def _assignments(ws: Workspace, ref: Any, out: Path, engine: str, spark: Any) -> pd.DataFrame:
    """The champion's assignments of ws's snapshot, scored by `engine` into a parquet sink."""
    from ml.config.scoring import ParquetSink, ScoringConfig
    from serving.scoring import score

    sinks = [ParquetSink(kind="parquet", path=out)]
    result = score(ws, ref, ScoringConfig(sinks=sinks), engine=engine, spark=spark)
    assert result.engine == engine
    return result.tables.assignments.drop(columns=["run_id"])


def test_strata_score_engine_spark_scores_a_spark_built_snapshot_like_pandas(
    company, spark, tmp_path, monkeypatch
):
    base, _ = company
    ws = _variant(base, "wh_score")
    ws = ws.model_copy(
        update={"paths": ws.paths.model_copy(update={"mlruns_dir": tmp_path / "mlruns"})}
    )
    build_features(ws, engine="spark", spark=spark)
    ref = _champion(ws, monkeypatch)
    by_pandas = _assignments(ws, ref, tmp_path / "out_pandas", "pandas", spark)
    by_spark = _assignments(ws, ref, tmp_path / "out_spark", "spark", spark)
    assert len(by_spark) == len(load_features(None, workspace=ws)) == 150
    pd.testing.assert_frame_equal(by_spark, by_pandas)


def test_the_snapshots_of_both_engines_get_the_same_assignments_on_online_retail(
    tmp_path, spark, monkeypatch
):
    """Every invoice line of 300 Online Retail products (their whole year) built by each engine,
    one champion trained on the pandas snapshot scoring both: the same segment for each."""
    raw = pd.read_csv(
        REPO / "data/online_retail/online_retail.csv.gz", dtype=str, keep_default_na=False
    )
    raw = raw[raw["StockCode"].isin(raw["StockCode"].drop_duplicates().iloc[:300])]
    ws = _online_retail_slice(raw, tmp_path)
    by_pandas, by_spark = _both(ws, spark)
    _assert_same_snapshot(by_pandas, by_spark)
    on_pandas, on_spark = _variant(ws, "wh_pandas"), _variant(ws, "wh_spark")
    ref = _champion(on_pandas, monkeypatch)
    a = _assignments(on_pandas, ref, tmp_path / "out_pandas", "pandas", spark)
    b = _assignments(on_spark, ref, tmp_path / "out_spark", "spark", spark)
    [products] = by_spark.products.values()
    assert len(a) == len(b) == products
    assert a["segment"].nunique() >= 3
    pd.testing.assert_frame_equal(b, a)
