"""The report's cohort section, from cohort_weekly rows (stats.cohorts): per cohort over the weeks shown, every
team together, with the caveat that cohorts are self-selected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prodlens.report.columns import aligned_lines
from prodlens.stats.cohorts import ALL_TEAMS, COHORTS

COHORTS_TITLE = "AI-use cohorts (weekly)"
COHORTS_CAVEAT = (
    "Cohorts are self-selected: people choose how much AI to use, and heavy users may do different work. The "
    "figures describe each group; a difference between them is not an effect of AI (see the rollout section)."
)
COHORT_COLUMNS = ("cohort", "weeks", "developer-weeks", "PRs merged / dev-week", "last 4 weeks", "median merge h",
                  "reopen rate", "AI lines / dev-week")  # fmt: skip
TREND_WEEKS = 4  # the recent weeks set beside the whole window, to show where each cohort is heading


@dataclass(frozen=True)
class CohortSummary:
    cohort: str
    weeks: int
    developer_weeks: int
    prs_per_developer_week: float
    recent_prs_per_developer_week: float | None  # over the window's last TREND_WEEKS weeks (None: not in them)
    median_merge_hours: float | None  # the median of the weekly medians
    reopen_rate: float | None  # the mean of the weekly rates
    ai_lines_per_developer_week: float


@dataclass
class CohortView:
    cohorts: list[CohortSummary] = field(default_factory=list)
    caveat: str = COHORTS_CAVEAT


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _per_developer(weeks: list[Mapping[str, Any]], column: str) -> float:
    return sum(float(w[column]) * int(w["developers"]) for w in weeks) / sum(int(w["developers"]) for w in weeks)


def cohort_view(rows: Iterable[Mapping[str, Any]]) -> CohortView:
    """Every team together (`*` rows), one summary per cohort present, none to heavy."""
    by_cohort: dict[str, list[Mapping[str, Any]]] = {}
    all_weeks = set()
    for row in rows:
        if row.get("team") == ALL_TEAMS:
            by_cohort.setdefault(str(row["cohort"]), []).append(row)
            all_weeks.add(row["week"])
    recent_weeks = set(sorted(all_weeks)[-TREND_WEEKS:])
    out = []
    for name, _ in reversed(COHORTS):
        weeks = by_cohort.get(name)
        if not weeks:
            continue
        developers = sum(int(w["developers"]) for w in weeks)
        recent = [w for w in weeks if w["week"] in recent_weeks]
        medians = [float(w["median_merge_hours"]) for w in weeks if w.get("median_merge_hours") is not None]
        rates = [float(w["reopen_rate"]) for w in weeks if w.get("reopen_rate") is not None]
        out.append(
            CohortSummary(
                name,
                len(weeks),
                developers,
                _per_developer(weeks, "prs_merged_per_developer"),
                _per_developer(recent, "prs_merged_per_developer") if recent else None,
                float(np.median(medians)) if medians else None,
                _mean(rates),
                _per_developer(weeks, "ai_accepted_lines_per_developer"),
            )
        )
    return CohortView(out)


def cohort_cells(c: CohortSummary) -> tuple[str, ...]:
    return (
        c.cohort,
        str(c.weeks),
        str(c.developer_weeks),
        f"{c.prs_per_developer_week:.2f}",
        "-" if c.recent_prs_per_developer_week is None else f"{c.recent_prs_per_developer_week:.2f}",
        "-" if c.median_merge_hours is None else f"{c.median_merge_hours:.1f}",
        "-" if c.reopen_rate is None else f"{c.reopen_rate:.0%}",
        f"{c.ai_lines_per_developer_week:.0f}",
    )


def cohort_lines(view: CohortView) -> list[str]:
    if not view.cohorts:
        return [f"{COHORTS_TITLE}: no cohort rows yet (correlate writes them from daily_developer_metrics)"]
    out = [COHORTS_TITLE, *aligned_lines([COHORT_COLUMNS, *(cohort_cells(c) for c in view.cohorts)])]
    out.append(f"  {view.caveat}")
    return out
