"""Which segment each product is in for the policy job: the scoring sink's assignments, else rules.

The newest ``assignments`` partition as of the snapshot's day (product families expanded to
their products), else the catalogue's rules on the snapshot (method ``rule``); the source says
which, so every report can name where its segments came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ml import columns as C
from ml.catalogue import assign_by_rules
from ml.columns import MATCHED_CONDITIONS, SEGMENT
from ml.config import Catalogue, Workspace
from ml.errors import StrataError
from store.sink_common import AnySink, sink_label
from store.sinks import list_runs, read_table

__all__ = [
    "RULES_VERSION",
    "SEGMENT_REASONS",
    "SegmentSource",
    "family_to_products",
    "segment_assignments",
]


RULES_VERSION = "rules"


SEGMENT_REASONS = "segment_reasons"  # assignments.reasons, or the rules' matched conditions


@dataclass(frozen=True)
class SegmentSource:
    """Where the segments came from: a scoring run's assignments, or the rules as a fallback."""

    method: str  # model (assignments) | rule (fallback)
    as_of: date | None
    model_version: str
    detail: str

    @property
    def fallback(self) -> bool:
        """True when no assignments existed and the catalogue's rules decided."""
        return self.method == "rule"


def _newest_assignment_partition(sink: AnySink, as_of: date) -> tuple[date, str] | None:
    """(as_of, model_version) of the assignments to use for a snapshot as of ``as_of``."""
    try:
        runs = list_runs(sink)
    except StrataError:
        return None
    if runs.empty:
        return None
    current = runs[
        (runs[C.STATUS] == "current")
        & runs["tables"].astype(str).str.split(",").map(lambda t: C.ASSIGNMENTS in t)
    ]
    if current.empty:
        return None
    days = pd.to_datetime(current[C.AS_OF]).dt.date
    usable = current.assign(_day=days.to_numpy())[days <= as_of]
    if usable.empty:
        return None
    best = usable.sort_values(["_day", "written_at"]).iloc[-1]
    return best["_day"], str(best[C.MODEL_VERSION])


def segment_assignments(
    ws: Workspace,
    features: pd.DataFrame,
    catalogue: Catalogue,
    sinks: list[AnySink],
    as_of: date,
) -> tuple[pd.DataFrame, SegmentSource]:
    """sku_id, segment, assignment_method, segment_model_version, reasons for every product.

    From the first sink's assignments for ``as_of`` (else the newest earlier partition);
    products those lack, and every product when there are none, get the catalogue's rules.
    """
    found = _newest_assignment_partition(sinks[0], as_of) if sinks else None
    ruled = None

    def rules() -> pd.DataFrame:
        nonlocal ruled
        if ruled is None:
            if C.SKU_ID not in features.columns:
                raise StrataError(
                    "rule fallback needs a snapshot at product grain (sku_id); the catalogue's "
                    "drivers.grain must be product for the policy job"
                )
            r = assign_by_rules(features, catalogue)
            ruled = pd.DataFrame(
                {
                    C.SKU_ID: r[C.SKU_ID].astype("str").to_numpy(),
                    SEGMENT: r[SEGMENT].astype("str").to_numpy(),
                    C.ASSIGNMENT_METHOD: "rule",
                    C.SEGMENT_MODEL_VERSION: RULES_VERSION,
                    C.REASONS: r[MATCHED_CONDITIONS].astype("str").to_numpy(),
                }
            )
        return ruled

    if found is None:
        where = sink_label(sinks[0]) if sinks else "no sink"
        source = SegmentSource(
            "rule",
            None,
            RULES_VERSION,
            f"NO ASSIGNMENTS in {where} as of {as_of.isoformat()} or earlier: segments come from "
            "the catalogue's rules (method=rule). Run `strata score` for the model's segments.",
        )
        return rules(), source
    day, version = found
    a = read_table(sinks[0], C.ASSIGNMENTS, as_of=day, model_version=version)
    reasons = a[C.REASONS] if C.REASONS in a.columns else pd.Series("", index=a.index)
    method = a[C.METHOD] if C.METHOD in a.columns else pd.Series("model", index=a.index)
    got = pd.DataFrame(
        {
            C.SKU_ID: a[C.SKU_ID].astype("str").to_numpy(),
            SEGMENT: a[C.SEGMENT].astype("str").to_numpy(),
            C.ASSIGNMENT_METHOD: method.astype("str").to_numpy(),
            C.SEGMENT_MODEL_VERSION: version,
            C.REASONS: _reason_texts(reasons),
        }
    ).drop_duplicates(C.SKU_ID, keep="last")
    got = family_to_products(got, features)
    skus = features[C.SKU_ID].astype("str")
    missing = ~skus.isin(got[C.SKU_ID])
    detail = f"assignments as of {day.isoformat()}, model version {version}"
    if day != as_of:
        detail += f" (the newest scored on or before the snapshot of {as_of.isoformat()})"
    if missing.any():
        extra = rules().loc[missing.to_numpy()]
        got = pd.concat([got, extra], ignore_index=True)
        detail += f"; {int(missing.sum())} product(s) not scored there take the rules' segment"
    return got, SegmentSource("model", day, version, detail)


def family_to_products(got: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """A family-grain model's assignments (keyed by family) applied to each of its products."""
    if C.FAMILY not in features.columns:
        return got
    skus = features[C.SKU_ID].astype("str")
    families = features[C.FAMILY].astype("str")
    keys = set(got[C.SKU_ID])
    if skus.isin(keys).any() or not families.isin(keys).any():
        return got
    members = pd.DataFrame({C.SKU_ID: skus.to_numpy(), "_family": families.to_numpy()})
    by_family = got.rename(columns={C.SKU_ID: "_family"})
    return members.merge(by_family, on="_family", how="inner").drop(columns="_family")


def _reason_texts(reasons: pd.Series) -> np.ndarray:
    """assignments.reasons as text: strings as they are, lists joined by "; "."""
    if pd.api.types.is_string_dtype(reasons):
        return reasons.fillna("").astype("str").to_numpy()
    return reasons.map(_reason_text).to_numpy()


def _reason_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, list | tuple | np.ndarray):
        return "; ".join(str(v) for v in value)
    return str(value)
