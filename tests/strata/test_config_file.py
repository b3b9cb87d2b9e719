"""Config loading: a mistake names the file, the key, the bad value and the allowed values."""

from pathlib import Path

import pytest

from ml.config.files import load_workspace
from ml.errors import StrataError

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
name: shop
calendar: {bucket: week, window_periods: 52}
sources:
  - name: sales
    table: demand
    kind: csv
    path: data/sales.csv
    columns: {source_sku: code, qty: quantity, date: day}
"""


def write(tmp_path: Path, text: str) -> Path:
    cfg = tmp_path / "configs" / "strata.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_valid_config_resolves_paths_against_the_folder_above_configs(tmp_path):
    ws = load_workspace(write(tmp_path, MINIMAL))
    assert ws.root == tmp_path.resolve()
    assert ws.warehouse == tmp_path.resolve() / "warehouse"
    assert ws.calendar.bucket == "week"


def test_bad_literal_names_file_key_value_and_allowed_values(tmp_path):
    cfg = write(tmp_path, MINIMAL.replace("bucket: week", "bucket: fortnight"))
    with pytest.raises(StrataError) as err:
        load_workspace(cfg)
    msg = str(err.value)
    assert str(cfg) in msg
    assert "calendar.bucket" in msg
    assert "'fortnight'" in msg
    assert "'week' or 'month'" in msg


def test_unknown_key_lists_the_allowed_keys(tmp_path):
    cfg = write(tmp_path, MINIMAL.replace("window_periods: 52", "window_periods: 52, windw: 3"))
    with pytest.raises(StrataError) as err:
        load_workspace(cfg)
    msg = str(err.value)
    assert "calendar.windw" in msg
    assert "allowed keys here: bucket, recent_periods, window_periods" in msg


def test_out_of_range_number_is_reported_with_its_value(tmp_path):
    cfg = write(tmp_path, MINIMAL.replace("window_periods: 52", "window_periods: 0"))
    with pytest.raises(
        StrataError, match=r"calendar.window_periods': Input should be greater than 0 \(got 0\)"
    ):
        load_workspace(cfg)


def test_missing_file_says_which_and_what_to_do(tmp_path):
    with pytest.raises(StrataError, match="does not exist; pass --config"):
        load_workspace(tmp_path / "nope.yaml")


def test_harmonisation_must_name_a_declared_source(tmp_path):
    cfg = write(tmp_path, MINIMAL + "harmonisation: {fx: rates}\n")
    with pytest.raises(
        StrataError, match=r"harmonisation.fx names source 'rates'.*declared sources: sales"
    ):
        load_workspace(cfg)


@pytest.mark.parametrize("name", ["strata.yaml", "scms.yaml"])
def test_shipped_workspace_configs_validate(name):
    ws = load_workspace(REPO / "configs" / name)
    assert ws.sources
    for source in ws.sources:
        if source.path is not None:
            assert ws.resolve(source.path).is_file(), f"{name}: {source.path} is missing"
