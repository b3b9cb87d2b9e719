"""Inventory policy formulas: pure, vectorised, one module per policy family, citing its source.

- :mod:`ml.policy.normal` — the standard normal loss function, its inverse, safety factors
- :mod:`ml.policy.safety_stock` — cycle-service safety stock, reorder point, order-up-to level
- :mod:`ml.policy.fill_rate` — fill-rate (type 2) safety factor and expected fill rate
- :mod:`ml.policy.order_quantity` — EOQ, periods of supply, lot-for-lot, MOQ and pack rounding
- :mod:`ml.policy.newsvendor` — cost-based service level from the critical ratio
- :mod:`ml.policy.compound_poisson` — compound Poisson lead-time demand and its distributions
- :mod:`ml.policy.intermittent` — reorder points and fill rates for intermittent and lumpy demand
- :mod:`ml.policy.poisson_gamma_kernel` — the compound Poisson-gamma mixture, compiled
- :mod:`ml.policy.bootstrap` — lead-time demand resampled from a product's own history
- :mod:`ml.policy.solvers` — vectorised root finders the distributions share
- :mod:`ml.policy.inventory_policy` — the whole normal-demand policy per product (batch entry)
- :mod:`ml.policy.service_optimiser` — fill-rate targets per product or segment that meet an
  aggregate fill rate at least safety-stock value; the uniform baselines
- :mod:`ml.policy.validation` — allowed ranges; strict checks and per-row reasons (flag mode)
"""

from ml.policy.bootstrap import (
    bootstrap_fill_rate,
    bootstrap_lead_time_demand,
    bootstrap_reorder_point,
)
from ml.policy.fill_rate import (
    expected_fill_rate,
    expected_shortage_per_cycle,
    fill_rate_safety_factor,
    fill_rate_safety_stock,
)
from ml.policy.intermittent import (
    INTERMITTENT_METHODS,
    compound_poisson_parameters,
    intermittent_expected_shortage,
    intermittent_fill_rate,
    intermittent_fill_rate_reorder_point,
    intermittent_policy,
    intermittent_reorder_point,
    lead_time_demand_moments,
    periodic_fill_rate,
)
from ml.policy.inventory_policy import SERVICE_TYPES, InventoryPolicy, inventory_policy
from ml.policy.newsvendor import (
    CostBasedServiceLevel,
    cost_based_service_level,
    critical_ratio,
    newsvendor_normal_base_stock,
)
from ml.policy.normal import (
    cycle_service_level,
    inverse_standard_normal_loss,
    safety_factor,
    standard_normal_loss,
    standard_normal_second_loss,
)
from ml.policy.order_quantity import (
    ORDER_QUANTITY_RULES,
    economic_order_quantity,
    eoq_annual_cost,
    eoq_with_moq_and_pack,
    lot_for_lot_quantity,
    order_quantity,
    periods_of_supply_quantity,
    rounded_order_quantity,
)
from ml.policy.safety_stock import (
    cycle_service_safety_stock,
    lead_time_demand_mean,
    lead_time_demand_sd,
    order_up_to_level,
    reorder_point,
)
from ml.policy.service_optimiser import (
    SegmentServicePlan,
    ServicePlan,
    UniformServicePlan,
    optimise_per_product,
    optimise_per_segment,
    uniform_cycle_service,
    uniform_fill_rate,
)
from ml.policy.validation import POLICY_INPUTS, check_policy_inputs, validate_policy_inputs

__all__ = [
    "INTERMITTENT_METHODS",
    "ORDER_QUANTITY_RULES",
    "POLICY_INPUTS",
    "SERVICE_TYPES",
    "CostBasedServiceLevel",
    "InventoryPolicy",
    "SegmentServicePlan",
    "ServicePlan",
    "UniformServicePlan",
    "bootstrap_fill_rate",
    "bootstrap_lead_time_demand",
    "bootstrap_reorder_point",
    "check_policy_inputs",
    "compound_poisson_parameters",
    "cost_based_service_level",
    "critical_ratio",
    "cycle_service_level",
    "cycle_service_safety_stock",
    "economic_order_quantity",
    "eoq_annual_cost",
    "eoq_with_moq_and_pack",
    "expected_fill_rate",
    "expected_shortage_per_cycle",
    "fill_rate_safety_factor",
    "fill_rate_safety_stock",
    "intermittent_expected_shortage",
    "intermittent_fill_rate",
    "intermittent_fill_rate_reorder_point",
    "intermittent_policy",
    "intermittent_reorder_point",
    "inventory_policy",
    "inverse_standard_normal_loss",
    "lead_time_demand_mean",
    "lead_time_demand_moments",
    "lead_time_demand_sd",
    "lot_for_lot_quantity",
    "newsvendor_normal_base_stock",
    "optimise_per_product",
    "optimise_per_segment",
    "order_quantity",
    "order_up_to_level",
    "periodic_fill_rate",
    "periods_of_supply_quantity",
    "reorder_point",
    "rounded_order_quantity",
    "safety_factor",
    "standard_normal_loss",
    "standard_normal_second_loss",
    "uniform_cycle_service",
    "uniform_fill_rate",
    "validate_policy_inputs",
]
