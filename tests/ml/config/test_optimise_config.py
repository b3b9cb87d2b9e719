"""The optimiser's bounds: a floor above its ceiling is refused with the values and the fix."""

import pytest
from pydantic import ValidationError

from ml.config.catalogue import Policy
from ml.config.policy import OptimiseConfig, PolicyConfig

POLICY = {
    "service_level": 0.95,
    "service_level_type": "fill_rate",
    "review": "continuous",
    "order_quantity": {"rule": "eoq", "ordering_cost": 50, "holding_rate": 0.25},
}


def test_a_segment_floor_above_its_ceiling_names_both_and_the_fix():
    with pytest.raises(
        ValidationError,
        match=r"service_level_floor 0.97 is above "
        r"service_level_ceiling 0.9; lower the floor or raise the ceiling",
    ):
        Policy.model_validate({**POLICY, "service_level_floor": 0.97, "service_level_ceiling": 0.9})


def test_the_default_bounds_are_checked_the_same_way():
    with pytest.raises(ValidationError, match=r"default_floor 0.99 is above default_ceiling 0.9"):
        OptimiseConfig(default_floor=0.99, default_ceiling=0.9)


def test_the_bounds_default_to_the_policy_files_values():
    policy = Policy.model_validate(POLICY)
    assert policy.service_level_floor is None and policy.service_level_ceiling is None
    assert PolicyConfig().optimise.default_floor == 0.5
    assert PolicyConfig().optimise.default_ceiling == 0.995
