"""The policy-impact gate metrics: candidate and champion backtested from the same origins.

Each model is judged by what its own segments would have done: at every origin of a small
rolling backtest (:func:`planning.backtest.backtest_models`, the newest ``origins`` origins of
configs/policy.yaml's ``backtest:``), the model scores the snapshot as of the day before the
origin (:func:`planning.backtest.model_segmenter`), the catalogue's policies are computed from
those segments and that snapshot, and the demand after the origin is replayed through them. The
champion goes through the same origins and replays the same products with the same demand and
the same random numbers, so the difference between the two is the segmentation's. Nothing after
an origin is read but the demand replayed — unlike scoring the newest snapshot and applying its
segments to an old one.

The gate figures are the catalogue strategy's, averaged over the origins:
``policy_fill_rate`` (achieved fill rate) and ``policy_inventory_value`` (average inventory
value). A worse segmentation puts products under the wrong policy: fast movers with lot-for-lot
or periodic review starve (the fill rate drops), slow ones on high service targets pile up stock
(the inventory rises); one of the two moves beyond its tolerance, and the two gates together
also catch a model that buys fill rate with stock or saves stock by starving demand. The saving
against the best uniform rule is not the gate's figure: it needs the uniform sweeps (eighteen
more policy computations per origin and model, most of the backtest's cost), and the uniform
rules it compares with keep the model's own order rules and review, so part of a bad
segmentation cancels out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from features.snapshots import list_snapshots
from ml import columns as C
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.errors import StrataError
from planning.backtest import Backtest, backtest_models, backtest_windows
from planning.backtest_origins import Segmenter
from planning.replay import SimulationWindow

__all__ = ["GATE_METRICS", "GATE_STRATEGY", "PolicyImpact", "gate_windows", "policy_impact"]

GATE_METRICS = ("policy_inventory_value", "policy_fill_rate")
GATE_STRATEGY = "catalogue"  # the catalogue's policies on the model's segments


@dataclass(frozen=True)
class PolicyImpact:
    """Both models' gate figures, and the origins and products they were measured on."""

    candidate: dict[str, float]
    champion: dict[str, float] | None
    origins: tuple[date, ...]  # the first period of each origin's window, oldest first
    products: dict[str, float]  # products replayed (both models: the same), averaged over origins


def gate_windows(ws: Workspace, config: PolicyConfig, origins: int) -> list[SimulationWindow]:
    """The newest ``origins`` backtest origins (configs/policy.yaml's spacing and window).

    A history too short for them, or a missing as-of snapshot, is a StrataError saying which
    and the fix (the gates report the metrics n/a with it).
    """
    bt = config.backtest.model_copy(update={"origins": origins})
    try:
        windows = backtest_windows(ws, config.model_copy(update={"backtest": bt}))
    except StrataError as exc:
        raise StrataError(
            f"{exc} (the promotion gate uses policy_backtest.origins: {origins} of "
            "configs/gates.yaml)"
        ) from None
    have = set(list_snapshots(ws))
    missing = [w.policy_as_of.isoformat() for w in windows if w.policy_as_of not in have]
    if missing:
        flags = " ".join(f"--as-of {d}" for d in missing)
        raise StrataError(
            f"the policy-impact backtest needs the snapshot as of the day before each of its "
            f"{origins} origin(s); workspace '{ws.name}' lacks {', '.join(missing)}. Build "
            f"them with `strata features build {flags}` (or `strata simulate --backtest`)"
        )
    return windows


def _figures(result: Backtest) -> dict[str, float]:
    """The catalogue strategy's gate figures, averaged over the origins."""
    row = result.average.set_index("strategy").loc[GATE_STRATEGY]
    return {
        "policy_inventory_value": float(row[C.AVG_INVENTORY_VALUE]),
        "policy_fill_rate": float(row[C.FILL_RATE]),
    }


def policy_impact(
    ws: Workspace,
    candidate: Segmenter,
    champion: Segmenter | None,
    *,
    catalogue: Catalogue,
    config: PolicyConfig,
    origins: int,
) -> PolicyImpact:
    """The policy-impact gate metrics of two models, each backtested on its own segments.

    ``candidate`` and ``champion`` are segmenters (:func:`planning.backtest.model_segmenter`
    of each model's pyfunc); both replay the same ``origins`` origins, the same products and the
    same random numbers (:func:`planning.backtest.backtest_models`). Pass ``.candidate`` as the
    candidate's metrics and ``.champion`` as the champion's to :func:`ml.gates.evaluate_gates`.
    """
    windows = gate_windows(ws, config, origins)
    # the gate judges the catalogue's achieved figures; the calibrated plan it does not read
    # would cost a replay of one more window (and its snapshot) per model
    bt = config.backtest.model_copy(update={"calibrate": False})
    config = config.model_copy(update={"backtest": bt})
    named = {"candidate": candidate, "champion": champion}
    results = backtest_models(
        ws,
        segmenters={k: v for k, v in named.items() if v is not None},
        catalogue=catalogue,
        config=config,
        windows=windows,
        strategies=(GATE_STRATEGY,),
    )
    products = {k: sum(o.products for o in r.origins) / len(r.origins) for k, r in results.items()}
    return PolicyImpact(
        _figures(results["candidate"]),
        _figures(results["champion"]) if "champion" in results else None,
        tuple(w.first for w in windows),
        products,
    )
