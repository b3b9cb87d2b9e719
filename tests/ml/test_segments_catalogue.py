"""Segment catalogue: models, exact overlap/coverage checks, rule assignment, the default file."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ml.attributes import attribute_names
from ml.catalogue import assign_by_rules
from ml.catalogue_checks import validate_catalogue
from ml.config import Catalogue
from ml.errors import StrataError
from ml.segment_rules import RULE_CLASSES

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "configs" / "segments.yaml"
NAMES = attribute_names()
POLICY = {
    "service_level": 0.95,
    "service_level_type": "csl",
    "review": "continuous",
    "order_quantity": {"rule": "lot_for_lot"},
}


def seg(name, priority, archetype, **policy):
    return {
        "name": name,
        "description": f"{name} for planners",
        "priority": priority,
        "archetype": archetype,
        "policy": {**POLICY, **policy},
    }


def catalogue(*segments) -> Catalogue:
    return Catalogue.model_validate({"segments": list(segments)})


def default_catalogue() -> Catalogue:
    return Catalogue.model_validate(yaml.safe_load(DEFAULT.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- the default file


def test_default_catalogue_validates_against_the_registry():
    assert validate_catalogue(default_catalogue(), NAMES) == []


def test_default_catalogue_has_6_to_9_segments_with_policies():
    cat = default_catalogue()
    assert 6 <= len(cat.segments) <= 9
    assert sum(s.is_catch_all for s in cat.segments) == 1
    assert any(s.policy.cost_based_service_level for s in cat.segments)
    assert {s.policy.service_level_type for s in cat.segments} == {"csl", "fill_rate"}
    assert {s.policy.order_quantity.rule for s in cat.segments} == {
        "eoq",
        "periods_of_supply",
        "lot_for_lot",
    }


def random_snapshot(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Attribute values over their whole plausible range, with some missing and edge values."""

    def pick(values, size):
        return rng.choice(np.asarray(values, dtype=float), size)

    frame = pd.DataFrame(
        {
            "sku_id": [f"S{i}" for i in range(n)],
            "periods_observed": pick([0, 1, 12, 13, 26, 52], n),
            "nonzero_periods": pick([0, 1, 2, 10, 40], n),
            "total_qty": pick([0, 1, 10, 1000], n),
            "revenue": rng.gamma(0.5, 1000, n),
            "margin_pct": pick([-0.2, 0.0, 0.3, 0.5, 0.8, np.nan], n),
            "age_periods": pick([0, 5, 12, 13, 100, np.nan], n),
            "cv": pick([0.0, 0.5, 0.7, 1.0, 3.0, np.nan], n),
            "adi": pick([1.0, 1.32, 1.5, 4.0, np.nan], n),
            "cv2": pick([0.0, 0.49, 0.6, 2.0, np.nan], n),
            "lead_time_cv": pick([0.0, 0.5, 2.0, np.nan], n),
            "on_time_rate": pick([0.0, 0.5, 1.0, np.nan], n),
            "supplier_fill_rate": pick([0.0, 0.9, 1.0, np.nan], n),
            "import_dependency": pick([0.0, 1.0, np.nan], n),
            "n_suppliers": pick([0, 1, 2, np.nan], n),
        }
    )
    return frame


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_default_catalogue_gives_every_product_exactly_one_segment(seed, n):
    cat = default_catalogue()
    frame = random_snapshot(np.random.default_rng(seed), n)
    got = assign_by_rules(frame, cat)
    assert len(got) == n and got.index.equals(frame.index)
    assert got["segment"].notna().all()
    assert set(got["segment"]) <= {s.name for s in cat.segments}
    # independent check: the winner's conditions hold and no segment ranked before it matches
    data = pd.concat([frame, got[list(RULE_CLASSES)]], axis=1)
    ranked = sorted(cat.segments, key=lambda s: s.priority)
    for i, row in data.iterrows():
        matching = [
            s.name for s in ranked if all(_holds(c, row[k]) for k, c in s.archetype.items())
        ]
        assert matching[0] == got.at[i, "segment"]


def _holds(cond, value) -> bool:
    if cond.classes is not None:
        return value in cond.classes
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return all(
        [
            cond.gt is None or value > cond.gt,
            cond.ge is None or value >= cond.ge,
            cond.lt is None or value < cond.lt,
            cond.le is None or value <= cond.le,
        ]
    )


def test_assign_explains_which_conditions_matched():
    cat = catalogue(
        seg("young", 1, {"age_periods": {"lt": 13}}),
        seg("core", 2, {"abc": ["A", "B"], "pattern": "smooth"}),
        seg("rest", 9, {}),
    )
    frame = pd.DataFrame({"sku_id": ["a", "b", "c"], "age_periods": [5.0, 40.0, 40.0]})
    classes = pd.DataFrame(
        {"abc": ["A", "A", "C"], "xyz": "X", "pattern": "smooth", "risk": "low"},
        index=frame.index,
    )
    got = assign_by_rules(frame, cat, classes)
    assert got["segment"].tolist() == ["young", "core", "rest"]
    assert got["matched_conditions"].tolist() == [
        "age_periods=5 (age_periods < 13)",
        "abc=A; pattern=smooth",
        "catch-all: no segment with a lower priority number matched",
    ]
    assert list(got.columns[:3]) == ["sku_id", "segment", "matched_conditions"]


def test_assign_refuses_products_that_match_no_segment():
    cat = catalogue(seg("a_only", 1, {"abc": "A"}))
    classes = pd.DataFrame({"abc": ["A", "C"]})
    with pytest.raises(
        StrataError, match=r"1 product\(s\) match no segment, e.g. \['y'\]; add a catch-all"
    ):
        assign_by_rules(pd.DataFrame({"sku_id": ["x", "y"]}), cat, classes)


def test_assign_names_a_missing_attribute_column():
    cat = catalogue(seg("x", 1, {"margin_pct": {"ge": 0.5}}), seg("rest", 2, {}))
    with pytest.raises(
        StrataError,
        match=r"lacks columns the catalogue's archetypes test: 'margin_pct' \(segment 'x'\)",
    ):
        assign_by_rules(pd.DataFrame({"a": [1]}), cat, pd.DataFrame({"abc": ["A"]}))


# ------------------------------------------------------------------------ validation messages


def test_unknown_attribute_is_named_with_its_segment_and_a_suggestion():
    cat = catalogue(seg("big", 1, {"revnue": {"gt": 1000}}), seg("rest", 2, {}))
    problems = validate_catalogue(cat, NAMES)
    assert problems[0] == (
        "segment 'big': archetype key 'revnue' is neither a rule class (abc, xyz, pattern, risk, "
        "age) nor a known attribute (`strata features list` prints them); did you mean 'revenue'?"
    )


def test_unknown_rule_class_is_named_with_the_allowed_classes():
    cat = catalogue(seg("s", 1, {"pattern": "smoth"}), seg("rest", 2, {}))
    assert validate_catalogue(cat, NAMES)[0] == (
        "segment 's': archetype key 'pattern' has unknown class 'smoth' (did you mean 'smooth'?); "
        "allowed: smooth, erratic, intermittent, lumpy, insufficient_history"
    )


def test_condition_of_the_wrong_form_is_reported():
    cat = catalogue(seg("s", 1, {"abc": {"gt": 1}, "cv": "X"}), seg("rest", 2, {}))
    problems = validate_catalogue(cat, NAMES)
    assert "segment 's': archetype key 'abc' is a rule class; give class name(s)" in problems[0]
    assert "segment 's': archetype key 'cv' is a numeric attribute; give an interval" in problems[1]
    assert problems[2] == (
        "segment 's' can match no product: its condition on abc, cv holds for no value; "
        "fix the key(s) named above"
    )


def test_overlap_at_equal_priority_names_both_segments_and_the_keys():
    cat = catalogue(
        seg("fast", 5, {"abc": "A", "pattern": ["smooth", "erratic"]}),
        seg("valuable", 5, {"abc": ["A", "B"], "xyz": "X"}),
        seg("rest", 9, {}),
    )
    assert validate_catalogue(cat, NAMES) == [
        "segments 'fast' and 'valuable' (both priority 5) overlap: both match products with "
        "abc = A and pattern in {smooth, erratic} and xyz = X (keys they share: abc); make the "
        "archetypes exclusive on one key or give them different priorities (the lower number wins)"
    ]


def test_overlap_on_an_interval_boundary_is_found_exactly():
    touching = catalogue(
        seg("young", 1, {"age_periods": {"le": 13}}),
        seg("old", 1, {"age_periods": {"ge": 13}}),
        seg("rest", 9, {}),
    )
    problems = validate_catalogue(touching, NAMES)
    assert len(problems) == 1
    assert (
        "segments 'young' and 'old' (both priority 1) overlap: both match products with age_periods = 13"
        in problems[0]
    )
    disjoint = catalogue(
        seg("young", 1, {"age_periods": {"lt": 13}}),
        seg("old", 1, {"age_periods": {"ge": 13}}),
        seg("rest", 9, {}),
    )
    assert validate_catalogue(disjoint, NAMES) == []


def test_overlap_shadowed_by_a_lower_priority_number_is_not_a_conflict():
    cat = catalogue(
        seg("a_items", 1, {"abc": "A"}),
        seg("smooth", 2, {"pattern": "smooth", "abc": ["A", "B"]}),
        seg("frequent", 2, {"pattern": ["smooth", "erratic"], "abc": ["A", "C"]}),
        seg("rest", 9, {}),
    )
    # smooth and frequent only meet on abc = A, which a_items takes first
    assert validate_catalogue(cat, NAMES) == []


def test_uncovered_region_is_described_and_a_catch_all_suggested():
    cat = catalogue(
        seg("young", 1, {"age_periods": {"lt": 13}}), seg("old", 1, {"age_periods": {"gt": 13}})
    )
    assert validate_catalogue(cat, NAMES) == [
        "no segment matches products with (age_periods = 13 or age_periods missing); add a "
        "catch-all segment (archetype: {}) with the largest priority number, or widen an archetype"
    ]


def test_rule_classes_need_every_label_covered_including_new():
    cat = catalogue(seg("ab", 1, {"abc": ["A", "B"]}), seg("c", 1, {"abc": "C"}))
    assert validate_catalogue(cat, NAMES) == [
        "no segment matches products with abc = new; add a catch-all segment (archetype: {}) "
        "with the largest priority number, or widen an archetype"
    ]


def test_label_combinations_the_rules_never_produce_need_no_segment():
    # abc new always comes with xyz new and pattern insufficient_history (RULE_IMPLICATIONS)
    cat = catalogue(
        seg("short", 1, {"pattern": "insufficient_history"}),
        seg("ab", 2, {"abc": ["A", "B"]}),
        seg("c", 2, {"abc": "C"}),
    )
    assert validate_catalogue(cat, NAMES) == []


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_rule_classes_obey_the_declared_implications(seed):
    from ml.segment_rules import RULE_IMPLICATIONS, rule_classes

    labels = rule_classes(random_snapshot(np.random.default_rng(seed), 40))
    for (key, label), implied in RULE_IMPLICATIONS.items():
        rows = labels[labels[key] == label]
        for k2, l2 in implied.items():
            assert (rows[k2] == l2).all()


def test_segment_that_can_never_win_is_reported():
    cat = catalogue(seg("all", 1, {}), seg("a_items", 2, {"abc": "A"}))
    assert validate_catalogue(cat, NAMES) == [
        "segment 'a_items' (priority 2) never applies: every product it matches is taken by a "
        "segment with a lower priority number or tied with one; give it a lower number or narrow "
        "the segments above it"
    ]


def test_driver_attribute_missing_from_the_registry_is_reported():
    cat = Catalogue.model_validate(
        {"drivers": {"xyz": {"attribute": "cv_raw"}}, "segments": [seg("all", 1, {})]}
    )
    assert validate_catalogue(cat, [n for n in NAMES if n != "cv_raw"]) == [
        "drivers.xyz.attribute is 'cv_raw', which is not a known attribute; choose one the "
        "feature snapshot has"
    ]


@pytest.mark.parametrize(
    ("archetype", "message"),
    [
        (
            {"age_periods": {"gt": 20, "lt": 13}},
            "segment 'x': archetype key 'age_periods': bounds in the wrong order: gt 20 and lt 13 leave no value",
        ),
        ({"age_periods": {"ge": 13, "lt": 13}}, "ge 13 and lt 13 leave no value"),
        ({"age_periods": {"gt": 1, "ge": 2}}, "give one lower bound, gt or ge, not both"),
        (
            {"age_periods": 13},
            "a bare number (13) is not a condition; write an interval such as {lt: 13}",
        ),
        ({"age_periods": {}}, "an interval needs at least one bound"),
        ({"age_periods": {"lte": 3}}, "Extra inputs are not permitted"),
    ],
)
def test_bad_interval_is_rejected_with_segment_and_key(archetype, message):
    with pytest.raises(ValidationError) as err:
        catalogue(seg("x", 1, archetype))
    assert message in str(err.value)


def test_point_interval_is_allowed():
    cat = catalogue(seg("x", 1, {"age_periods": {"ge": 13, "le": 13}}), seg("rest", 2, {}))
    assert validate_catalogue(cat, NAMES) == []


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"review": "periodic"}, "review periodic needs review_period_days"),
        ({"review_period_days": 7}, "review continuous takes no review_period_days (got 7)"),
        ({"order_quantity": {"rule": "eoq"}}, "rule eoq needs holding_rate, ordering_cost"),
        (
            {"order_quantity": {"rule": "lot_for_lot", "periods": 2}},
            "rule lot_for_lot does not use periods",
        ),
        ({"service_level": 1.0}, "Input should be less than 1"),
        ({"service_level_type": "alpha"}, "Input should be 'csl' or 'fill_rate'"),
        ({"lead_time_demand": "gamma"}, "'normal', 'poisson_gamma' or 'bootstrap'"),
    ],
)
def test_bad_policy_is_rejected(policy, message):
    with pytest.raises(ValidationError) as err:
        catalogue(seg("x", 1, {}, **policy))
    assert message in str(err.value)


def test_duplicate_segment_names_are_rejected():
    with pytest.raises(ValidationError, match="segment names must be unique; repeated: x"):
        catalogue(seg("x", 1, {"abc": "A"}), seg("x", 2, {}))


def test_catalogue_segment_lookup_names_the_choices():
    with pytest.raises(StrataError, match="segment 'nope' is not in the catalogue; segments: x"):
        catalogue(seg("x", 1, {})).segment("nope")


# ------------------------------------------- the interval reasoning agrees with brute force


GRID_AGE = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, float("nan")]
bounds = st.sampled_from([0.0, 1.0, 2.0])
interval = st.one_of(
    st.fixed_dictionaries({"lt": bounds}),
    st.fixed_dictionaries({"ge": bounds}),
    st.fixed_dictionaries({"gt": st.just(0.0), "le": st.sampled_from([1.0, 2.0])}),
    st.fixed_dictionaries({"ge": st.just(1.0), "le": st.sampled_from([1.0, 2.0])}),
)
archetypes = st.fixed_dictionaries(
    {},
    optional={
        "abc": st.lists(st.sampled_from(RULE_CLASSES["abc"]), min_size=1, max_size=3, unique=True),
        "age_periods": interval,
        "pattern": st.lists(
            st.sampled_from(RULE_CLASSES["pattern"]), min_size=1, max_size=3, unique=True
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(archetypes, st.integers(1, 3)), min_size=1, max_size=4))
def test_overlap_and_coverage_match_brute_force_on_every_grid_point(specs):
    cat = catalogue(*[seg(f"s{i}", p, a) for i, (a, p) in enumerate(specs)])
    problems = validate_catalogue(cat, NAMES)
    uncovered = overlap = False
    grid = itertools.product(RULE_CLASSES["abc"], RULE_CLASSES["pattern"], GRID_AGE)
    for label, pattern, age in grid:
        if label == "new" and pattern != "insufficient_history":
            continue  # rule_classes never produces it
        row = {"abc": label, "pattern": pattern, "age_periods": age}
        matching = [
            s for s in cat.segments if all(_holds(c, row[k]) for k, c in s.archetype.items())
        ]
        if not matching:
            uncovered = True
            continue
        best = min(s.priority for s in matching)
        overlap |= sum(s.priority == best for s in matching) > 1
    assert uncovered == any(p.startswith("no segment matches") for p in problems)
    assert overlap == any(" overlap: " in p for p in problems)
