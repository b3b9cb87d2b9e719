"""Output table contracts: the tables stages hand each other, checked where a stage writes them.

The scoring job writes ``assignments`` and ``explanations``; the policy job ``policies``,
``policy_flags`` and ``policy_segments``; the KPI job ``kpi_alerts``; the simulation
``simulation_segments``. Each producing stage calls ``check_output`` on every table before any
sink sees it, so a table that breaks its contract is a bug reported at once, with every failing
column and check, and nothing is written. ``assignments`` and ``explanations`` are strict (these
columns, in this order); the policy tables carry the inputs a planner needs to recompute a row
as well, so their contracts fix the columns the next stages read and allow more.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pandera.pandas as pa

from ml import columns as C
from ml.contracts.base import column, key
from ml.errors import StrataError

__all__ = ["OUTPUT_CONTRACTS", "check_output", "check_run_output", "output_problems"]

_PROBABILITY = pa.Check.in_range(0.0, 1.0)
_SHARE = pa.Check.in_range(0.0, 1.0)
_ASSIGNMENT_METHODS = ("model", "rule", "override")

_PROVENANCE = {
    C.MODEL_VERSION: key(description="the version of the run that wrote the row"),
    C.RUN_ID: key(description="the run that wrote the row"),
}

ASSIGNMENTS = pa.DataFrameSchema(
    {
        C.SKU_ID: key(description="the product (sku@location at product x location grain)"),
        C.AS_OF: key("date", description="the snapshot date scored"),
        C.SEGMENT: key("text", description="the segment the product is in after hysteresis"),
        C.PROBABILITY: column(
            "number", _PROBABILITY, description="the model's probability of that segment"
        ),
        C.METHOD: key(
            "text",
            pa.Check.isin(_ASSIGNMENT_METHODS),
            description="model | rule | override: what placed the product",
        ),
        C.MODEL_NAME: key("text", description="the registered model"),
        C.MODEL_VERSION: key(description="its version"),
        C.PREVIOUS_SEGMENT: column("text", description="the segment before this run"),
        C.CHANGED: key("flag", description="segment differs from the previous run's"),
        C.REASONS: column("text", description="the top reasons in words, strongest first"),
        C.RUN_ID: key(description="the scoring run"),
        C.PROVISIONAL: key("flag", description="placed by launch attributes (little history)"),
        C.REVIEW_FLAG: key("flag", description="provisional and below the confidence bar"),
        C.FEATURE_SET: key("text", description="the snapshot's feature set"),
        C.CHANGE_REASON: column("text", description="why the segment changed or was held"),
        C.PROPOSED_SEGMENT: key("text", description="what the model proposed this run"),
        C.PROPOSED_PROBABILITY: column(
            "number", _PROBABILITY, description="the model's probability of its proposal"
        ),
        C.OVERRIDE_ID: column("optional_count", description="the planner override applied"),
        C.TENURE: key("count", pa.Check.ge(1), description="runs the product has held its segment"),
        C.STREAK_SEGMENT: column("text", description="another segment proposed in a row"),
        C.STREAK_COUNT: key("count", pa.Check.ge(0), description="how many runs in a row"),
        C.SINCE: key("date", description="as_of of the run that assigned the segment"),
    },
    unique=[C.SKU_ID],
    strict=True,
    ordered=True,
    name=C.ASSIGNMENTS,
)

EXPLANATIONS = pa.DataFrameSchema(
    {
        C.SKU_ID: key(),
        C.AS_OF: key("date"),
        C.SEGMENT: key("text", description="the segment the SHAP values explain"),
        C.RANK: key("count", pa.Check.ge(1), description="1 = the strongest reason"),
        C.FEATURE: key("text", description="the attribute"),
        C.VALUE: column("number", description="its value (missing for a category)"),
        C.SHAP: key("number", description="its contribution to the raw score (log-odds)"),
        C.REASON: key("text", description="the reason in words"),
        C.MODEL_NAME: key("text"),
        C.MODEL_VERSION: key(),
        C.RUN_ID: key(),
        C.FEATURE_SET: key("text"),
    },
    unique=[C.SKU_ID, C.RANK],
    strict=True,
    ordered=True,
    name=C.EXPLANATIONS,
)

POLICIES = pa.DataFrameSchema(
    {
        C.SKU_ID: key(),
        C.AS_OF: key("date"),
        C.SEGMENT: key("text"),
        C.SERVICE_LEVEL: key(
            "number", pa.Check.gt(0), pa.Check.lt(1), description="the level planned with"
        ),
        C.SERVICE_LEVEL_TYPE: key(
            "text", pa.Check.isin(("csl", "fill_rate")), description="csl | fill_rate"
        ),
        C.REVIEW: key(
            "text", pa.Check.isin(("continuous", "periodic")), description="continuous | periodic"
        ),
        C.REVIEW_PERIOD_DAYS: key("number", pa.Check.ge(0), description="0 = continuous"),
        C.SAFETY_STOCK: key("number", description="reorder point - mean lead-time demand"),
        C.REORDER_POINT: key("number", pa.Check.ge(0), description="s, or S for (R, S)"),
        C.ORDER_QTY: key("number", pa.Check.ge(0), description="units per order"),
        C.EXPECTED_FILL_RATE: key("number", _SHARE, description="share of demand met, planned"),
        C.SHORTAGE_RATIO: column(
            "number",
            pa.Check.ge(0),
            description="segment's achieved / planned shortage in the last backtest (empty: none)",
        ),
        C.CALIBRATED_FILL_RATE: column(
            "number", _SHARE, description="1 - shortage_ratio x (1 - expected_fill_rate)"
        ),
        **_PROVENANCE,
    },
    unique=[C.SKU_ID],
    strict=False,
    name=C.POLICIES,
)

POLICY_FLAGS = pa.DataFrameSchema(
    {
        C.SKU_ID: key(),
        C.AS_OF: key("date"),
        C.SEGMENT: key("text"),
        C.REASON: key("text", description="why the product has no policy, and what to fix"),
        **_PROVENANCE,
    },
    unique=[C.SKU_ID],
    strict=False,
    name=C.POLICY_FLAGS,
)

POLICY_SEGMENTS = pa.DataFrameSchema(
    {
        C.SEGMENT: key("text"),
        C.TARGET_SERVICE_LEVEL: column(
            "number",
            pa.Check.gt(0),
            pa.Check.lt(1),
            description="the catalogue's target; missing for a segment the catalogue lacks",
        ),
        C.PRODUCTS: key("count", pa.Check.ge(0), description="products with a policy"),
        C.EXPECTED_FILL_RATE: column("number", _SHARE, description="demand-weighted, planned"),
        C.AS_OF: key("date"),
        **_PROVENANCE,
    },
    unique=[C.SEGMENT],
    strict=False,
    name=C.POLICY_SEGMENTS,
)

KPI_ALERTS = pa.DataFrameSchema(
    {
        C.AS_OF: key("date", description="the evaluation date"),
        C.SEGMENT: key("text"),
        C.KPI: key("text", description="fill_rate | turns | inventory_value | stockout_duration"),
        C.VALUE: column("number", description="the KPI over the window"),
        C.TARGET: column("number", description="what the policies planned"),
        C.KPI_SOURCE: key("text", description="inventory (on-hand history) | simulation"),
        C.CAUSE: column(
            "text",
            pa.Check.isin(("", "fit", "policy")),
            description="of a persistent breach: fit (products moved: re-segment) | policy (the "
            "plan misses its target: review it); empty while not persistent",
        ),
    },
    strict=False,
    name=C.KPI_ALERTS,
)

SIMULATION_SEGMENTS = pa.DataFrameSchema(
    {
        C.SEGMENT: key("text", description="a segment, or all"),
        C.PRODUCTS: key("count", pa.Check.ge(0)),
        C.DEMAND_UNITS: key("number", pa.Check.ge(0)),
        C.FILL_RATE: column("number", _SHARE, description="achieved: sold from stock / demanded"),
        C.AVG_INVENTORY_VALUE: key("number", pa.Check.ge(0)),
        C.STOCKOUT_PERIODS: column("number", pa.Check.ge(0)),
    },
    unique=[C.SEGMENT],
    strict=False,
    name=C.SIMULATION_SEGMENTS,
)

OUTPUT_CONTRACTS: dict[str, pa.DataFrameSchema] = {
    s.name: s
    for s in (
        ASSIGNMENTS,
        EXPLANATIONS,
        POLICIES,
        POLICY_FLAGS,
        POLICY_SEGMENTS,
        KPI_ALERTS,
        SIMULATION_SEGMENTS,
    )
}


def _dtype_problems(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[str]:
    """Missing columns and columns whose pandas dtype is not the contract's."""
    out = []
    for name, col in schema.columns.items():
        if name not in frame.columns:
            out.append(f"column '{name}' is missing")
        elif str(frame[name].dtype) != col.metadata["dtype"]:
            out.append(
                f"column '{name}' has dtype {frame[name].dtype}, the contract says "
                f"{col.metadata['dtype']}"
            )
    if schema.strict:
        extra = [c for c in frame.columns if c not in schema.columns]
        if extra:
            out.append(f"column(s) {', '.join(map(repr, extra))} are not in the contract")
        elif not out and list(frame.columns) != list(schema.columns):
            out.append(f"columns are not in the contract's order: {list(schema.columns)}")
    return out


def output_problems(table: str, frame: pd.DataFrame) -> list[str]:
    """Every way `frame` breaks the contract of output `table`, one line each (empty: it holds)."""
    schema = OUTPUT_CONTRACTS[table]
    problems = _dtype_problems(schema, frame)
    if problems:
        return problems
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        for (col, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            shown = ", ".join(
                f"row {i}: {v!r}"
                for i, v in zip(group["index"].head(3), group["failure_case"].head(3), strict=True)
            )
            problems.append(
                f"column '{col}' fails {check} in {len(group)} row(s), e.g. {shown[:200]}"
            )
    return problems


def check_output(table: str, frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    """`frame` unchanged when it holds output `table`'s contract; else one StrataError listing
    every problem (a bug in `stage`, raised before anything is written)."""
    problems = output_problems(table, frame)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StrataError(
            f"{stage} produced a {table} table that breaks its contract (ml/contracts/outputs.py); "
            f"nothing was written. {len(problems)} problem(s):\n{listed}\nThis is a bug: report it "
            f"with the command you ran"
        )
    return frame


def check_run_output(
    table: str, frame: pd.DataFrame, stage: str, *, as_of: date, model_version: str, run_id: str
) -> pd.DataFrame:
    """`frame` unchanged when, with the provenance a sink adds (as readers see it), it holds
    `table`'s contract; else the StrataError of :func:`check_output`."""
    provenance = {
        C.AS_OF: pd.Series(pd.Timestamp(as_of).as_unit("us"), index=frame.index),
        C.MODEL_VERSION: str(model_version),
        C.RUN_ID: str(run_id),
    }
    check_output(table, frame.assign(**provenance), stage)
    return frame
