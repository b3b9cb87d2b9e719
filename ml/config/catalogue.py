"""The segment catalogue's config models (configs/segments.yaml): segments, archetypes, policies.

An archetype is a conjunction of conditions, one per key: a rule-class key (abc, xyz, pattern,
risk) takes a class or a list of classes; an attribute key takes an interval
{gt|ge: lower, lt|le: upper}. An empty archetype matches every product (a catch-all). Each
segment has a priority: the matching segment with the lowest priority number wins. Validation
against the attribute space is ``ml.catalogue_checks.validate_catalogue``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from ml.config.base import Frozen
from ml.config.drivers import SegmentationConfig
from ml.errors import StrataError

__all__ = ["ArchetypeCondition", "Catalogue", "OrderQuantity", "Policy", "Segment", "ServiceBand"]


class ArchetypeCondition(Frozen):
    """One archetype condition: a set of rule classes, or an interval over an attribute.

    In YAML write `abc: A`, `pattern: [intermittent, lumpy]` or `age_periods: {lt: 13}`.
    """

    classes: tuple[str, ...] | None = Field(None, min_length=1)
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"classes": (value,)}
        if isinstance(value, list | tuple):
            return {"classes": tuple(value)}
        if isinstance(value, bool | int | float):
            raise ValueError(
                f"a bare number ({value!r}) is not a condition; write an interval such as "
                f"{{lt: {value}}} or {{ge: {value}}}, or a class name"
            )
        return value

    @property
    def is_range(self) -> bool:
        """True for an interval condition, False for a set of classes."""
        return self.classes is None

    def problems(self) -> list[str]:
        """What is wrong with this condition on its own (empty when fine)."""
        bounds = {
            k: getattr(self, k) for k in ("gt", "ge", "lt", "le") if getattr(self, k) is not None
        }
        if self.classes is not None:
            return (
                [f"give either classes or bounds, not both (got classes and {', '.join(bounds)})"]
                if bounds
                else []
            )
        if not bounds:
            return ["an interval needs at least one bound: gt, ge, lt or le"]
        out = []
        if self.gt is not None and self.ge is not None:
            out.append(f"give one lower bound, gt or ge, not both (gt {self.gt:g}, ge {self.ge:g})")
        if self.lt is not None and self.le is not None:
            out.append(f"give one upper bound, lt or le, not both (lt {self.lt:g}, le {self.le:g})")
        if out:
            return out
        lo_key, lo = ("gt", self.gt) if self.gt is not None else ("ge", self.ge)
        hi_key, hi = ("lt", self.lt) if self.lt is not None else ("le", self.le)
        if lo is not None and hi is not None:
            empty = lo > hi or (lo == hi and (lo_key == "gt" or hi_key == "lt"))
            if empty:
                out.append(
                    f"bounds in the wrong order: {lo_key} {lo:g} and {hi_key} {hi:g} "
                    f"leave no value; the lower bound must be below the upper bound"
                )
        return out

    def text(self, key: str) -> str:
        """The condition in words, e.g. `abc in {A, B}` or `13 <= age_periods < 26`."""
        if self.classes is not None:
            if len(self.classes) == 1:
                return f"{key} = {self.classes[0]}"
            return f"{key} in {{{', '.join(self.classes)}}}"
        lower = [(op, v) for op, v in (("<", self.gt), ("<=", self.ge)) if v is not None]
        upper = [(op, v) for op, v in (("<", self.lt), ("<=", self.le)) if v is not None]
        if lower and upper:
            return f"{lower[0][1]:g} {lower[0][0]} {key} {upper[0][0]} {upper[0][1]:g}"
        if lower:
            return f"{key} {lower[0][0].replace('<', '>')} {lower[0][1]:g}"
        return f"{key} {upper[0][0]} {upper[0][1]:g}"

    def mask(self, values: pd.Series) -> np.ndarray:
        """Which rows satisfy the condition; a missing value satisfies no interval."""
        if self.classes is not None:
            return values.isin(self.classes).to_numpy()
        x = values.astype("float64").to_numpy()
        ok = ~np.isnan(x)
        if self.gt is not None:
            ok &= x > self.gt
        if self.ge is not None:
            ok &= x >= self.ge
        if self.lt is not None:
            ok &= x < self.lt
        if self.le is not None:
            ok &= x <= self.le
        return ok


class OrderQuantity(Frozen):
    """The order-quantity rule and its parameter(s)."""

    rule: Literal["eoq", "periods_of_supply", "lot_for_lot"]
    ordering_cost: float | None = Field(
        None, gt=0, description="eoq: cost per order, reporting currency"
    )
    holding_rate: float | None = Field(
        None, gt=0, description="eoq: holding cost per year, fraction of unit cost"
    )
    periods: int | None = Field(
        None, gt=0, description="periods_of_supply: periods of demand per order"
    )

    @model_validator(mode="after")
    def _parameters(self) -> OrderQuantity:
        needs = {
            "eoq": {"ordering_cost", "holding_rate"},
            "periods_of_supply": {"periods"},
            "lot_for_lot": set(),
        }
        wanted = needs[self.rule]
        given = {
            k for k in ("ordering_cost", "holding_rate", "periods") if getattr(self, k) is not None
        }
        if wanted - given:
            raise ValueError(
                f"rule {self.rule} needs {', '.join(sorted(wanted - given))}; "
                f"e.g. {{rule: eoq, ordering_cost: 50, holding_rate: 0.25}} or "
                f"{{rule: periods_of_supply, periods: 4}}"
            )
        if given - wanted:
            raise ValueError(
                f"rule {self.rule} does not use {', '.join(sorted(given - wanted))}; remove it"
            )
        return self


class ServiceBand(Frozen):
    """A service level for the products of a segment below a cycle value (the last: the rest)."""

    cycle_value_below: float | None = Field(
        None,
        gt=0,
        description="unit value x periods one order lasts (Q / mean demand), exclusive upper edge; "
        "leave out on the last band",
    )
    service_level: float = Field(gt=0, lt=1, description="the target of this band's products")


class Policy(Frozen):
    """A segment's inventory policy, as the policy stage reads it."""

    service_level: float = Field(gt=0, lt=1, description="target, e.g. 0.95")
    service_level_type: Literal["csl", "fill_rate"] = Field(
        description="csl: cycle service level (P(no stock-out per cycle)); "
        "fill_rate: share of demand met from stock"
    )
    review: Literal["continuous", "periodic"]
    review_period_days: int | None = Field(None, gt=0, description="periodic review only")
    order_quantity: OrderQuantity
    lead_time_demand: Literal["normal", "poisson_gamma", "bootstrap"] = "normal"
    cost_based_service_level: bool = Field(
        False,
        description="derive the target from costs (newsvendor critical ratio) for low-volume, "
        "high-margin items; service_level is then the cap",
    )
    service_bands: list[ServiceBand] | None = Field(
        None,
        description="targets by cycle value, as `strata policy optimise` proposes them: products "
        "of dear cycles get less service, cheap ones more; service_level stays the target of "
        "products without a cycle value",
    )
    service_level_floor: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="the lowest fill-rate target `strata policy optimise` may propose "
        "(strategic segments keep a minimum); default configs/policy.yaml optimise.default_floor",
    )
    service_level_ceiling: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="the highest fill-rate target the optimiser may propose; default "
        "optimise.default_ceiling",
    )

    @model_validator(mode="after")
    def _bands(self) -> Policy:
        if not self.service_bands:
            return self
        edges = [b.cycle_value_below for b in self.service_bands]
        if edges[-1] is not None or any(e is None for e in edges[:-1]):
            raise ValueError(
                "service_bands: every band but the last needs cycle_value_below, the last none "
                "(it takes the rest)"
            )
        inner = [float(e) for e in edges[:-1] if e is not None]
        if inner != sorted(inner) or len(set(inner)) != len(inner):
            raise ValueError(f"service_bands: cycle_value_below must rise, got {inner}")
        return self

    @model_validator(mode="after")
    def _bounds(self) -> Policy:
        floor, ceiling = self.service_level_floor, self.service_level_ceiling
        if floor is not None and ceiling is not None and floor > ceiling:
            raise ValueError(
                f"service_level_floor {floor} is above service_level_ceiling {ceiling}; lower "
                "the floor or raise the ceiling"
            )
        return self

    @model_validator(mode="after")
    def _review(self) -> Policy:
        if self.review == "periodic" and self.review_period_days is None:
            raise ValueError("review periodic needs review_period_days, e.g. review_period_days: 7")
        if self.review == "continuous" and self.review_period_days is not None:
            raise ValueError(
                f"review continuous takes no review_period_days (got {self.review_period_days}); "
                f"remove it or set review: periodic"
            )
        return self


class Segment(Frozen):
    """A business segment: a name for planners, who belongs (archetype), what follows (policy)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="snake_case; policies key on it")
    description: str = Field(min_length=1, description="one or two sentences for planners")
    priority: int = Field(ge=0, description="lower number wins when several segments match")
    archetype: dict[str, ArchetypeCondition] = Field(
        default_factory=dict, description="{} = catch-all"
    )
    policy: Policy

    @model_validator(mode="after")
    def _conditions(self) -> Segment:
        problems = [
            f"archetype key '{k}': {p}" for k, c in self.archetype.items() for p in c.problems()
        ]
        if problems:
            raise ValueError(f"segment '{self.name}': " + "; ".join(problems))
        return self

    @property
    def is_catch_all(self) -> bool:
        """True when the archetype has no condition, so it matches every product."""
        return not self.archetype


class Catalogue(Frozen):
    """configs/segments.yaml: the rule drivers and the segments."""

    drivers: SegmentationConfig = SegmentationConfig()
    segments: list[Segment] = Field(min_length=1)

    @field_validator("segments")
    @classmethod
    def _unique_names(cls, segments: list[Segment]) -> list[Segment]:
        names = [s.name for s in segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"segment names must be unique; repeated: {', '.join(dupes)}")
        return segments

    def segment(self, name: str) -> Segment:
        """The segment called `name`, or a StrataError listing the names there are."""
        for s in self.segments:
            if s.name == name:
                return s
        raise StrataError(
            f"segment {name!r} is not in the catalogue; "
            f"segments: {', '.join(s.name for s in self.segments)}"
        )
