"""The rolling backtest: origins and windows, point in time, strategies, errors, JSON, CLI."""

import itertools
import json
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from policy_ws import POLICY_CONFIG, make_workspace, week
from typer.testing import CliRunner

from ml import columns as C
from ml.config.files import load_catalogue, load_policy_config
from ml.errors import StrataError
from ml.policy.service_calibration import pooled_shortage_ratios
from planning.backtest import (
    STRATEGIES,
    backtest,
    backtest_models,
    backtest_windows,
    calibration_window,
    learning_window,
    origin_windows,
    rule_segmenter,
)
from planning.backtest_chart import write_backtest_chart
from planning.optimise import segment_bounds
from strata.cli import app

WEEKS = 80
NEWEST = week(75) + timedelta(days=6)  # Sunday: week 75 is the last complete one
# 4 origins, 4 weeks apart, 4 measured weeks each: windows start at weeks 60, 64, 68, 72
ORIGIN_WEEKS = [60, 64, 68, 72]
# a tiny catalogue (one to three products per segment): every window may teach its ratios
BACKTEST_POLICY = {
    **POLICY_CONFIG,
    "backtest": {"origins": 4, "spacing_periods": 4, "periods": 4, "calibration_min_products": 1},
}


def _demand(jump: bool) -> dict[str, np.ndarray]:
    i = np.arange(WEEKS)
    rng = np.random.default_rng(3)
    out = {
        "STEADY": np.full(WEEKS, 20.0),
        "RARE": np.where(i % 5 == 0, 8.0, 0.0),
        "NOISY": np.maximum(rng.normal(30.0, 8.0, WEEKS).round(), 0.0),
    }
    # 10 a week, and from week 68 on (the third origin) 200 a week when `jump`
    out["JUMP"] = np.where(jump & (i >= 68), 200.0, 10.0)
    return out


CALIBRATION_WEEK = 56  # the catalogue-only window one spacing before the first origin


def _workspace(root, jump: bool):
    weeks = [CALIBRATION_WEEK, *ORIGIN_WEEKS]
    as_ofs = [week(w) - timedelta(days=1) for w in weeks] + [NEWEST]
    return make_workspace(root, _demand(jump), as_ofs, policy_config=BACKTEST_POLICY)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two workspaces alike up to week 67; in the second JUMP sells 20x from week 68 on."""
    base = tmp_path_factory.mktemp("bt")
    return _workspace(base / "flat", False), _workspace(base / "jump", True)


def _run(t):
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)
    return backtest(t.ws, segmenter=rule_segmenter(t.ws, cat), catalogue=cat, config=cfg)


@pytest.fixture(scope="module")
def results(pair):
    return _run(pair[0]), _run(pair[1])


def test_origins_are_spaced_back_from_the_newest_complete_period():
    windows = origin_windows("week", NEWEST, week(0), origins=4, spacing=4, periods=4, warmup=4)
    assert [w.first for w in windows] == [week(w) for w in ORIGIN_WEEKS]
    assert [w.policy_as_of for w in windows] == [week(w) - timedelta(days=1) for w in ORIGIN_WEEKS]
    assert windows[-1].last == week(75)  # the newest window ends at the last complete week
    assert all(w.periods == 4 and w.warmup == 4 for w in windows)
    # monthly: 13 months back from August 2015 in steps of 3
    m = origin_windows(
        "month", date(2015, 9, 14), date(2012, 1, 1), origins=2, spacing=3, periods=6, warmup=3
    )
    assert [w.first for w in m] == [date(2014, 12, 1), date(2015, 3, 1)]


def test_windows_come_from_the_workspace_config(pair):
    t = pair[0]
    windows = backtest_windows(t.ws, load_policy_config(t.ws, t.policy))
    assert [w.first for w in windows] == [week(w) for w in ORIGIN_WEEKS]


def test_too_little_history_names_the_origin_the_periods_and_the_fix():
    with pytest.raises(StrataError) as err:
        origin_windows("week", NEWEST, week(0), origins=20, spacing=4, periods=4, warmup=4)
    text = str(err.value)
    # origin 19 starts at week 0: no history before it for the 4-week warm-up
    assert "backtest origin 2024-01-01" in text
    assert "needs 4 weeks of demand history before it" in text
    assert "0 weeks available" in text
    assert "backtest.origins: 20" in text and "configs/policy.yaml" in text


def test_every_strategy_is_replayed_at_every_origin(results):
    flat, _ = results
    assert [o.window.first for o in flat.origins] == [week(w) for w in ORIGIN_WEEKS]
    for o in flat.origins:
        assert list(o.strategies["strategy"]) == list(STRATEGIES)
        assert o.products == 4
        # every strategy replays the same products in the same order
        orders = {n: tuple(p[C.SKU_ID]) for n, p in o.policies.items()}
        assert len(set(orders.values())) == 1
    avg = flat.average.set_index("strategy")
    assert set(avg.index) == set(STRATEGIES)
    assert ((avg[C.FILL_RATE] >= 0) & (avg[C.FILL_RATE] <= 1)).all()


def test_classic_abc_plans_98_95_90_by_abc_class(results):
    o = results[0].origins[0]
    abc = o.policies["classic abc"].set_index(C.SKU_ID)[C.TARGET_SERVICE_LEVEL]
    assert set(abc.round(4)) <= {0.98, 0.95, 0.90}
    assert (o.policies["classic abc"][C.SERVICE_LEVEL_TYPE] == "csl").all()


def test_per_product_optimum_sets_r_to_mean_ltd_plus_k_sigma_for_normal_products(results):
    o = results[0].origins[0]
    pp = o.policies["per-product optimum"]
    normal = pp[pp[C.LTD_METHOD] == "normal"]
    assert len(normal)  # STEADY, NOISY and JUMP sell every week: segment fast, normal
    ss = normal[C.REORDER_POINT] - normal[C.LEAD_TIME_DEMAND_MEAN]
    assert np.allclose(ss, normal[C.SAFETY_STOCK])
    same = pp[pp[C.LTD_METHOD] != "normal"].set_index(C.SKU_ID)[C.REORDER_POINT]
    cat = o.policies["catalogue"].set_index(C.SKU_ID)[C.REORDER_POINT]
    assert np.allclose(same, cat.loc[same.index])  # the others keep the catalogue's policy


def test_a_demand_jump_after_an_origin_does_not_change_its_policies(results):
    flat, jump = results
    for o_flat, o_jump in zip(flat.origins, jump.origins, strict=True):
        if o_flat.window.first > week(68):
            continue  # the jump is in this origin's history: its policies may (must) differ
        for name in STRATEGIES:
            a = o_flat.policies[name].set_index(C.SKU_ID)
            b = o_jump.policies[name].set_index(C.SKU_ID)
            cols = [C.REORDER_POINT, C.ORDER_QTY, C.EXPECTED_FILL_RATE, C.DEMAND_MEAN]
            assert np.allclose(a[cols], b[cols]), (o_flat.window.first, name)
    # ... while the replay at the jump's origin does see it
    at = {o.window.first: o for o in jump.origins}[week(68)]
    out = at.strategies.set_index("strategy")
    flat_at = {o.window.first: o for o in flat.origins}[week(68)].strategies.set_index("strategy")
    assert out.loc["catalogue", C.FILL_RATE] < flat_at.loc["catalogue", C.FILL_RATE]
    last = {o.window.first: o for o in jump.origins}[week(72)].policies["catalogue"]
    assert last.set_index(C.SKU_ID).loc["JUMP", C.DEMAND_MEAN] > 10.0  # learnt after the jump


def test_savings_are_read_off_the_uniform_sweeps(results):
    o = results[0].origins[-1]
    s = o.strategies.set_index("strategy")
    for name in STRATEGIES:
        row = s.loc[name]
        if row["best_uniform"] is None:
            continue
        assert row["saving"] == pytest.approx(
            1 - row[C.AVG_INVENTORY_VALUE] / row["uniform_inventory"]
        )
        curve = o.sweeps[o.sweeps["kind"] == row["best_uniform"]].sort_values(C.FILL_RATE)
        assert curve[C.FILL_RATE].min() <= row[C.FILL_RATE] <= curve[C.FILL_RATE].max()


def test_the_stacked_replay_gives_each_set_the_figures_of_replaying_it_alone(pair):
    """One simulation for every strategy and sweep set (duplicate policies replayed once) =
    the straightforward path: each set replayed by itself, with the same seed."""
    from pandas.testing import assert_frame_equal

    from planning.backtest import origin_strategies
    from planning.replay import common_products, pit_features, replayer

    t = pair[0]
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)
    window = backtest_windows(t.ws, cfg)[0]
    day = window.policy_as_of
    features = pit_features(t.ws, day)
    segments, source = rule_segmenter(t.ws, cat)(features, day)
    made = origin_strategies(t.ws, features, segments, cat, cfg, day, source)
    frames, _ = common_products(made.every)
    play = replayer(t.ws, window, cfg, frames[0])
    labels = [f"set {i}" for i in range(len(frames))]
    stacked = play.stacked(frames, labels, [None] * len(frames))
    assert len(stacked) == len(frames) > len(STRATEGIES)  # the strategies and both sweeps
    for frame, label, together in zip(frames, labels, stacked, strict=True):
        alone = play(frame, label, None)
        assert_frame_equal(together.outcomes, alone.outcomes)
        assert_frame_equal(together.by_segment, alone.by_segment)


def test_the_catalogue_alone_replays_as_in_the_full_backtest(pair, results):
    t = pair[0]
    cat, cfg = load_catalogue(t.ws, t.catalogue), load_policy_config(t.ws, t.policy)
    seg = rule_segmenter(t.ws, cat)
    alone = backtest(t.ws, segmenter=seg, catalogue=cat, config=cfg, strategies=("catalogue",))
    assert [list(o.strategies["strategy"]) for o in alone.origins] == [["catalogue"]] * 4
    full = results[0].average.set_index("strategy").loc["catalogue"]
    mine = alone.average.set_index("strategy").loc["catalogue"]
    for figure in (C.FILL_RATE, C.AVG_INVENTORY_VALUE, C.ORDERS):
        assert mine[figure] == pytest.approx(full[figure])
    # no uniform sweep was built, so no saving is measured
    assert alone.saving("catalogue") is None and alone.saving("service classes") is None
    with pytest.raises(StrataError, match="'catalog' are not known; pick from uniform csl"):
        backtest(t.ws, segmenter=seg, catalogue=cat, config=cfg, strategies=("catalog",))


def test_models_backtested_side_by_side_share_products_and_random_numbers(pair, results):
    t = pair[0]
    cat, cfg = load_catalogue(t.ws, t.catalogue), load_policy_config(t.ws, t.policy)
    rules = rule_segmenter(t.ws, cat)

    def all_slow(features, day):
        segments, source = rules(features, day)
        return segments.assign(segment="slow"), source

    side = backtest_models(
        t.ws,
        segmenters={"rules": rules, "again": rules, "slow": all_slow},
        catalogue=cat,
        config=cfg,
        strategies=("catalogue",),
    )
    a, again, slow = (side[k].average.set_index("strategy").loc["catalogue"] for k in side)
    full = results[0].average.set_index("strategy").loc["catalogue"]
    assert a[C.FILL_RATE] == again[C.FILL_RATE] == pytest.approx(full[C.FILL_RATE])
    assert a[C.AVG_INVENTORY_VALUE] == pytest.approx(full[C.AVG_INVENTORY_VALUE])
    assert slow[C.AVG_INVENTORY_VALUE] != a[C.AVG_INVENTORY_VALUE]  # another segmentation
    for origin in range(4):
        played = [side[k].origins[origin].policies["catalogue"][C.SKU_ID].tolist() for k in side]
        assert played[0] == played[1] == played[2]


def test_json_has_the_headline_keys_and_every_origin(results, pair):
    d = results[0].as_dict()
    assert {"calibration_gap_max", "saving_vs_best_uniform", "per_item_limit_saving"} <= set(d)
    assert d["saving_vs_best_uniform"] == results[0].saving("replay-tuned classes")
    assert d["measured_per_item_limit_saving"] == results[0].saving("replay-tuned products")
    limit = d["per_item_limit_saving"]
    if limit is not None and limit > 0:
        assert d["captured_share_of_limit"] == pytest.approx(d["saving_vs_best_uniform"] / limit)
    else:
        assert d["captured_share_of_limit"] is None
    assert len(d["origins"]) == 4
    assert d["origins"][0]["origin"] == week(60).isoformat()
    json.dumps(d)  # serialisable as it is
    # no segment reaches 30 products in the tiny workspace: nothing to judge calibration on
    assert d["calibration_gap_max"] is None
    path = write_backtest_chart(pair[0].ws, results[0])
    assert path.is_file() and path.suffix == ".png"


def test_cli_backtest_prints_json(pair):
    t = pair[0]
    r = CliRunner().invoke(
        app,
        [
            "simulate",
            "--backtest",
            "--rules",
            "--format",
            "json",
            "--config",
            str(t.config),
            "--catalogue",
            str(t.catalogue),
            "--policy-config",
            str(t.policy),
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert {"calibration_gap_max", "saving_vs_best_uniform", "per_item_limit_saving"} <= set(d)
    assert [o["policies_as_of"] for o in d["origins"]] == [
        (week(w) - timedelta(days=1)).isoformat() for w in ORIGIN_WEEKS
    ]


def test_the_model_segmenter_scores_the_as_of_snapshot_with_the_judged_version(serving_ws):
    from registered_ws import AS_OF, planted_catalogue

    from features.snapshots import load_features
    from planning.backtest import model_segmenter
    from serving.predict import input_spec, load_pyfunc, model_inputs, predict_pandas
    from training.tracking import use_workspace_store

    ws, _ref = serving_ws
    use_workspace_store(ws)  # this workspace's registry, whatever an earlier test pointed at
    v2 = load_pyfunc("models:/strata-segmenter/2")
    frame = load_features(AS_OF, workspace=ws)
    segments, source = model_segmenter(ws, planted_catalogue(), v2, "2")(frame, AS_OF)
    # the same segments the pyfunc gives on that snapshot, computed here by its own API
    direct = predict_pandas(v2, model_inputs(frame, input_spec(v2)), {"explain": False})
    got = segments.set_index(C.SKU_ID).loc[direct[C.SKU_ID].astype("str"), C.SEGMENT]
    assert (got.to_numpy() == direct[C.SEGMENT].astype("str").to_numpy()).all()
    assert (segments[C.SEGMENT_MODEL_VERSION] == "2").all() and len(segments) == len(frame)
    assert source.method == "model" and source.as_of == AS_OF and "v2" in source.detail


def test_each_origin_is_calibrated_by_the_window_before_it_alone(results, pair):
    t = pair[0]
    flat, _ = results
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)
    windows = backtest_windows(t.ws, cfg)
    before = calibration_window(t.ws, cfg, windows)
    assert before is not None and before.first == week(CALIBRATION_WEEK)
    assert shift_end(before) == windows[0].first  # it ends where the first origin starts
    first = learning_window(
        t.ws, before, segmenter=rule_segmenter(t.ws, cat), catalogue=cat, config=cfg
    ).calibration
    # origin 1 plans with the calibration window's ratios, origin k with origin k-1's raw table
    tables = [first] + [o.calibration.rename(columns={"raw_gap": "gap"}) for o in flat.origins[:-1]]
    for o, prior in zip(flat.origins, tables, strict=True):
        want = pooled_shortage_ratios(
            [prior], cfg.backtest.calibration_min_products, cfg.backtest.calibration_credibility
        )
        got = o.calibration.set_index("segment")["shortage_ratio"]
        for seg, ratio in got.items():
            if seg in want:
                assert ratio == pytest.approx(want[seg])
            else:
                assert np.isnan(ratio)  # no planned shortage before: the plan stays the formula's
        cal = o.calibration
        expect = np.clip(1 - cal["shortage_ratio"] * (1 - cal["planned_fill_rate"]), 0, 1)
        expect = expect.where(cal["shortage_ratio"].notna(), cal["planned_fill_rate"])
        assert np.allclose(cal["calibrated_planned_fill_rate"], expect)
        assert np.allclose(cal["gap"], cal[C.FILL_RATE] - cal["calibrated_planned_fill_rate"])
        assert np.allclose(cal["raw_gap"], cal[C.FILL_RATE] - cal["planned_fill_rate"])


def test_a_demand_jump_does_not_reach_the_calibration_of_earlier_origins(results):
    flat, jump = results
    for o_flat, o_jump in zip(flat.origins, jump.origins, strict=True):
        if o_flat.window.first > week(68):
            continue  # its calibration window (from week 68) saw the jump
        a = o_flat.calibration.set_index("segment")["shortage_ratio"]
        b = o_jump.calibration.set_index("segment")["shortage_ratio"]
        assert np.allclose(a, b.loc[a.index], equal_nan=True), o_flat.window.first


def test_calibration_can_be_switched_off(pair):
    t = pair[0]
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)
    off = cfg.model_copy(update={"backtest": cfg.backtest.model_copy(update={"calibrate": False})})
    assert calibration_window(t.ws, off, backtest_windows(t.ws, off)) is None
    windows = backtest_windows(t.ws, off)[:1]
    got = backtest(
        t.ws, segmenter=rule_segmenter(t.ws, cat), catalogue=cat, config=off, windows=windows
    )
    cal = got.origins[0].calibration
    assert cal["shortage_ratio"].isna().all()
    assert np.allclose(cal["gap"], cal["raw_gap"])


def shift_end(window):
    from ml.periods import shift_period

    return shift_period(window.last, 1, window.bucket)


def test_tuned_segment_targets_come_from_the_previous_windows_replay(results):
    from planning.backtest import TUNED
    from planning.backtest_tuning import tuned_levels

    flat, _ = results
    for prev, o in zip(flat.origins[:-1], flat.origins[1:], strict=True):
        fill = prev.strategies.set_index("strategy").loc["catalogue", C.FILL_RATE]
        want = tuned_levels(prev.curves, fill)
        got = o.policies[TUNED].groupby(C.SEGMENT)[C.TARGET_SERVICE_LEVEL].unique()
        default = o.policies["uniform csl"][C.TARGET_SERVICE_LEVEL].iloc[0]  # the uniform level
        for seg, levels in got.items():
            assert list(levels) == [pytest.approx(want.get(seg, default))], seg
        assert (o.policies[TUNED][C.SERVICE_LEVEL_TYPE] == "csl").all()


def test_tuned_class_targets_come_from_the_previous_windows_replay_by_its_bands(results):
    from planning.backtest import TUNED_CLASSES
    from planning.backtest_tuning import service_class, tuned_levels

    flat, _ = results
    for prev, o in zip(flat.origins[:-1], flat.origins[1:], strict=True):
        assert prev.edges and not prev.class_curves.empty
        fill = prev.strategies.set_index("strategy").loc["catalogue", C.FILL_RATE]
        want = tuned_levels(prev.class_curves, fill, monotone=True)
        pol = o.policies[TUNED_CLASSES]
        default = o.policies["uniform csl"][C.TARGET_SERVICE_LEVEL].iloc[0]
        expect = pd.Series(service_class(pol, prev.edges)).map(want).fillna(default)
        assert np.allclose(pol[C.TARGET_SERVICE_LEVEL], expect)
        assert (pol[C.SERVICE_LEVEL_TYPE] == "csl").all()
        # the classes' curves add up to the segments' (the same replay, cut finer)
        seg = prev.class_curves[C.SEGMENT].str.split("#").str[0]
        summed = prev.class_curves.groupby([seg, "level"])[C.AVG_INVENTORY_VALUE].sum()
        by_seg = prev.curves.set_index([C.SEGMENT, "level"])[C.AVG_INVENTORY_VALUE]
        assert np.allclose(summed.loc[by_seg.index], by_seg)


def test_tuned_product_targets_come_from_each_products_own_previous_replay(results):
    from planning.backtest import TUNED_PRODUCTS
    from planning.backtest_tuning import tuned_levels

    flat, _ = results
    for prev, o in zip(flat.origins[:-1], flat.origins[1:], strict=True):
        fill = prev.strategies.set_index("strategy").loc["catalogue", C.FILL_RATE]
        want = tuned_levels(prev.product_curves, fill)
        assert len(want) == prev.products  # one level for each product replayed there
        pol = o.policies[TUNED_PRODUCTS]
        default = o.policies["uniform csl"][C.TARGET_SERVICE_LEVEL].iloc[0]
        expect = pol[C.SKU_ID].astype("str").map(want).fillna(default)
        assert np.allclose(pol[C.TARGET_SERVICE_LEVEL], expect)
        summed = prev.product_curves.groupby("level")[C.SALES_UNITS].sum()
        by_seg = prev.curves.groupby("level")[C.SALES_UNITS].sum()
        assert np.allclose(summed.loc[by_seg.index], by_seg)


def test_the_backtest_leaves_the_newest_windows_ratios_for_the_policy_stage(results, pair):
    from planning.service_calibration_file import read_calibration, write_calibration

    t = pair[0]
    flat, _ = results
    cfg = load_policy_config(t.ws, t.policy)
    write_calibration(t.ws, flat, cfg)
    got = read_calibration(t.ws)
    newest = flat.origins[-1]
    assert got.ratios == pooled_shortage_ratios(
        [newest.calibration],
        cfg.backtest.calibration_min_products,
        cfg.backtest.calibration_credibility,
    )
    assert got.windows == [newest.window.first.isoformat()]


def test_each_segments_average_gap_carries_its_standard_error_over_origins(results):
    """Gaps of +0.10, -0.10, +0.20 and 0.00 at four origins: mean 0.05, sample sd 0.1291,
    standard error 0.1291 / 2 = 0.0645 (the textbook s / sqrt(n))."""
    flat, _ = results
    planted = [0.10, -0.10, 0.20, 0.00]
    origins = []
    for o, gap in zip(flat.origins, planted, strict=True):
        cal = o.calibration.iloc[:1].copy()
        cal["gap"] = gap
        origins.append(replace(o, calibration=cal))
    row = replace(flat, origins=origins).calibration.iloc[0]
    assert row["origins"] == 4
    assert row["gap"] == pytest.approx(0.05)
    assert row["gap_se"] == pytest.approx(np.std(planted, ddof=1) / 2)
    assert row["gap_se"] == pytest.approx(0.0645497, rel=1e-6)
    one = replace(flat, origins=origins[:1]).calibration.iloc[0]
    assert np.isnan(one["gap_se"])  # one origin: no spread to measure


def test_a_window_with_too_few_of_a_segments_products_leaves_its_plan_uncalibrated(pair):
    """The default minimum (10 products) is more than the tiny catalogue's segments hold: no
    window teaches a segment its own ratio. Without credibility every origin plans with the
    formulas; with it every segment plans with the previous window's pooled ratio (Z = 0)."""
    t = pair[0]
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)

    def run(credibility: float):
        change = {"calibration_min_products": 10, "calibration_credibility": credibility}
        strict = cfg.model_copy(update={"backtest": cfg.backtest.model_copy(update=change)})
        return backtest(t.ws, segmenter=rule_segmenter(t.ws, cat), catalogue=cat, config=strict)

    for o in run(0.0).origins:
        assert o.calibration["shortage_ratio"].isna().all()
        assert np.allclose(
            o.calibration["calibrated_planned_fill_rate"], o.calibration["planned_fill_rate"]
        )
    pooled = run(30.0).origins
    checked = 0
    for before, o in itertools.pairwise(pooled):
        prior = before.calibration.dropna(subset=["planned_fill_rate", C.FILL_RATE])
        n = prior["products"].to_numpy(float)
        short = float((n * (1 - prior[C.FILL_RATE])).sum())
        planned = float((n * (1 - prior["planned_fill_rate"])).sum())
        if planned > 0:
            assert np.allclose(o.calibration["shortage_ratio"], short / planned)
            checked += 1
    assert checked >= 2


def test_the_newest_windows_tuned_classes_are_a_catalogue_that_builds_their_levels(results, pair):
    from planning.backtest_tuning import service_class, tuned_levels
    from planning.policy_job import compute_policies
    from planning.proposal_file import write_tuned_proposal
    from planning.replay import pit_features
    from planning.tuned_proposal import tuned_proposal

    t, flat = pair[0], results[0]
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)
    proposal = tuned_proposal(flat, cat, cfg)
    newest = flat.origins[-1]
    fill = newest.strategies.set_index("strategy").loc["catalogue", C.FILL_RATE]
    bounds = segment_bounds(cat, cfg)
    assert proposal.levels == tuned_levels(newest.class_curves, fill, True, bounds)
    assert proposal.window == newest.window and proposal.target_fill_rate == fill
    path = write_tuned_proposal(t.ws, proposal)
    adopted = load_catalogue(t.ws, path)  # a whole catalogue file that loads as it is
    assert json.loads(path.with_suffix(".json").read_text())["levels"] == proposal.levels
    day = newest.window.policy_as_of
    features = pit_features(t.ws, day)
    segments, _ = rule_segmenter(t.ws, adopted)(features, day)
    pol = compute_policies(t.ws, features, segments, adopted, cfg.build, day).policies
    known = pol[C.LEAD_TIME_DEMAND_SD].to_numpy() > 0
    classes = pd.Series(service_class(pol, newest.edges))
    want = classes.map(proposal.levels)
    learned = known & want.notna().to_numpy()
    assert learned.sum() > 0
    assert np.allclose(pol.loc[learned, C.TARGET_SERVICE_LEVEL], want[learned])
    assert (pol.loc[learned, C.SERVICE_LEVEL_TYPE] == "csl").all()


def test_a_segments_service_floor_bounds_its_tuned_classes(results, pair):
    """A floor of 0.97 on one segment: every class of it in the proposal tuned at 0.97 or above
    (without the floor the same window tunes one of them lower)."""
    from planning.tuned_proposal import tuned_proposal

    t, flat = pair[0], results[0]
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)
    newest = flat.origins[-1]
    name = str(newest.class_curves[C.SEGMENT].iloc[0]).rsplit("#", 1)[0]
    floored = cat.model_copy(
        update={
            "segments": [
                s.model_copy(
                    update={"policy": s.policy.model_copy(update={"service_level_floor": 0.97})}
                )
                if s.name == name
                else s
                for s in cat.segments
            ]
        }
    )
    levels = tuned_proposal(flat, floored, cfg).levels
    mine = [lv for cls, lv in levels.items() if cls.rsplit("#", 1)[0] == name]
    assert mine and min(mine) >= 0.97
    free = tuned_proposal(flat, cat, cfg).levels
    assert min(lv for cls, lv in free.items() if cls.rsplit("#", 1)[0] == name) < 0.97


def test_no_proposal_without_the_uniform_sweep(pair):
    from planning.tuned_proposal import tuned_proposal

    t = pair[0]
    cat = load_catalogue(t.ws, t.catalogue)
    cfg = load_policy_config(t.ws, t.policy)
    windows = backtest_windows(t.ws, cfg)[:1]
    alone = backtest(
        t.ws,
        segmenter=rule_segmenter(t.ws, cat),
        catalogue=cat,
        config=cfg,
        windows=windows,
        strategies=("catalogue",),
    )
    assert tuned_proposal(alone, cat, cfg) is None
