"""One refresh's monitoring rows: drift, segment mix, churn, provisional / imputed shares, KPIs.

Pure: the caller reads the snapshots, assignments and KPI judgements and stores the rows. One row
for all products (segment ``ALL``) and one per segment. A segment's PSI compares the products
now in the segment, their attributes in the previous refresh's snapshot (expected) against the
current one (actual), so a segment whose demand moved shows up in its own row even when the
whole catalogue hardly moves. PSI itself is ml.drift's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from ml import columns as C
from ml.attributes import IMPUTED_SUFFIX
from ml.config.operations import MonitoringConfig, MonitoringThresholds
from ml.drift import psi_by_attribute
from ml.kpis import CAUSE_FIT

__all__ = [
    "ALL",
    "MONITORING_COLUMNS",
    "breaches",
    "imputed_flags",
    "monitoring_rows",
    "segment_mix",
]

ALL = "ALL"  # the row over every product
REFRESH_ID = "refresh_id"
PREVIOUS_AS_OF = "previous_as_of"
PRODUCTS = "products"
SHARE = "share"
SHARE_CHANGE = "share_change"
PSI_MAX = "psi_max"
PSI_MAX_ATTRIBUTE = "psi_max_attribute"
PSI = "psi"  # JSON: attribute -> PSI
CHANGED_SHARE = "changed_share"
PROVISIONAL_SHARE = "provisional_share"
IMPUTED_SHARE = "imputed_share"
KPIS_BREACHED = "kpis_breached"
# of those, the persistent breaches whose products no longer fit the segment (ml.kpis cause "fit"):
# the ones re-segmenting can mend; a "policy" breach asks for a policy review, not a retrain
KPIS_BREACHED_FIT = "kpis_breached_fit"
BREACHES = "breaches"  # comma-separated names of the thresholds exceeded
MONITORING_COLUMNS = [
    REFRESH_ID,
    C.AS_OF,
    PREVIOUS_AS_OF,
    C.SEGMENT,
    PRODUCTS,
    SHARE,
    SHARE_CHANGE,
    PSI_MAX,
    PSI_MAX_ATTRIBUTE,
    PSI,
    CHANGED_SHARE,
    PROVISIONAL_SHARE,
    IMPUTED_SHARE,
    KPIS_BREACHED,
    KPIS_BREACHED_FIT,
    BREACHES,
]


def segment_mix(segments: pd.Series) -> pd.DataFrame:
    """Products and share per segment (index: segment), largest first."""
    counts = segments.astype("object").value_counts()
    return pd.DataFrame({PRODUCTS: counts, SHARE: counts / counts.sum()})


def imputed_flags(snapshot: pd.DataFrame) -> pd.Series:
    """Per product (index sku_id): whether any attribute of it was filled by a fallback."""
    flags = [c for c in snapshot.columns if c.endswith(IMPUTED_SUFFIX)]
    skus = snapshot[C.SKU_ID].astype("object").to_numpy()
    if not flags:
        return pd.Series(False, index=skus)
    return pd.Series(snapshot[flags].fillna(False).astype(bool).any(axis=1).to_numpy(), index=skus)


def breaches(row: dict[str, object], limits: MonitoringThresholds) -> list[str]:
    """The names of the thresholds `row` exceeds (a missing value exceeds none)."""
    checks = [
        ("psi_max", row.get(PSI_MAX), limits.psi_max),
        ("mix_change_max", _abs(row.get(SHARE_CHANGE)), limits.mix_change_max),
        ("change_share_max", row.get(CHANGED_SHARE), limits.change_share_max),
        ("provisional_share_max", row.get(PROVISIONAL_SHARE), limits.provisional_share_max),
        ("imputed_share_max", row.get(IMPUTED_SHARE), limits.imputed_share_max),
        ("kpi_breaches_max", row.get(KPIS_BREACHED), limits.kpi_breaches_max),
    ]
    return [name for name, value, limit in checks if _number(value) and float(value) > limit]  # type: ignore[arg-type]


def _number(value: object) -> bool:
    return value is not None and isinstance(value, (int, float, np.number)) and value == value


def _abs(value: object) -> float | None:
    return abs(float(value)) if _number(value) else None  # type: ignore[arg-type]


def _psi(
    previous: pd.DataFrame | None,
    current: pd.DataFrame,
    skus: pd.Index | None,
    attributes: Sequence[str],
    config: MonitoringConfig,
) -> dict[str, float]:
    """PSI per attribute, previous against current, over `skus` (None: every product)."""
    if previous is None:
        return {}
    if skus is not None:
        previous = previous[previous[C.SKU_ID].isin(skus)]
        current = current[current[C.SKU_ID].isin(skus)]
        if min(len(previous), len(current)) < config.min_segment_products:
            return {}
    attrs = [a for a in attributes if a in previous.columns and a in current.columns]
    return psi_by_attribute(previous, current, attrs, bins=config.psi_bins)


def monitoring_rows(
    refresh_id: str,
    as_of: date,
    *,
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    previous_as_of: date | None,
    previous_mix: pd.Series | None,
    assignments: pd.DataFrame,
    kpis: pd.DataFrame | None,
    attributes: Sequence[str],
    config: MonitoringConfig,
) -> pd.DataFrame:
    """The monitoring rows of one refresh (columns MONITORING_COLUMNS), ALL first.

    `current` / `previous`: the feature snapshots of this and the previous refresh (None on the
    first); `previous_mix`: the previous refresh's share per segment; `assignments`: this
    refresh's (sku_id, segment, changed, provisional); `kpis`: the KPI stage's judgements
    (segment, breached). A value that cannot be measured (no previous refresh, a segment too
    small for PSI) is missing, never zero.
    """
    seg = assignments.set_index(assignments[C.SKU_ID].astype("object"))[C.SEGMENT].astype("object")
    mix = segment_mix(seg)
    imputed = imputed_flags(current).reindex(seg.index).fillna(False).astype(bool)
    changed = assignments[C.CHANGED].fillna(False).astype(bool).to_numpy()
    provisional = (
        assignments[C.PROVISIONAL].fillna(False).astype(bool).to_numpy()
        if C.PROVISIONAL in assignments.columns
        else np.zeros(len(assignments), dtype=bool)
    )
    breached, fit = _breached(kpis)
    rows = []
    for name in [ALL, *sorted(mix.index)]:
        members = np.ones(len(seg), dtype=bool) if name == ALL else (seg == name).to_numpy()
        psi = _psi(
            previous, current, None if name == ALL else seg.index[members], attributes, config
        )
        worst = max(psi, key=psi.__getitem__) if psi else None
        share = 1.0 if name == ALL else float(mix.loc[name, SHARE])
        before = None
        if previous_mix is not None and name != ALL:
            before = float(previous_mix.get(name, 0.0))
        change = None if before is None else share - before
        row: dict[str, object] = {
            REFRESH_ID: refresh_id,
            C.AS_OF: as_of,
            PREVIOUS_AS_OF: previous_as_of,
            C.SEGMENT: name,
            PRODUCTS: int(members.sum()),
            SHARE: share,
            SHARE_CHANGE: change,
            PSI_MAX: psi[worst] if worst else None,
            PSI_MAX_ATTRIBUTE: worst,
            PSI: json.dumps({k: round(v, 6) for k, v in psi.items()}) if psi else None,
            CHANGED_SHARE: float(changed[members].mean()) if members.any() else None,
            PROVISIONAL_SHARE: float(provisional[members].mean()) if members.any() else None,
            IMPUTED_SHARE: float(imputed.to_numpy()[members].mean()) if members.any() else None,
            KPIS_BREACHED: int(breached.sum() if name == ALL else breached.get(name, 0)),
            KPIS_BREACHED_FIT: int(fit.sum() if name == ALL else fit.get(name, 0)),
        }
        if name == ALL and previous_mix is not None:
            row[SHARE_CHANGE] = _largest_move(mix[SHARE], previous_mix)
        row[BREACHES] = ",".join(breaches(row, config.thresholds))
        rows.append(row)
    return pd.DataFrame(rows, columns=MONITORING_COLUMNS)


def _breached(kpis: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Per segment: KPI judgements breached, and those of them whose cause is "fit"."""
    if kpis is None or not len(kpis):
        return pd.Series(dtype="int64"), pd.Series(dtype="int64")
    hit = kpis[kpis[C.BREACHED].astype(bool)]
    cause = hit[C.CAUSE] if C.CAUSE in hit.columns else pd.Series("", index=hit.index)
    fit = hit[cause.astype("object") == CAUSE_FIT]
    return hit.groupby(C.SEGMENT).size(), fit.groupby(C.SEGMENT).size()


def _largest_move(now: pd.Series, before: pd.Series) -> float:
    """The largest absolute change of any segment's share, segments in either mix."""
    both = now.index.union(before.index)
    return float(
        (now.reindex(both, fill_value=0.0) - before.reindex(both, fill_value=0.0)).abs().max()
    )
