"""Customer and channel attributes from the demand lines (kind=sale) of the trailing window.

- `n_customers`: distinct non-missing customer ids; `n_countries`: distinct non-missing
  countries (0 when the key sold nothing in the window);
- `top_customer_share`: units bought by the largest customer / all units sold in the window,
  anonymous lines included in the denominator (so anonymous volume never inflates a
  concentration); missing when nothing sold or no line names a customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from ml import columns as C

__all__ = ["CUSTOMER_ATTRIBUTES", "customer_attributes"]

CUSTOMER_ATTRIBUTES = ("n_customers", "top_customer_share", "n_countries")


def customer_attributes(
    lines: pd.DataFrame | None, keys: Sequence[str], first_day: date, last_day: date
) -> pd.DataFrame:
    """One row per key present in the window's sale lines, indexed by `keys`."""
    if lines is None or lines.empty:
        return pd.DataFrame(columns=list(CUSTOMER_ATTRIBUTES), dtype=float)
    day = lines[C.DATE]
    sale = lines[C.KIND] == "sale" if C.KIND in lines.columns else True
    in_window = (day >= pd.Timestamp(first_day)) & (
        day < pd.Timestamp(last_day) + pd.Timedelta(1, "D")
    )
    w = lines.loc[in_window & sale, [*keys, C.CUSTOMER_ID, C.COUNTRY, C.QTY]]
    by_key = w.groupby(list(keys), sort=False, dropna=False)
    units = by_key[C.QTY].sum()
    per_customer = w.groupby([*keys, C.CUSTOMER_ID], sort=False, dropna=True)[C.QTY].sum()
    top = per_customer.groupby(level=list(range(len(keys))), sort=False).max()
    out = pd.DataFrame(
        {
            "n_customers": by_key[C.CUSTOMER_ID].nunique().astype(np.float64),
            "top_customer_share": top.reindex(units.index) / units.where(units > 0),
            "n_countries": by_key[C.COUNTRY].nunique().astype(np.float64),
        }
    )
    return out
