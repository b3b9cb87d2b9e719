"""The synthetic company: files, config, determinism, and planted truths measurable from the files.

Every check re-derives its number from the written files with plain pandas, independently of
the generator's own arithmetic, and compares it with ground_truth.csv / truth_counts.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.config.files import load_workspace
from ml.errors import StrataError
from synth.company import write_synthetic_company

N_SKUS, N_WEEKS, SEED = 300, 60, 11
FILES = {
    "erp_eu.csv",
    "erp_us.parquet",
    "products.csv",
    "sku_xref.csv",
    "uom.csv",
    "fx.csv",
    "supply.csv",
    "inventory.csv",
    "ground_truth.csv",
    "truth_counts.json",
    "strata.yaml",
}
SEGMENTS = {
    "core_fast_movers",
    "erratic_high_value",
    "intermittent_slow_movers",
    "lumpy",
    "long_tail",
    "new_products",
}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("company")
    write_synthetic_company(out, n_skus=N_SKUS, n_weeks=N_WEEKS, seed=SEED)
    return out


@pytest.fixture(scope="module")
def truth(company: Path) -> pd.DataFrame:
    return pd.read_csv(company / "ground_truth.csv", dtype={"sku_id": str})


@pytest.fixture(scope="module")
def counts(company: Path) -> dict:
    return json.loads((company / "truth_counts.json").read_text())


def _eu_raw(company: Path) -> pd.DataFrame:
    return pd.read_csv(company / "erp_eu.csv", sep=";", dtype=str, keep_default_na=False)


def _us_raw(company: Path) -> pd.DataFrame:
    return pd.read_parquet(company / "erp_us.parquet")


def _xref(company: Path, region: str) -> dict[str, str]:
    xref = pd.read_csv(company / "sku_xref.csv", dtype=str)
    xref = xref[xref["region"] == region]
    return dict(zip(xref["source_sku"], xref["sku_id"], strict=True))


def _clean_sales(company: Path) -> pd.DataFrame:
    """Clean sale lines of both extracts, harmonised by hand: sku_id, date, qty (each), revenue."""
    uom = pd.read_csv(company / "uom.csv", dtype={"sku_id": str})
    case = uom[uom["uom"] == "CS"].set_index("sku_id")["factor_to_base"]
    fx = pd.read_csv(company / "fx.csv", dtype=str)
    rate = {(m, c): float(r) for m, c, r in fx[["month", "currency", "rate_to_reporting"]].values}

    eu = _eu_raw(company).drop_duplicates()
    eu = eu[eu["Belegnr"].str.fullmatch(r"\d+")]
    eu_xref = _xref(company, "EU")
    eu = eu.assign(
        sku_id=eu["Artikel"].str.upper().map(eu_xref),
        date=pd.to_datetime(eu["Datum"], format="%d.%m.%Y", errors="coerce"),
        cases=pd.to_numeric(eu["Menge"], errors="coerce"),
        price=pd.to_numeric(eu["Preis"]),
    ).dropna(subset=["sku_id", "date", "cases"])
    eu_rate = [rate[(d.strftime("%Y-%m"), "EUR")] for d in eu["date"]]
    eu = pd.DataFrame({
        "sku_id": eu["sku_id"],
        "date": eu["date"],
        "qty": eu["cases"] * eu["sku_id"].map(case),
        "revenue": eu["cases"] * eu["price"] * eu_rate,
    })  # fmt: skip

    us = _us_raw(company).drop_duplicates()
    us = us[us["order_no"].str.startswith("SO")]
    us = us.assign(
        sku_id=us["item_code"].str.upper().map(_xref(company, "US")),
        date=pd.to_datetime(us["order_date"], format="%Y-%m-%d", errors="coerce"),
    ).dropna(subset=["sku_id", "date", "qty_each"])
    us_rate = [rate[(d.strftime("%Y-%m"), "USD")] for d in us["date"]]
    us = pd.DataFrame({
        "sku_id": us["sku_id"],
        "date": us["date"],
        "qty": us["qty_each"].astype(float),
        "revenue": us["qty_each"] * us["unit_price_usd"] * us_rate,
    })  # fmt: skip
    return pd.concat([eu, us], ignore_index=True)


def _syntetos_boylan(adi: pd.Series, cv2: pd.Series) -> pd.Series:
    frequent, steady = adi < 1.32, cv2 < 0.49
    return pd.Series(
        np.where(
            frequent,
            np.where(steady, "smooth", "erratic"),
            np.where(steady, "intermittent", "lumpy"),
        ),
        index=adi.index,
    )


def test_writes_every_file_and_a_workspace_config_that_validates(company: Path) -> None:
    assert {p.name for p in company.iterdir()} == FILES
    ws = load_workspace(company / "strata.yaml")
    assert ws.root == company.resolve()
    assert ws.warehouse == company.resolve() / "warehouse"
    for source in ws.sources:
        assert ws.resolve(source.path).is_file(), source.name
    by_name = {s.name: s for s in ws.sources}
    h = ws.harmonisation
    assert (h.sku_xref, h.uom, h.fx) == ("sku_xref", "uom", "fx")
    assert by_name["erp_eu"].currency == "EUR" and by_name["erp_eu"].uom == "CS"
    assert by_name["erp_us"].currency == "USD" and by_name["erp_us"].uom == "EA"
    eu_columns = set(_eu_raw(company).columns)
    assert set(by_name["erp_eu"].columns.values()) <= eu_columns
    assert set(by_name["erp_us"].columns.values()) <= set(_us_raw(company).columns)


def test_the_same_seed_gives_byte_identical_files(company: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_synthetic_company(again, n_skus=N_SKUS, n_weeks=N_WEEKS, seed=SEED)
    for name in sorted(FILES):
        assert (again / name).read_bytes() == (company / name).read_bytes(), name
    other = tmp_path / "other"
    write_synthetic_company(other, n_skus=N_SKUS, n_weeks=N_WEEKS, seed=SEED + 1)
    assert (other / "erp_eu.csv").read_bytes() != (company / "erp_eu.csv").read_bytes()


def test_regional_codes_differ_from_the_global_sku_id(company: Path) -> None:
    xref = pd.read_csv(company / "sku_xref.csv", dtype=str)
    assert set(xref["region"]) == {"EU", "US"}
    assert not set(xref["source_sku"]) & set(xref["sku_id"])
    assert xref.groupby("region")["sku_id"].nunique().eq(N_SKUS).all()
    # EU codes are numbers with leading zeros: a reader that guesses types loses the join
    assert xref.loc[xref["region"] == "EU", "source_sku"].str.startswith("0").all()


def test_harmonised_clean_sales_add_up_to_the_expected_totals(
    company: Path, truth: pd.DataFrame
) -> None:
    sales = _clean_sales(company)
    got = sales.groupby("sku_id")[["qty", "revenue"]].sum()
    expected = truth.set_index("sku_id")
    got = got.reindex(expected.index, fill_value=0.0)
    np.testing.assert_array_equal(got["qty"], expected["expected_total_qty"])
    np.testing.assert_allclose(got["revenue"], expected["expected_total_revenue_gbp"], atol=1e-3)
    assert sales.groupby("sku_id").size().sum() == expected["expected_sale_lines"].sum()


def test_planted_demand_patterns_are_measurable_from_the_sale_lines(
    company: Path, truth: pd.DataFrame, counts: dict
) -> None:
    sales = _clean_sales(company)
    start = pd.Timestamp(counts["history_start"])
    week = (sales["date"] - start).dt.days // 7
    weekly = sales.groupby([sales["sku_id"], week])["qty"].sum().unstack(fill_value=0.0)
    weekly = weekly.reindex(columns=range(N_WEEKS), fill_value=0.0)
    launch = pd.to_datetime(truth.set_index("sku_id")["launch_date"])
    first = ((launch - start).dt.days // 7).clip(lower=0).reindex(weekly.index)
    active = np.arange(N_WEEKS)[None, :] >= first.to_numpy()[:, None]
    sizes = weekly.where(active & (weekly > 0))
    adi = pd.Series(active.sum(axis=1), index=weekly.index) / sizes.count(axis=1)
    cv2 = sizes.var(axis=1, ddof=0) / sizes.mean(axis=1) ** 2
    measured = _syntetos_boylan(adi, cv2)

    planted = truth.set_index("sku_id")["demand_pattern"].reindex(weekly.index)
    assert set(planted) == {"smooth", "erratic", "intermittent", "lumpy"}
    for pattern, members in planted.groupby(planted):
        agree = (measured[members.index] == pattern).mean()
        assert agree >= 0.95, f"{pattern}: only {agree:.0%} measured as planted"
        median = _syntetos_boylan(
            pd.Series([adi[members.index].median()]), pd.Series([cv2[members.index].median()])
        )[0]
        assert median == pattern
    # clear of the cut-offs, not merely on the right side of them
    frequent = planted.isin(["smooth", "erratic"])
    assert adi[frequent].max() < 1.2 and adi[~frequent].min() > 1.6
    variable = planted.isin(["erratic", "lumpy"])
    assert cv2[variable].min() > 0.7 and cv2[~variable].max() < 0.35


def test_planted_value_classes_follow_revenue(truth: pd.DataFrame) -> None:
    established = truth[~truth["is_new"]].sort_values("expected_total_revenue_gbp", ascending=False)
    share = established["expected_total_revenue_gbp"].cumsum()
    share = share / share.iloc[-1]
    before = share.shift(fill_value=0.0)  # the product that crosses a cut-off is still inside
    by_rule = np.where(before < 0.80, "A", np.where(before < 0.95, "B", "C"))
    agree = (by_rule == established["value_class"]).mean()
    assert agree >= 0.95, f"ABC by revenue agrees with the planted class for only {agree:.0%}"
    mean_revenue = truth.groupby("value_class")["expected_total_revenue_gbp"].median()
    assert mean_revenue["A"] > 3 * mean_revenue["B"] > 3 * mean_revenue["C"]


def test_planted_segments_have_their_defining_traits(truth: pd.DataFrame, counts: dict) -> None:
    assert set(truth["segment"]) == SEGMENTS
    seg = truth.groupby("segment")
    assert seg.get_group("core_fast_movers")[["value_class", "demand_pattern"]].eq(
        ["A", "smooth"]
    ).all().all()  # fmt: skip
    erratic = seg.get_group("erratic_high_value")
    assert set(erratic["value_class"]) == {"A", "B"} and set(erratic["demand_pattern"]) == {
        "erratic"
    }
    assert set(seg.get_group("intermittent_slow_movers")["demand_pattern"]) == {"intermittent"}
    assert set(seg.get_group("lumpy")["demand_pattern"]) == {"lumpy"}
    tail = seg.get_group("long_tail")
    assert set(tail["value_class"]) == {"C"}
    assert set(tail["demand_pattern"]) == {"smooth", "erratic"}
    new = seg.get_group("new_products")
    end = pd.Timestamp(counts["history_end"])
    weeks_ago = (end - pd.to_datetime(new["launch_date"])).dt.days / 7
    assert new["is_new"].all() and weeks_ago.between(3, 10.5).all()
    assert not truth.loc[truth["segment"] != "new_products", "is_new"].any()
    # volume separates the long tail from the erratic high-value products
    assert tail["true_mean_weekly_qty"].median() < erratic["true_mean_weekly_qty"].median()
    assert (truth["realised_pattern"] == truth["demand_pattern"]).all()


def test_planted_bad_rows_are_counted_exactly(company: Path, counts: dict) -> None:
    eu = _eu_raw(company)
    eu_xref = _xref(company, "EU")
    planted = counts["files"]["erp_eu.csv"]
    assert len(eu) == planted["rows"]
    assert eu["Belegnr"].str.startswith("ST").sum() == planted["accepted"]["cancellation"]
    assert eu["Belegnr"].str.startswith("GS").sum() == planted["accepted"]["return"]
    assert (pd.to_numeric(eu["Menge"], errors="coerce") < 0).sum() == (
        planted["accepted"]["cancellation"] + planted["accepted"]["return"]
    )
    assert (eu["Artikel"] == "FRACHT").sum() == planted["excluded"]["freight"]
    assert (eu["Artikel"] == "GEBUEHR").sum() == planted["excluded"]["fee"]
    product_code = ~eu["Artikel"].isin(["FRACHT", "GEBUEHR"])
    unknown = product_code & ~eu["Artikel"].isin(list(eu_xref))
    assert unknown.sum() == planted["quarantined"]["unknown_sku"]
    bad_date = pd.to_datetime(eu["Datum"], format="%d.%m.%Y", errors="coerce").isna()
    assert bad_date.sum() == planted["quarantined"]["bad_date"]
    not_a_number = pd.to_numeric(eu["Menge"], errors="coerce").isna()
    assert not_a_number.sum() == planted["quarantined"]["bad_number"]
    assert eu.duplicated().sum() == planted["quarantined"]["exact_duplicate"]
    assert min(planted["quarantined"].values()) >= 2 and planted["accepted"]["sale"] > 1000

    us = _us_raw(company)
    planted = counts["files"]["erp_us.parquet"]
    assert len(us) == planted["rows"]
    assert us["order_no"].str.startswith("CX").sum() == planted["accepted"]["cancellation"]
    assert us["order_no"].str.startswith("RMA").sum() == planted["accepted"]["return"]
    assert (us["item_code"] == "FREIGHT").sum() == planted["excluded"]["freight"]
    assert (us["item_code"] == "FEE-HANDLING").sum() == planted["excluded"]["fee"]
    codes = us["item_code"].str.upper()
    unknown = ~us["item_code"].isin(["FREIGHT", "FEE-HANDLING"]) & ~codes.isin(
        list(_xref(company, "US"))
    )
    assert unknown.sum() == planted["quarantined"]["unknown_sku"]
    bad_date = pd.to_datetime(us["order_date"], format="%Y-%m-%d", errors="coerce").isna()
    assert bad_date.sum() == planted["quarantined"]["bad_date"]
    assert us["qty_each"].isna().sum() == planted["quarantined"]["missing_value"]
    assert us.duplicated().sum() == planted["quarantined"]["exact_duplicate"]
    lower = us["item_code"] != codes
    assert lower.sum() == planted["accepted_variants"]["lowercase_code"] >= 2


def test_lead_times_and_reliability_match_the_supplier_profiles(
    company: Path, truth: pd.DataFrame, counts: dict
) -> None:
    supply = pd.read_csv(
        company / "supply.csv",
        dtype={"sku_id": str},
        parse_dates=["order_date", "promised_date", "receipt_date"],
    )
    assert supply["po_id"].is_unique
    assert len(supply) == counts["files"]["supply.csv"]["rows"]
    assert supply["receipt_date"].isna().sum() == counts["files"]["supply.csv"]["open_orders"]
    # orders placed long enough before the end have all arrived: no censoring of slow receipts
    cutoff = pd.Timestamp(counts["history_end"]) - pd.Timedelta(days=120)
    done = supply[supply["order_date"] <= cutoff].merge(
        truth[["sku_id", "supplier_profile", "true_lead_time_mean_days",
               "true_lead_time_sd_days", "supplier_on_time_rate", "supplier_fill_rate"]],
        on="sku_id",
    )  # fmt: skip
    assert done["receipt_date"].notna().all()
    lead_time = (done["receipt_date"] - done["order_date"]).dt.days
    on_time = done["receipt_date"] <= done["promised_date"]
    for profile, rows in done.groupby("supplier_profile"):
        planted = rows.iloc[0]
        lt = lead_time[rows.index]
        assert len(rows) > 100, profile
        assert abs(lt.mean() - planted["true_lead_time_mean_days"]) < max(
            1.0, 0.05 * planted["true_lead_time_mean_days"]
        ), profile
        assert abs(lt.std() / planted["true_lead_time_sd_days"] - 1) < 0.15, profile
        assert abs(on_time[rows.index].mean() - planted["supplier_on_time_rate"]) < 0.06, profile
        # per order: a quantity-weighted rate is dominated by a few fast movers' large orders
        fill = (rows["qty_received"] / rows["qty_ordered"]).mean()
        assert abs(fill - planted["supplier_fill_rate"]) < 0.03, profile


def test_inventory_is_weekly_per_product_and_location(company: Path, counts: dict) -> None:
    inventory = pd.read_csv(company / "inventory.csv", parse_dates=["date"])
    assert set(inventory["location_id"]) == {"DC-EU", "DC-US"}
    assert (inventory["date"].dt.dayofweek == 6).all()
    assert inventory["date"].max() == pd.Timestamp(counts["history_end"])
    assert not inventory.duplicated(["sku_id", "location_id", "date"]).any()
    assert (inventory["on_hand"] >= 0).all()


def test_too_short_a_history_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StrataError, match=r"--weeks 5 is below 8"):
        write_synthetic_company(tmp_path, n_skus=10, n_weeks=5, seed=1)
    with pytest.raises(StrataError, match=r"--skus 0 is below 1"):
        write_synthetic_company(tmp_path, n_skus=0, n_weeks=20, seed=1)


@pytest.mark.parametrize(("n_skus", "n_weeks"), [(1, 8), (7, 8), (40, 12)])
def test_tiny_companies_still_generate(tmp_path: Path, n_skus: int, n_weeks: int) -> None:
    paths = write_synthetic_company(tmp_path, n_skus=n_skus, n_weeks=n_weeks, seed=3)
    assert {p.name for p in paths} == FILES
    truth = pd.read_csv(tmp_path / "ground_truth.csv")
    assert len(truth) == n_skus
    load_workspace(tmp_path / "strata.yaml")


def test_strata_synth_cli_writes_the_company(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from strata.cli import app

    result = CliRunner().invoke(
        app, ["synth", "--skus", "30", "--weeks", "20", "--out", str(tmp_path), "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "11 files" in result.output
    assert (tmp_path / "strata.yaml").is_file()
