"""Do the compound-Poisson policies deliver their plan on demand drawn from their own model?

Reads the newest published policies of a workspace, keeps the `poisson_gamma` rows that sell,
draws weekly demand from each product's own fitted model (Poisson occurrences at 1 / ADI per
period, gamma sizes of mean `mean x ADI` and sd `sqrt(CV²) x size mean`: the model the policy was
computed for), replays it through the policy with the project's replay (lost sales, sampled lead
times, a warm-up) and prints, per segment, the planned (expected) fill rate against the one
achieved. A gap here is the formula's, not the real demand's.

    .venv/bin/python scripts/own_model_replay.py [--config configs/strata.yaml] [--reps 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml import columns as C  # noqa: E402
from ml.config.files import load_scoring_config, load_workspace  # noqa: E402
from ml.policy.compound_poisson import compound_poisson_parameters  # noqa: E402
from ml.simulate import simulate_inventory  # noqa: E402
from planning.replay import STEPS_PER_PERIOD, replenishment_policy  # noqa: E402
from serving.runs import main_sinks  # noqa: E402
from store.sinks import read_table  # noqa: E402


def model_demand(policies: pd.DataFrame, periods: int, seed: int) -> np.ndarray:
    """Demand per row and period drawn from the row's compound Poisson-gamma model."""
    cp = compound_poisson_parameters(
        policies[C.DEMAND_MEAN].to_numpy(),
        policies["adi"].to_numpy(),
        policies["cv2"].fillna(0.0).to_numpy(),
    )
    rng = np.random.default_rng(seed)
    counts = rng.poisson(cp.demand_rate[:, None], (len(policies), periods))
    gamma = cp.size_sd > 0
    shape = np.where(gamma, (cp.size_mean / np.where(gamma, cp.size_sd, 1.0)) ** 2, 1.0)
    scale = np.where(gamma, cp.size_mean / shape, 0.0)
    # a sum of k gamma sizes is gamma(k x shape); sizes of sd 0 are exactly size_mean each
    drawn = rng.gamma(np.maximum(counts * shape[:, None], 1e-300), scale[:, None])
    return np.where(
        gamma[:, None], np.where(counts > 0, drawn, 0.0), counts * cp.size_mean[:, None]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "strata.yaml")
    parser.add_argument("--reps", type=int, default=20, help="replications per product")
    parser.add_argument("--periods", type=int, default=52)
    parser.add_argument("--warmup", type=int, default=13)
    args = parser.parse_args()
    ws = load_workspace(args.config)
    policies = read_table(main_sinks(ws, load_scoring_config(ws))[0], C.POLICIES)
    sold = policies[(policies["method"] == "poisson_gamma") & (policies[C.DEMAND_MEAN] > 0)]
    rows = sold.loc[sold.index.repeat(args.reps)].reset_index(drop=True)
    demand = model_demand(rows, args.warmup + args.periods, seed=1)
    result = simulate_inventory(
        demand[:, args.warmup :],
        replenishment_policy(rows),
        warmup=demand[:, : args.warmup],
        steps_per_period=STEPS_PER_PERIOD[ws.calendar.bucket],
        seed=3,
    )
    d = rows[C.DEMAND_MEAN]
    frame = pd.DataFrame(
        {
            C.SEGMENT: rows[C.SEGMENT],
            "plan": rows[C.EXPECTED_FILL_RATE] * d,
            "d": d,
            "sales": result.sales,
            "demand": result.demand,
        }
    ).groupby(C.SEGMENT)
    sums = frame.sum()
    table = pd.DataFrame(
        {
            "products": frame.size() // args.reps,
            "planned": sums["plan"] / sums["d"],
            "achieved on its own model": sums["sales"] / sums["demand"],
        }
    )
    table["gap"] = table["achieved on its own model"] - table["planned"]
    print(f"{ws.name}: poisson_gamma policies, {args.reps} x {args.periods} periods each")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
