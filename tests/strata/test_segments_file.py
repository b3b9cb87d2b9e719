"""Loading configs/segments.yaml: every mistake names the file, the segment and the key."""

from pathlib import Path

import pytest

from ml.config.files import load_catalogue
from ml.errors import StrataError

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "configs" / "segments.yaml"


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "segments.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_default_catalogue_loads():
    cat = load_catalogue(DEFAULT)
    assert cat.drivers.abc.cum_share_cutoffs == (0.80, 0.95)
    assert cat.segments[-1].is_catch_all


def test_bad_threshold_order_names_file_key_and_fix(tmp_path):
    path = edited(tmp_path, "cum_share_cutoffs: [0.80, 0.95]", "cum_share_cutoffs: [0.95, 0.80]")
    with pytest.raises(StrataError) as err:
        load_catalogue(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "key 'drivers.abc.cum_share_cutoffs'" in msg
    assert (
        "must be strictly increasing (first cut-off < second), got [0.95, 0.8]; write e.g. [0.8, 0.95]"
        in msg
    )


def test_interval_in_the_wrong_order_names_the_segment(tmp_path):
    path = edited(
        tmp_path,
        "    archetype:\n      age: new",
        "    archetype:\n      age_periods: {gt: 26, lt: 13}",
    )
    with pytest.raises(StrataError) as err:
        load_catalogue(path)
    msg = str(err.value)
    assert "key 'segments.0' (segment 'new_products')" in msg
    assert (
        "archetype key 'age_periods': bounds in the wrong order: gt 26 and lt 13 leave no value"
        in msg
    )


def test_policy_mistake_names_the_segment(tmp_path):
    path = edited(tmp_path, "      review_period_days: 7\n", "")
    with pytest.raises(StrataError) as err:
        load_catalogue(path)
    msg = str(err.value)
    assert "key 'segments.0.policy' (segment 'new_products')" in msg
    assert "review periodic needs review_period_days" in msg


def test_unknown_policy_key_lists_the_allowed_keys(tmp_path):
    path = edited(
        tmp_path,
        "      lead_time_demand: normal\n",
        "      lead_time_demand: normal\n      safety_days: 3\n",
    )
    with pytest.raises(
        StrataError,
        match=r"key 'segments.0.policy.safety_days' \(segment 'new_products'\) is not allowed; "
        r"allowed keys here: "
        r"cost_based_service_level, lead_time_demand, order_quantity",
    ):
        load_catalogue(path)


def test_semantic_problems_are_all_listed_at_once(tmp_path):
    text = DEFAULT.read_text(encoding="utf-8")
    text = text.replace("      margin_pct: {ge: 0.5}", "      margn_pct: {ge: 0.5}")
    text = text.replace(
        "    priority: 90\n    archetype: {}\n", "    priority: 90\n    archetype: {abc: C}\n"
    )
    text = text.replace("      pattern: erratic\n", "      pattern: [erratic, smooth]\n")
    text = text.replace(
        "      abc: [A, B]\n      pattern: lumpy\n", "      abc: A\n      pattern: lumpy\n"
    )
    path = tmp_path / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StrataError) as err:
        load_catalogue(path)
    msg = str(err.value)
    assert f"{path}: " in msg and "problem(s) in the segment catalogue" in msg
    assert (
        "segment 'long_tail_high_margin': archetype key 'margn_pct' is neither a rule class" in msg
    )
    assert "did you mean 'margin_pct'?" in msg
    assert "segments 'core_fast_movers' and 'erratic_high_value' (both priority 40) overlap" in msg
    assert "no segment matches products with" in msg
    assert "pattern = lumpy and abc = B" in msg


def test_missing_file_says_so(tmp_path):
    with pytest.raises(StrataError, match="does not exist"):
        load_catalogue(tmp_path / "nope.yaml")
