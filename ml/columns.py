"""Column and table names of every table Strata reads or writes, defined once and imported everywhere.

Sections: the canonical input tables, the scoring outputs (assignments, explanations, hysteresis
state, audit, overrides), the policy stage (policies, simulation, KPIs, alerts), and the names of
the tables stages hand each other. Where two tables share a column name it is one constant.
"""

# ---------------------------------------------------------------------------------------------
# canonical input tables

# keys
SKU_ID = "sku_id"
LOCATION_ID = "location_id"
AS_OF = "as_of"
SUPPLIER_ID = "supplier_id"
CUSTOMER_ID = "customer_id"
DOCUMENT_ID = "document_id"  # invoice / order number in the source
SOURCE_SKU = "source_sku"  # the product code as the source spells it, before the cross-reference

# time
DATE = "date"
PERIOD_START = "period_start"

# measures
QTY = "qty"
REVENUE = "revenue"
COST = "cost"
PROMO_FLAG = "promo_flag"
KIND = "kind"  # sale | cancellation | return | write_off | adjustment

# hierarchy and geography
FAMILY = "family"
CATEGORY = "category"
REGION = "region"
BUSINESS_UNIT = "business_unit"
COUNTRY = "country"

# provenance
SOURCE = "source"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"

# product master
DESCRIPTION = "description"
UNIT_PRICE = "unit_price"  # reporting currency per base unit
UNIT_COST = "unit_cost"  # reporting currency per base unit
UOM = "uom"
SHELF_LIFE_DAYS = "shelf_life_days"
LAUNCH_DATE = "launch_date"
MOQ = "moq"
PACK_SIZE = "pack_size"

# supply events
PO_ID = "po_id"
ORDER_DATE = "order_date"
PROMISED_DATE = "promised_date"
RECEIPT_DATE = "receipt_date"
QTY_ORDERED = "qty_ordered"
QTY_RECEIVED = "qty_received"
SUPPLIER_COUNTRY = "supplier_country"
DESTINATION_COUNTRY = "destination_country"

# inventory
ON_HAND = "on_hand"

# bucketed demand
PROMO_QTY = "promo_qty"
N_LINES = "n_lines"

# harmonisation reference tables (currency conversion, units)
CURRENCY = "currency"
MONTH = "month"
RATE_TO_REPORTING = "rate_to_reporting"
FACTOR_TO_BASE = "factor_to_base"

# quarantine
TABLE = "table"
FIELD = "field"
VALUE = "value"
REASON = "reason"


# ---------------------------------------------------------------------------------------------
# scoring outputs

# assignments
SEGMENT = "segment"
PROBABILITY = "probability"  # the model's probability of the segment in `segment`
METHOD = "method"  # assignments: model | rule | override
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
PREVIOUS_SEGMENT = "previous_segment"
CHANGED = "changed"
REASONS = "reasons"
RUN_ID = "run_id"

# explanations (long): sku_id, as_of, segment, feature, value, shap
FEATURE = "feature"
SHAP = "shap"

# hysteresis: the proposal and the state carried from run to run
PROB_OF_PREVIOUS_SEGMENT = "prob_of_previous_segment"  # new model's probability of the current one
CHANGE_REASON = "change_reason"
TENURE = "tenure"  # scoring runs the product has held its current segment, this one included
STREAK_SEGMENT = "streak_segment"  # a different segment the model proposed in the latest runs
STREAK_COUNT = "streak_count"  # how many runs in a row it proposed streak_segment
SINCE = "since"  # as_of of the run that assigned the current segment

# audit (append-only)
SEQ = "seq"  # total order of audit rows in one file
EVENT_ID = "event_id"
OCCURRED_AT = "occurred_at"  # UTC, naive timestamp
WHO = "who"
EVENT = "event"
SUBJECT = "subject"  # sku_id, or the model name for promotions and rollbacks
FROM_VALUE = "from_value"
TO_VALUE = "to_value"
WHY = "why"

# overrides
OVERRIDE_ID = "override_id"
UNTIL = "until"  # last day the override is in force
STATUS = "status"  # overrides: requested | approved | expired | superseded; policies: ok | flagged
REQUESTED_BY = "requested_by"
REQUESTED_AT = "requested_at"
APPROVED_BY = "approved_by"
APPROVED_AT = "approved_at"

# assignments: the model's proposal before hysteresis and overrides, flags, provenance
PROPOSED_SEGMENT = "proposed_segment"
PROPOSED_PROBABILITY = "proposed_probability"
PROVISIONAL = "provisional"  # placed by the launch model: too little history of its own
REVIEW_FLAG = "review"  # provisional and below the launch model's confidence bar
FEATURE_SET = "feature_set"
RANK = "rank"  # explanations: 1 = the strongest reason
MATCHED_CONDITIONS = "matched_conditions"  # rule assignment: the archetype conditions that held


# ---------------------------------------------------------------------------------------------
# the policy stage

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
LTD_METHOD = "method"  # policies: lead-time demand normal | poisson_gamma | bootstrap
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
NOTE = "note"  # what a planner should know about a valid row ("" when nothing)

#: The policies table in the order it is written (keys and provenance are added by the job).
SHORTAGE_RATIO = "shortage_ratio"  # achieved over planned shortage of the segment, last backtest
CALIBRATED_FILL_RATE = "calibrated_fill_rate"  # expected fill rate x that ratio's correction
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
    SHORTAGE_RATIO,
    CALIBRATED_FILL_RATE,
    LTD_METHOD,
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
SAFETY_STOCK_VALUE = "safety_stock_value"  # safety stock x unit value

# KPIs and alerts
KPI = "kpi"
TARGET = "target"
TOLERANCE = "tolerance"
BREACHED = "breached"
KPI_SOURCE = "kpi_source"  # inventory (on-hand history) | simulation
ALERT_ID = "alert_id"
CAUSE = "cause"  # of a persistent KPI breach: fit (products moved) | policy (the plan misses)
PROPOSAL = "proposal"  # "" or the re-segmentation proposed after k breached periods

# the tables stages hand each other (ml.contracts.outputs declares their columns)
ASSIGNMENTS = "assignments"
EXPLANATIONS = "explanations"
POLICIES = "policies"
POLICY_FLAGS = "policy_flags"
POLICY_SEGMENTS = "policy_segments"
KPI_ALERTS = "kpi_alerts"
SIMULATION_SEGMENTS = "simulation_segments"

__all__ = [name for name in dir() if name.isupper()]
