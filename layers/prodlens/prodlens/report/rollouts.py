"""The report's "what changed at the AI rollout" section, from rollout_effects rows (stats.rollout_table).

Measured rows (a verdict other than too_little_data) are shown one per line, increases and decreases first; the
rest are summarised by unit, with the reason, so that a reader sees which units could not be judged and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

ROLLOUT_TITLE = "What changed at the AI rollout"
NO_ROLLOUTS = "no rollout effects computed yet (correlate writes them)"
ROLLOUT_NOTE = (
    "  its compares a unit with its own history around the rollout (weekday, holidays and trend taken out); did "
    "compares repos that adopted with repos that had not yet. A before/after difference is not proof of cause: "
    "other changes at the same time (a reorganisation, a release freeze) move delivery too."
)
VERDICT_ORDER = {"increase": 0, "decrease": 0, "no_detectable_change": 1, "too_little_data": 2}


@dataclass(frozen=True)
class RolloutEffect:
    unit: str
    metric: str
    design: str
    rollout_date: date | None
    rollout_source: str | None
    days_before: int | None
    days_after: int | None
    level_change: float | None
    relative_change: float | None
    ci_low: float | None
    ci_high: float | None
    p_adj: float | None
    verdict: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RolloutEffect:
        return cls(**{name: row.get(name) for name in cls.__dataclass_fields__})

    @property
    def measured(self) -> bool:
        return self.verdict != "too_little_data"

    @property
    def reason(self) -> str:
        """Why a row could not be judged."""
        if self.rollout_date is None:
            return "no rollout date (AI in use from the start, or not at all)"
        if self.design == "did":
            return "fewer than 2 adopting repos or 4 repos in all"
        return f"{self.days_before or 0} days before / {self.days_after or 0} after (28 each needed)"


@dataclass
class RolloutView:
    effects: list[RolloutEffect] = field(default_factory=list)

    @property
    def measured(self) -> list[RolloutEffect]:
        return sorted(
            (e for e in self.effects if e.measured),
            key=lambda e: (VERDICT_ORDER.get(e.verdict, 3), e.unit != "*", e.unit, e.design, e.metric),
        )

    @property
    def unmeasured_units(self) -> dict[str, str]:
        """unit (design) -> the reason, for units none of whose rows could be judged."""
        out: dict[str, str] = {}
        measured = {(e.unit, e.design) for e in self.effects if e.measured}
        for e in self.effects:
            key = f"{e.unit} ({e.design})"
            if (e.unit, e.design) not in measured and key not in out:
                out[key] = e.reason
        return out


def rollout_view(rows: Iterable[Mapping[str, Any]], repo: str | None = None) -> RolloutView:
    """The section's rows; with `repo`, that repo's rows alone."""
    return RolloutView([RolloutEffect.from_row(r) for r in rows if repo is None or r.get("unit") == repo])


def _signed(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def effect_line(e: RolloutEffect) -> str:
    relative = "" if e.relative_change is None else f" ({e.relative_change:+.0%})"
    return (
        f"{e.unit} {e.metric} [{e.design}] since {e.rollout_date} ({e.rollout_source}): "
        f"{_signed(e.level_change)}/day{relative}, 95% CI {_signed(e.ci_low)} to {_signed(e.ci_high)}, "
        f"p_adj {'n/a' if e.p_adj is None else f'{e.p_adj:.3g}'} -> {e.verdict.replace('_', ' ')}"
    )


def rollout_lines(view: RolloutView) -> list[str]:
    if not view.effects:
        return [f"{ROLLOUT_TITLE}: {NO_ROLLOUTS}"]
    out = [ROLLOUT_TITLE]
    out += [f"  {effect_line(e)}" for e in view.measured]
    unmeasured = view.unmeasured_units
    if unmeasured:
        out.append("  Too little data: " + "; ".join(f"{unit}: {why}" for unit, why in unmeasured.items()))
    out.append(ROLLOUT_NOTE)
    return out
