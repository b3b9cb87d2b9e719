"""`strata policy optimise` on a tiny workspace: the strategies, the proposal file, bad input."""

import json
from datetime import date

import numpy as np
import pytest
from policy_ws import make_workspace
from typer.testing import CliRunner

from ml import columns as C
from ml.config.files import load_catalogue, load_policy_config, load_scoring_config
from ml.errors import StrataError
from planning.optimise import PROPOSED, optimise_service_levels
from planning.policy_job import build_policies
from planning.proposal_file import write_proposal
from strata.cli import app

AS_OF = date(2024, 12, 29)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rng = np.random.default_rng(3)
    weeks = 60
    demand = {f"F{i}": rng.poisson(5 + 4 * i, weeks).astype(float) for i in range(12)}
    demand["S1"] = np.where(np.arange(weeks) % 4 == 0, 6.0, 0.0)
    prices = {
        f"F{i}": {"unit_cost": float(1 + 3 * (i % 4)), "unit_price": float(2 + 6 * (i % 4))}
        for i in range(12)
    }
    return make_workspace(tmp_path_factory.mktemp("opt") / "ws", demand, [AS_OF], products=prices)


def configs(t, **kw):
    return {
        "catalogue": load_catalogue(t.ws, t.catalogue),
        "scoring": load_scoring_config(t.ws, t.scoring),
        "config": load_policy_config(t.ws, t.policy),
        **kw,
    }


def test_every_strategy_plans_the_same_fill_and_finer_classes_cost_less(tiny):
    p = optimise_service_levels(tiny.ws, target=0.995, **configs(tiny))
    s = p.strategies.set_index("strategy")
    uniform = ["uniform csl", "uniform fill rate", "segment fill rates", "segment csl"]
    for name in [*uniform, PROPOSED, "per-product optimum"]:
        assert s.loc[name, "planned_fill_rate"] == pytest.approx(0.995, abs=1e-6), name
    value = s[C.SAFETY_STOCK_VALUE]
    assert value["per-product optimum"] <= value[PROPOSED] * (1 + 1e-9)
    assert value[PROPOSED] <= value["segment csl"] * (1 + 1e-9)
    assert value["segment csl"] <= value["uniform csl"] * (1 + 1e-9)
    best = min(value["uniform csl"], value["uniform fill rate"])
    assert best > 0 and value["per-product optimum"] < 0.99 * best  # a real saving to share
    assert p.saving_vs_best_uniform == pytest.approx(1 - value[PROPOSED] / best)
    assert 0 <= p.saving_vs_best_uniform <= p.per_item_limit_saving + 1e-9


def test_the_proposal_is_a_catalogue_the_policy_job_adopts(tiny):
    p = optimise_service_levels(tiny.ws, target=0.995, **configs(tiny))
    path = write_proposal(tiny.ws, p)
    assert path.parent == tiny.ws.warehouse / "reports" and "23.3%" not in path.name
    proposed = load_catalogue(tiny.ws, path)
    fast = proposed.segment("fast").policy
    assert fast.service_level_type == "csl" and fast.service_bands
    levels = [b.service_level for b in fast.service_bands]
    assert all(0.5 <= lv <= 0.995 for lv in levels)
    built = build_policies(
        tiny.ws,
        catalogue=proposed,
        scoring=configs(tiny)["scoring"],
        config=configs(tiny)["config"],
        write=False,
    )
    planned = set(
        np.round(built.policies.loc[built.policies[C.SEGMENT] == "fast", C.SERVICE_LEVEL], 4)
    )
    assert planned <= set(np.round(levels, 4))  # every product plans its band's level


def test_an_unreachable_target_or_bad_bounds_are_refused_with_the_fix(tiny):
    with pytest.raises(StrataError, match=r"out of reach|raise"):
        optimise_service_levels(tiny.ws, target=0.99999, **configs(tiny))


def test_cli_prints_the_figures_as_json(tiny):
    r = CliRunner().invoke(
        app,
        [
            "policy",
            "optimise",
            "--config",
            str(tiny.config),
            "--scoring-config",
            str(tiny.scoring),
            "--catalogue",
            str(tiny.catalogue),
            "--policy-config",
            str(tiny.policy),
            "--target",
            "0.95",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert {"saving_vs_best_uniform", "per_item_limit_saving", "strategies", "proposal"} <= set(got)
    bad = CliRunner().invoke(
        app, ["policy", "optimise", "--config", str(tiny.config), "--target", "1.5"]
    )
    assert bad.exit_code == 2 and "(0, 1)" in bad.output
