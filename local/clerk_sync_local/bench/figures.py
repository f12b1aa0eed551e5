"""What `clerk-sync bench all` reports: figures, each held against its goal, grouped in sections.

A goal is one of three kinds. Against the baseline: the figure's ratio to the baseline's same measurement must
reach `target` (`better` says which way is better: `higher` means ratio ≥ target, `lower` ratio ≤ target). A floor
or a bound: the figure itself must reach `target` (floor: value ≥ target; bound: value ≤ target), and the ratio
is value / target. A figure without a goal is shown for context. Timing never fails a run: `met` is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Reference = Literal["baseline", "floor", "bound"]
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Goal:
    reference: Reference
    target: float
    better: Better = "higher"

    def __post_init__(self) -> None:
        if self.reference == "floor" and self.better != "higher":
            raise ValueError("a floor is a least value: higher is better")
        if self.reference == "bound" and self.better != "lower":
            raise ValueError("a bound is a most value: lower is better")

    @classmethod
    def vs_baseline(cls, target: float, better: Better = "higher") -> Goal:
        return cls("baseline", target, better)

    @classmethod
    def floor(cls, target: float) -> Goal:
        return cls("floor", target, "higher")

    @classmethod
    def bound(cls, target: float) -> Goal:
        return cls("bound", target, "lower")

    def text(self, unit: str = "") -> str:
        sign = "≥" if self.better == "higher" else "≤"
        if self.reference == "baseline":
            return f"{sign} {self.target:g} × baseline"  # noqa: RUF001 - the multiplication sign
        return f"{sign} {self.target:g} {unit}".rstrip()


@dataclass(frozen=True)
class Figure:
    """One measured number with its unit, its goal and, when there is one, the baseline's same measurement."""

    name: str
    value: float
    unit: str
    goal: Goal | None = None
    baseline: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / baseline for a baseline goal (or when a baseline was measured), value / target for the others."""
        if self.goal is not None and self.goal.reference != "baseline":
            return _divide(self.value, self.goal.target)
        return _divide(self.value, self.baseline) if self.baseline is not None else None

    @property
    def met(self) -> bool | None:
        """Whether the goal is reached; None without a goal or when the ratio cannot be formed."""
        if self.goal is None:
            return None
        if self.goal.reference == "baseline":
            ratio = self.ratio
            if ratio is None:
                return None
            return ratio >= self.goal.target if self.goal.better == "higher" else ratio <= self.goal.target
        if self.goal.reference == "floor":
            return self.value >= self.goal.target
        return self.value <= self.goal.target

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        goal = self.goal
        return {
            "name": self.name,
            "value": _finite(self.value),
            "unit": self.unit,
            "goal": None
            if goal is None
            else {
                "reference": goal.reference,
                "target": goal.target,
                "better": goal.better,
                "text": goal.text(self.unit),
            },
            "baseline": None if self.baseline is None else _finite(self.baseline),
            "ratio": None if ratio is None else _finite(round(ratio, 4)),
            "met": self.met,
            "note": self.note,
        }


def _divide(value: float, by: float) -> float | None:
    if by == 0:
        return math.inf if value > 0 else None
    return value / by


def _finite(value: float) -> float | str:
    """JSON has no infinity: a ratio against a zero baseline is written as the string "inf"."""
    return value if math.isfinite(value) else "inf"


@dataclass
class Section:
    """What one bench section measured: its figures, raw series for the plots, notes, and how long it took."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # set when the section could not run; its figures are then missing

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "notes": self.notes,
            "figures": [figure.as_json() for figure in self.figures],
            "series": self.series,
        }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]
