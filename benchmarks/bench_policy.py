"""Benchmark: inventory policies for 1,000,000 products in one vectorised pass (budget: 1 s), and
the replay of 100,000 products x 52 weeks through their policies (budget: 30 s).

Run from the repo root::

    .venv/bin/python benchmarks/bench_policy.py [--products N] [--repeat 3] [--section formulas]
    .venv/bin/python benchmarks/bench_policy.py --section simulation [--sim-products 100000]

Sections are independent functions registered in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.policy import (
    InventoryPolicy,
    cycle_service_safety_stock,
    eoq_with_moq_and_pack,
    expected_fill_rate,
    fill_rate_safety_factor,
    inventory_policy,
    lead_time_demand_sd,
    reorder_point,
    validate_policy_inputs,
)

BUDGET_SECONDS = 1.0
SIMULATION_BUDGET_SECONDS = 30.0


@dataclass(frozen=True)
class Row:
    """One timed stage."""

    stage: str
    seconds: float
    note: str = ""


def synthetic_products(n: int, seed: int = 20261101) -> dict[str, np.ndarray]:
    """Realistic, seeded policy inputs for n products (weekly periods)."""
    rng = np.random.default_rng(seed)
    demand_mean = np.exp(rng.normal(2.0, 1.5, n))  # units per week, median ~7
    unit_cost = np.exp(rng.normal(2.5, 1.0, n))
    lead_time = rng.uniform(0.5, 12.0, n)
    return {
        "service_level": rng.choice([0.90, 0.95, 0.98, 0.99], n),
        "service_type": rng.choice(np.array(["csl", "fill_rate"], dtype=object), n),
        "demand_mean": demand_mean,
        "demand_sd": demand_mean * rng.uniform(0.1, 1.5, n),
        "lead_time": lead_time,
        "lead_time_sd": lead_time * rng.uniform(0.0, 0.3, n),
        "review_period": rng.choice([0.0, 0.0, 1.0, 2.0, 4.0], n),
        "annual_demand": 52.0 * demand_mean,
        "order_cost": rng.uniform(20.0, 200.0, n),
        "holding_cost": 0.25 * unit_cost,
        "moq": np.where(rng.random(n) < 0.3, rng.choice([10.0, 50.0, 100.0], n), 0.0),
        "pack_size": rng.choice([1.0, 6.0, 12.0, 24.0, 48.0], n),
    }


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_formulas(args: argparse.Namespace) -> list[Row]:
    """Each formula over all products, then the whole policy via the batch entry point."""
    p = synthetic_products(args.products)
    n = args.products
    rows: list[Row] = []

    t, reasons = _timed(
        lambda: validate_policy_inputs(**{k: v for k, v in p.items() if k not in ("service_type",)})
    )
    rows.append(
        Row("validate_policy_inputs (flag-mode reasons)", t, f"{(reasons != '').sum()} bad")
    )
    t, sigma = _timed(
        lambda: lead_time_demand_sd(
            p["demand_mean"], p["demand_sd"], p["lead_time"], p["lead_time_sd"], p["review_period"]
        )
    )
    rows.append(Row("lead-time demand sd", t))
    t, ss = _timed(
        lambda: cycle_service_safety_stock(
            p["service_level"],
            p["demand_mean"],
            p["demand_sd"],
            p["lead_time"],
            p["lead_time_sd"],
            p["review_period"],
        )
    )
    rows.append(Row("cycle-service safety stock", t))
    t, q = _timed(
        lambda: eoq_with_moq_and_pack(
            p["annual_demand"], p["order_cost"], p["holding_cost"], p["moq"], p["pack_size"]
        )
    )
    rows.append(Row("EOQ + MOQ + pack rounding", t))
    t, k = _timed(lambda: fill_rate_safety_factor(p["service_level"], q, sigma))
    rows.append(
        Row("fill-rate k solve, k_min = 0 (default)", t, f"{np.mean(k == 0):.0%} rows at the floor")
    )
    t, _ = _timed(lambda: fill_rate_safety_factor(p["service_level"], q, sigma, k_min=-1e6))
    rows.append(Row("fill-rate k solve, uncapped (Newton on every row)", t))
    t, _ = _timed(lambda: reorder_point(p["demand_mean"], p["lead_time"], ss, p["review_period"]))
    rows.append(Row("reorder point", t))
    t, rate = _timed(lambda: expected_fill_rate(k, sigma, q))
    rows.append(Row("expected fill rate", t, f"mean {np.mean(rate):.4f}"))

    def whole() -> object:
        return inventory_policy(
            p["service_level"],
            p["demand_mean"],
            p["demand_sd"],
            p["lead_time"],
            p["lead_time_sd"],
            p["review_period"],
            service_type=p["service_type"],
            order_rule="eoq",
            annual_demand=p["annual_demand"],
            order_cost=p["order_cost"],
            holding_cost=p["holding_cost"],
            moq=p["moq"],
            pack_size=p["pack_size"],
            errors="flag",
        )

    times = []
    for _ in range(args.repeat):
        t, policy = _timed(whole)
        times.append(t)
    valid = policy.reason == ""
    assert np.isfinite(policy.safety_stock[valid]).all(), "NaN safety stock on a valid row"
    rows.append(
        Row(
            f"inventory_policy(errors='flag'), all of the above, {n:,} products",
            min(times),
            f"best of {args.repeat}: " + ", ".join(f"{x:.3f}" for x in times),
        )
    )
    return rows


def _benchmark_policies(p: dict[str, np.ndarray], periodic: np.ndarray) -> InventoryPolicy:
    """(s, Q) with the EOQ for the continuous products, (R, S) lot for lot for the periodic."""
    # (R, S) orders what was sold since the last review: its Q is d R (lot for lot)
    rule = np.where(periodic, "lot_for_lot", "eoq").astype(object)
    return inventory_policy(
        p["service_level"],
        p["demand_mean"],
        p["demand_sd"],
        p["lead_time"],
        p["lead_time_sd"],
        p["review_period"],
        service_type=p["service_type"],
        order_rule=rule,
        annual_demand=p["annual_demand"],
        order_cost=p["order_cost"],
        holding_cost=p["holding_cost"],
        moq=p["moq"],
        pack_size=p["pack_size"],
        errors="flag",
    )


def bench_simulation(args: argparse.Namespace) -> list[Row]:
    """Replay seeded gamma demand through each product's policy: (s, Q) with the EOQ for the
    continuous half, (R, S) for the periodic half, lead times drawn from gammas, lost sales, 13 warm-up weeks,
    then 52 measured weeks in daily steps; the achieved fill rate is checked against the
    formula's expectation."""
    from ml.simulate import ReplenishmentPolicy, simulate_inventory

    n, weeks, warm = args.sim_products, args.sim_weeks, 13
    p = synthetic_products(n)
    periodic = p["review_period"] > 0
    policy = _benchmark_policies(p, periodic)
    rows: list[Row] = []
    rng = np.random.default_rng(20261126)
    shape = (p["demand_mean"] / p["demand_sd"]) ** 2
    scale = p["demand_sd"] ** 2 / p["demand_mean"]
    t, demand = _timed(lambda: rng.gamma(shape[:, None], scale[:, None], (n, warm + weeks)))
    rows.append(Row(f"gamma demand, {n:,} x {warm + weeks} weeks (not timed below)", t))
    replenish = ReplenishmentPolicy.of(
        policy.reorder_point,
        policy.order_qty,
        p["review_period"],
        periodic,
        p["lead_time"],
        p["lead_time_sd"],
        moq=p["moq"],
        pack_size=p["pack_size"],
    )

    def replay(steps: int) -> object:
        return simulate_inventory(
            demand[:, warm:], replenish, warmup=demand[:, :warm], steps_per_period=steps, seed=1
        )

    t, _ = _timed(lambda: replay(1))
    rows.append(Row(f"replay, weekly steps ({warm + weeks} steps)", t))
    times = []
    for _ in range(args.repeat):
        t, result = _timed(lambda: replay(7))
        times.append(t)
    achieved = result.fill_rate
    planned = policy.expected_fill_rate
    gap = {
        label: float(np.mean(achieved[rows_] - planned[rows_]))
        for label, rows_ in (
            ("(s, Q)", ~periodic),
            ("(R, S)", periodic),
        )
    }
    rows.append(
        Row(
            f"replay, daily steps: {n:,} products x {weeks} weeks (+{warm} warm-up)",
            min(times),
            f"best of {args.repeat}: " + ", ".join(f"{x:.2f}" for x in times),
        )
    )
    rows.append(
        Row(
            "  achieved - expected fill rate, mean over products",
            0.0,
            ", ".join(f"{k} {v:+.4f}" for k, v in gap.items())
            + f"; achieved {np.mean(achieved):.4f}, expected {np.mean(planned):.4f}",
        )
    )
    return rows


SECTIONS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "formulas": bench_formulas,
    "simulation": bench_simulation,
}
BUDGETS = {"formulas": (BUDGET_SECONDS, -1), "simulation": (SIMULATION_BUDGET_SECONDS, -2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--section", choices=sorted(SECTIONS), action="append")
    parser.add_argument("--sim-products", type=int, default=100_000)
    parser.add_argument("--sim-weeks", type=int, default=52)
    args = parser.parse_args()
    print(
        f"policy benchmark: {args.products:,} products, python {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}"
    )
    failed = False
    for name in args.section or list(SECTIONS):
        print(f"\n[{name}]")
        rows = SECTIONS[name](args)
        width = max(len(r.stage) for r in rows)
        for r in rows:
            print(f"  {r.stage:<{width}}  {r.seconds:7.3f} s  {r.note}")
        budget, at = BUDGETS[name]
        total = rows[at].seconds
        verdict = "within" if total <= budget else "OVER"
        print(f"  -> {rows[at].stage}: {total:.3f} s, {verdict} the {budget:.1f} s budget")
        failed |= total > budget
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
