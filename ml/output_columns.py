"""Column names of the scoring outputs (assignments, explanations, hysteresis state, audit, overrides).

Kept apart from ``ml/columns.py`` (the canonical input tables) so the two can grow independently;
every serving module imports its names from here.
"""

__all__ = [
    "APPROVED_AT",
    "APPROVED_BY",
    "CHANGED",
    "CHANGE_REASON",
    "EVENT",
    "EVENT_ID",
    "FEATURE",
    "FROM_VALUE",
    "METHOD",
    "MODEL_NAME",
    "MODEL_VERSION",
    "OCCURRED_AT",
    "OVERRIDE_ID",
    "PREVIOUS_SEGMENT",
    "PROBABILITY",
    "PROB_OF_PREVIOUS_SEGMENT",
    "REASONS",
    "REQUESTED_AT",
    "REQUESTED_BY",
    "RUN_ID",
    "SEGMENT",
    "SEQ",
    "SHAP",
    "SINCE",
    "STATUS",
    "STREAK_COUNT",
    "STREAK_SEGMENT",
    "SUBJECT",
    "TENURE",
    "TO_VALUE",
    "UNTIL",
    "WHO",
    "WHY",
]

# assignments
SEGMENT = "segment"
PROBABILITY = "probability"  # the model's probability of the segment in `segment`
METHOD = "method"  # model | rule | override
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
STATUS = "status"  # requested | approved | expired | superseded
REQUESTED_BY = "requested_by"
REQUESTED_AT = "requested_at"
APPROVED_BY = "approved_by"
APPROVED_AT = "approved_at"
