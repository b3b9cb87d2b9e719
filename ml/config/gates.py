"""The config model of configs/gates.yaml: gates per target alias, and the metrics they may judge.

A gate either bounds a metric of the candidate (``min`` and/or ``max``) or compares it with the
current champion's value of the same metric on the same snapshot (``against: champion`` with an
allowed regression). ``ml.gates.evaluate_gates`` judges them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from ml.config.base import Frozen
from ml.drift import DRIFT_PREFIX
from ml.errors import StrataError

__all__ = ["METRICS", "TARGETS", "Gate", "GatesConfig", "MetricSpec", "PolicyBacktest"]

TARGETS = ("staging", "champion")


@dataclass(frozen=True)
class MetricSpec:
    """A metric a gate may judge: its meaning and which direction is better."""

    name: str
    greater_is_better: bool
    meaning: str


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec(
            "cv_macro_f1", True, "cross-validated macro-F1 of the assigner against the labels"
        ),
        MetricSpec("holdout_macro_f1", True, "macro-F1 of the assigner on the held-out products"),
        MetricSpec(
            "segment_change_share",
            False,
            "share of products whose segment would change against the champion's current "
            "assignments",
        ),
        MetricSpec("min_segment_share", True, "share of products in the smallest segment"),
        MetricSpec(
            "ece",
            False,
            "expected calibration error (top label, 15 bins; Guo et al. 2017) of the "
            "assigner's calibrated probabilities on held-out folds",
        ),
        MetricSpec(
            "noise_share", False, "share of products HDBSCAN calls noise (clusters labeller)"
        ),
        MetricSpec(
            f"{DRIFT_PREFIX}*",
            False,
            "PSI of each attribute, training snapshot against the newest one",
        ),
        MetricSpec("max_psi", False, "largest PSI over the attributes"),
        MetricSpec(
            "shap_additivity_error",
            False,
            "largest |base value + sum of SHAP values - raw model score| over products",
        ),
        MetricSpec(
            "policy_inventory_value",
            False,
            "average inventory value of the catalogue's policies on the model's own as-of "
            "segments, replayed from each backtest origin and averaged (reporting currency)",
        ),
        MetricSpec(
            "policy_fill_rate",
            True,
            "achieved fill rate of the catalogue's policies on the model's own as-of segments, "
            "replayed from each backtest origin and averaged",
        ),
    )
}


def _metric_spec(metric: str) -> MetricSpec:
    if metric in METRICS:
        return METRICS[metric]
    if metric.startswith(DRIFT_PREFIX):
        return METRICS[f"{DRIFT_PREFIX}*"]
    raise KeyError(metric)


class Gate(Frozen):
    """One check of a candidate model before it gets a target alias."""

    name: str = Field(min_length=1)
    metric: str = Field(
        description="a metric from ml.gates.METRICS; psi.* checks every attribute's PSI, "
        "psi.<attribute> one attribute"
    )
    description: str = ""
    min: float | None = Field(None, description="the candidate's value must be >= min")
    max: float | None = Field(None, description="the candidate's value must be <= max")
    against: Literal["champion"] | None = Field(
        None, description="compare with the champion's value of the same metric"
    )
    tolerance: float | None = Field(
        None, ge=0, description="allowed regression against the champion, in metric units"
    )
    relative_tolerance: float | None = Field(
        None,
        ge=0,
        le=1,
        description="allowed regression against the champion, as a share of |champion value|",
    )
    requires_champion: bool = Field(
        False,
        description="n/a while there is no champion (set automatically for against: champion)",
    )
    when_missing: Literal["pass", "fail", "na"] = Field(
        "fail",
        description="verdict when the metric was not measured: fail (default), pass, or na "
        "(reported n/a, does not block)",
    )

    @model_validator(mode="after")
    def _shape(self) -> Gate:
        try:
            _metric_spec(self.metric)
        except KeyError:
            close = difflib.get_close_matches(self.metric, list(METRICS), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ValueError(
                f"gate '{self.name}': metric '{self.metric}' is not known; {hint}"
                f"known metrics: {', '.join(METRICS)}"
            ) from None
        bounded = self.min is not None or self.max is not None
        if self.against is None:
            if self.tolerance is not None or self.relative_tolerance is not None:
                raise ValueError(
                    f"gate '{self.name}': tolerance and relative_tolerance apply only to a "
                    f"comparison; add 'against: champion' or remove them"
                )
            if not bounded:
                raise ValueError(
                    f"gate '{self.name}': give min and/or max, or 'against: champion' with a "
                    f"tolerance"
                )
        else:
            if bounded:
                raise ValueError(
                    f"gate '{self.name}': a gate either bounds the metric (min/max) or compares "
                    f"it with the champion, not both; split it into two gates"
                )
            if any(ch in self.metric for ch in "*?["):
                raise ValueError(
                    f"gate '{self.name}': a comparison with the champion takes one metric, not "
                    f"the pattern '{self.metric}'; bound the pattern with max instead"
                )
            if (self.tolerance is None) == (self.relative_tolerance is None):
                raise ValueError(
                    f"gate '{self.name}': against: champion needs exactly one of tolerance "
                    f"(absolute, e.g. 0.02) or relative_tolerance (share, e.g. 0.05); use "
                    f"tolerance: 0 to forbid any regression"
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"gate '{self.name}': min {self.min:g} is above max {self.max:g}; "
                f"no value could pass — swap them"
            )
        return self

    @property
    def greater_is_better(self) -> bool:
        """Direction of the metric, from the registry."""
        return _metric_spec(self.metric).greater_is_better

    @property
    def needs_champion(self) -> bool:
        """True when the gate means nothing before a champion exists."""
        return self.requires_champion or self.against is not None

    def rule(self) -> str:
        """The gate's condition in words, e.g. ``>= 0.7`` or ``>= champion - 0.02``."""
        if self.against is None:
            parts = []
            if self.min is not None:
                parts.append(f">= {self.min:g}")
            if self.max is not None:
                parts.append(f"<= {self.max:g}")
            return " and ".join(parts)
        sign, op = ("-", ">=") if self.greater_is_better else ("+", "<=")
        allowed = (
            f"{self.tolerance:g}"
            if self.tolerance is not None
            else f"{self.relative_tolerance:g} × |champion|"
        )
        return f"{op} champion {sign} {allowed}"


def _unique_names(gates: list[Gate], target: str) -> list[Gate]:
    names = [g.name for g in gates]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{target}: gate names must be unique; repeated: {', '.join(dupes)}")
    return gates


class PolicyBacktest(Frozen):
    """How the policy-impact metrics are measured: a small rolling backtest of both models.

    The origins are the newest ones of configs/policy.yaml's ``backtest:`` (its spacing and
    measured periods); each costs one policy computation and one replay per model.
    """

    origins: int = Field(
        2,
        ge=1,
        le=52,
        description="backtest origins the policy-impact gates average over, newest first; "
        "few, so that promotion stays fast",
    )


class GatesConfig(Frozen):
    """configs/gates.yaml: the gates a model must pass to get each target alias, and how the
    policy-impact metrics are measured (``policy_backtest:``)."""

    staging: list[Gate] = Field(default_factory=list)
    champion: list[Gate] = Field(default_factory=list)
    policy_backtest: PolicyBacktest = PolicyBacktest()

    @model_validator(mode="after")
    def _unique(self) -> GatesConfig:
        _unique_names(self.staging, "staging")
        _unique_names(self.champion, "champion")
        return self

    def for_target(self, target: str) -> list[Gate]:
        """The gates of one alias, or a StrataError naming the aliases there are."""
        if target not in TARGETS:
            close = difflib.get_close_matches(target, TARGETS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise StrataError(
                f"no gates for alias '{target}'{hint}; gates.yaml declares aliases: "
                f"{', '.join(TARGETS)}"
            )
        return list(getattr(self, target))
