"""Column names of the policy stage's tables: policies, policy flags, simulation, KPIs, alerts.

Kept apart from ``ml/output_columns.py`` (the scoring outputs) so the two stages grow
independently; the policy job, the simulation, the KPIs and the CLI import their names from here.
"""

__all__ = [
    "ALERT_ID",
    "ASSIGNMENT_METHOD",
    "AVG_INVENTORY_UNITS",
    "AVG_INVENTORY_VALUE",
    "BREACHED",
    "COST_BASED",
    "CRITICAL_RATIO",
    "CYCLES",
    "CYCLE_SERVICE_LEVEL",
    "DEMAND_MEAN",
    "DEMAND_SD",
    "DEMAND_UNITS",
    "EXPECTED_FILL_RATE",
    "FILL_RATE",
    "KPI",
    "KPI_SOURCE",
    "LEAD_TIME",
    "LEAD_TIME_DAYS",
    "LEAD_TIME_DEMAND_MEAN",
    "LEAD_TIME_DEMAND_SD",
    "LEAD_TIME_SD",
    "LEAD_TIME_SD_DAYS",
    "LONGEST_STOCKOUT",
    "LOST_UNITS",
    "METHOD",
    "NOTE",
    "ORDERS",
    "ORDER_QTY",
    "ORDER_RULE",
    "PERIOD",
    "PERIODS_PER_YEAR",
    "PERIOD_DAYS",
    "POLICY",
    "POLICY_COLUMNS",
    "PRODUCTS",
    "PROPOSAL",
    "REORDER_POINT",
    "REVIEW",
    "REVIEWS_PER_YEAR",
    "REVIEW_FREQUENCY",
    "REVIEW_PERIOD",
    "REVIEW_PERIOD_DAYS",
    "SAFETY_FACTOR",
    "SAFETY_STOCK",
    "SALES_UNITS",
    "SALES_VALUE",
    "SEGMENT_MODEL_VERSION",
    "SERVICE_LEVEL",
    "SERVICE_LEVEL_TYPE",
    "STATUS",
    "STOCKOUT_DURATION",
    "STOCKOUT_PERIODS",
    "TARGET",
    "TARGET_SERVICE_LEVEL",
    "TOLERANCE",
    "TURNS",
    "UNIT_VALUE",
    "UNIT_VALUE_SOURCE",
    "VALUE",
]

# policies: DESIGN.md's columns ...
SERVICE_LEVEL = "service_level"  # the level planned with (after the cost-based switch)
REVIEW = "review"  # continuous | periodic
REVIEW_PERIOD_DAYS = "review_period_days"
SAFETY_STOCK = "safety_stock"
REORDER_POINT = "reorder_point"  # s for (s, Q) and (R, s, Q); the order-up-to level S for (R, S)
ORDER_QTY = "order_qty"
EXPECTED_FILL_RATE = "expected_fill_rate"
# ... and the inputs a planner needs to recompute the row (times in the demand's periods)
SERVICE_LEVEL_TYPE = "service_level_type"  # csl | fill_rate
TARGET_SERVICE_LEVEL = "target_service_level"  # the catalogue's target
COST_BASED = "cost_based"  # the newsvendor critical ratio set service_level (below the target)
CRITICAL_RATIO = "critical_ratio"
METHOD = "method"  # lead-time demand: normal | poisson_gamma | bootstrap
POLICY = "policy"  # (s, Q) | (R, S) | (R, s, Q): what the simulation replays
ORDER_RULE = "order_rule"  # eoq | periods_of_supply | lot_for_lot
PERIOD = "period"  # week | month: the unit of every time below
PERIOD_DAYS = "period_days"
PERIODS_PER_YEAR = "periods_per_year"
DEMAND_MEAN = "demand_mean"  # d: mean demand per period (snapshot mean_qty)
DEMAND_SD = "demand_sd"  # sigma_d: sd of demand per period (snapshot std_qty)
LEAD_TIME_DAYS = "lead_time_days"
LEAD_TIME_SD_DAYS = "lead_time_sd_days"
LEAD_TIME = "lead_time"  # L in periods
LEAD_TIME_SD = "lead_time_sd"  # sigma_L in periods
REVIEW_PERIOD = "review_period"  # R in periods (0 = continuous)
REVIEW_FREQUENCY = "review_frequency"  # procurement reviews: "continuous", "every 14 days"
REVIEWS_PER_YEAR = "reviews_per_year"
LEAD_TIME_DEMAND_MEAN = "lead_time_demand_mean"  # over L + R
LEAD_TIME_DEMAND_SD = "lead_time_demand_sd"
SAFETY_FACTOR = "safety_factor"  # z or k; for other methods safety stock / lead_time_demand_sd
UNIT_VALUE = "unit_value"  # value of a unit held: unit_cost, else unit_price x (1 - margin)
UNIT_VALUE_SOURCE = "unit_value_source"  # unit_cost | unit_price less default margin
ASSIGNMENT_METHOD = "assignment_method"  # model | rule | override: where the segment came from
SEGMENT_MODEL_VERSION = "segment_model_version"
STATUS = "status"  # ok | flagged
NOTE = "note"  # what a planner should know about a valid row ("" when nothing)

#: The policies table in the order it is written (keys and provenance are added by the job).
POLICY_COLUMNS = [
    SERVICE_LEVEL,
    SERVICE_LEVEL_TYPE,
    TARGET_SERVICE_LEVEL,
    COST_BASED,
    CRITICAL_RATIO,
    REVIEW,
    REVIEW_PERIOD_DAYS,
    REVIEW_FREQUENCY,
    REVIEWS_PER_YEAR,
    POLICY,
    SAFETY_STOCK,
    REORDER_POINT,
    ORDER_QTY,
    EXPECTED_FILL_RATE,
    METHOD,
    ORDER_RULE,
    PERIOD,
    PERIOD_DAYS,
    PERIODS_PER_YEAR,
    DEMAND_MEAN,
    DEMAND_SD,
    LEAD_TIME_DAYS,
    LEAD_TIME_SD_DAYS,
    LEAD_TIME,
    LEAD_TIME_SD,
    REVIEW_PERIOD,
    LEAD_TIME_DEMAND_MEAN,
    LEAD_TIME_DEMAND_SD,
    SAFETY_FACTOR,
    UNIT_VALUE,
    UNIT_VALUE_SOURCE,
    NOTE,
]

# simulation, per product and per segment
DEMAND_UNITS = "demand_units"
SALES_UNITS = "sales_units"
LOST_UNITS = "lost_units"
FILL_RATE = "fill_rate"  # achieved: units sold from stock / units demanded
CYCLES = "cycles"  # replenishment cycles closed by a receipt
CYCLE_SERVICE_LEVEL = "cycle_service_level"  # achieved: cycles without a stockout / cycles
AVG_INVENTORY_UNITS = "avg_inventory_units"  # mean on hand at period end
AVG_INVENTORY_VALUE = "avg_inventory_value"
SALES_VALUE = "sales_value"
TURNS = "turns"  # annualised sales value / average inventory value
STOCKOUT_PERIODS = "stockout_periods"  # periods with demand not met from stock
LONGEST_STOCKOUT = "longest_stockout"  # longest run of consecutive stockout periods
STOCKOUT_DURATION = "stockout_duration"  # mean length of a stockout spell, in periods
ORDERS = "orders"
PRODUCTS = "products"

# KPIs and alerts
KPI = "kpi"
VALUE = "value"
TARGET = "target"
TOLERANCE = "tolerance"
BREACHED = "breached"
KPI_SOURCE = "kpi_source"  # inventory (on-hand history) | simulation
ALERT_ID = "alert_id"
PROPOSAL = "proposal"  # "" or the re-segmentation proposed after k breached periods
