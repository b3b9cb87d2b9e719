"""The backtest's config: quarterly origins by default, unknown keys and bad counts refused."""

import pytest
from pydantic import ValidationError

from ml.config.policy import BacktestConfig, PolicyConfig


def test_the_defaults_are_four_quarterly_origins_of_13_periods():
    bt = PolicyConfig().backtest
    assert (bt.origins, bt.spacing_periods, bt.periods) == (4, 13, 13)


def test_the_repository_file_sets_the_same_values():
    from pathlib import Path

    import yaml

    raw = yaml.safe_load((Path(__file__).parents[3] / "configs" / "policy.yaml").read_text())
    assert PolicyConfig.model_validate(raw).backtest == BacktestConfig()


@pytest.mark.parametrize("bad", [{"origins": 0}, {"periods": 0}, {"spacing": 13}])
def test_bad_values_and_unknown_keys_are_refused(bad):
    with pytest.raises(ValidationError):
        BacktestConfig.model_validate(bad)
