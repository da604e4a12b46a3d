"""The `rollout_effects` table: for each unit (a repo, a team, `*`), delivery metric and design, what changed at
the unit's rollout date (stats.rollout has the estimators; docs/metrics.md, "Rollout effects", the definitions).

Units and their series (every day from the unit's first to its last day with a row; a day without a row is 0,
except a median merge time, which a day without merges does not have):
* each repo: daily_github_metrics' commit_count, merged_pr_count, reopened_pr_count, median_merge_hours;
  AI use for detection: daily_session_metrics' request_count;
* `team:<name>`: daily_developer_metrics summed over the team's people: commits_authored as commit_count,
  prs_merged as merged_pr_count; AI use: the team's people with any AI activity that day;
* `*`: the repos pooled by summing (its, counts only), and the repos compared with each other (did).
The rollout date is the configured one (config/rollouts.json), else the detected one. Non-working weekdays
(configured holidays, days the whole team stopped) are the ones the adjusted association uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from prodlens.rollouts import EVERYBODY, TEAM_PREFIX
from prodlens.stats.adjusted import holiday_mask
from prodlens.stats.core import bh_adjust
from prodlens.stats.correlate import POOLED, Rows, as_rows, daily_scopes, metric_value, non_working_days, to_date
from prodlens.stats.rollout import Effect, detect_rollout, did, its, verdict

REPO_METRICS = ("commit_count", "merged_pr_count", "reopened_pr_count", "median_merge_hours")
TEAM_METRICS = {"commit_count": "commits_authored", "merged_pr_count": "prs_merged"}
AI_USE = "request_count"
MEDIAN = "median_merge_hours"  # undefined on a day without merges (NaN), and never summed across repos


def _team_series(developer_rows: Rows) -> dict[str, dict[date, np.ndarray]]:
    """team -> day -> (commit_count, merged_pr_count, AI-active people)."""
    teams: dict[str, dict[date, np.ndarray]] = {}
    for row in as_rows(developer_rows):
        if not row.get("team"):
            continue
        ai_active = any(metric_value(row.get(m)) > 0 for m in ("requests", "sessions", "ai_accepted_lines"))
        vector = np.array([metric_value(row.get(c)) for c in TEAM_METRICS.values()] + [float(ai_active)])
        days = teams.setdefault(f"{TEAM_PREFIX}{row['team']}", {})
        day = to_date(row["event_date"])
        days[day] = days.get(day, np.zeros(len(vector))) + vector
    return teams


def _dense(by_day: Mapping[date, np.ndarray]) -> tuple[date, np.ndarray]:
    start, end = min(by_day), max(by_day)
    out = np.zeros(((end - start).days + 1, len(next(iter(by_day.values())))))
    for day, vector in by_day.items():
        out[(day - start).days] = vector
    return start, out


def _rollout(unit: str, configured: Mapping[str, date], ai_use: np.ndarray, start: date) -> tuple[date | None, str]:
    if unit in configured:
        return configured[unit], "configured"
    return detect_rollout(ai_use, start), "detected"


def _row(unit: str, metric: str, effect: Effect | None, rollout: date | None, source: str) -> dict[str, Any]:
    row: dict[str, Any] = {"unit": unit, "metric": metric, "design": effect.design if effect else "its"}
    row |= {"rollout_date": rollout, "rollout_source": source if rollout else None}
    fields = ("days_before", "days_after", "level_change", "slope_change", "relative_change", "ci_low", "ci_high", "p")
    row |= {f: (getattr(effect, f) if effect else None) for f in fields}
    return row


def _its_rows(
    unit: str, start: date, values: np.ndarray, metrics: Sequence[str], *, rollout: date | None, source: str, off: set
) -> list[dict[str, Any]]:
    rows = []
    mask = holiday_mask(off, start, len(values))
    for j, metric in enumerate(metrics):
        effect = its(values[:, j], start, rollout, mask) if rollout is not None else None
        rows.append(_row(unit, metric, effect, rollout, source))
    return rows


def rollout_effects(
    session_daily: Rows,
    github_daily: Rows,
    developer_daily: Rows = (),
    *,
    configured: Mapping[str, date] | None = None,
    holidays: Iterable[date] = (),
    input_version: str = "",
    computed_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every rollout_effects row: its per repo, team and `*`, did across repos; p_adj is Benjamini-Hochberg over
    all rows with a p, and the verdict uses it."""
    configured = dict(configured or {})
    off = set(non_working_days(session_daily, github_daily, None, holidays))
    rows: list[dict[str, Any]] = []
    repo_series: dict[str, tuple[date, np.ndarray, date | None, str]] = {}
    for scope in daily_scopes(session_daily, github_daily, (AI_USE,), REPO_METRICS):
        if not scope.y_days:
            continue
        start, _, ai_use, delivery = scope.series(None)
        median = REPO_METRICS.index(MEDIAN)
        delivery[:, median] = np.where(
            delivery[:, REPO_METRICS.index("merged_pr_count")] > 0, delivery[:, median], np.nan
        )
        unit = EVERYBODY if scope.repo == POOLED else scope.repo
        rollout, source = _rollout(unit, configured, ai_use[:, 0], start)
        metrics = [m for m in REPO_METRICS if not (unit == EVERYBODY and m == MEDIAN)]
        columns = [REPO_METRICS.index(m) for m in metrics]
        rows += _its_rows(unit, start, delivery[:, columns], metrics, rollout=rollout, source=source, off=off)
        if unit != EVERYBODY:
            repo_series[unit] = (start, delivery, rollout, source)
    for team, by_day in sorted(_team_series(developer_daily).items()):
        start, values = _dense(by_day)
        rollout, source = _rollout(team, configured, values[:, -1], start)
        rows += _its_rows(team, start, values[:, :-1], list(TEAM_METRICS), rollout=rollout, source=source, off=off)
    rows += _did_rows(repo_series)
    _adjust(rows)
    for row in rows:
        row["input_version"], row["computed_at"] = input_version, computed_at
    return rows


def _did_rows(repo_series: Mapping[str, tuple[date, np.ndarray, date | None, str]]) -> list[dict[str, Any]]:
    """did across repos on their common calendar (each repo's days outside its own window count as 0); the
    row's rollout date is the first adoption, `configured` when every adopting repo's date was."""
    if not repo_series:
        return []
    start = min(s for s, *_ in repo_series.values())
    end = max(s + timedelta(days=len(v) - 1) for s, v, *_ in repo_series.values())
    days = (end - start).days + 1
    adoption = {repo: rollout for repo, (_, _, rollout, _) in repo_series.items()}
    sources = {source for _, _, rollout, source in repo_series.values() if rollout is not None}
    source = "configured" if sources == {"configured"} else "detected"
    rows = []
    for j, metric in enumerate(REPO_METRICS):
        series = {}
        for repo, (first, values, *_) in repo_series.items():
            full = np.full(days, np.nan if metric == MEDIAN else 0.0)
            offset = (first - start).days
            full[offset : offset + len(values)] = values[:, j]
            series[repo] = full
        effect = did(series, start, adoption)
        first_adoption = min((d for d in adoption.values() if d is not None), default=None)
        rows.append(_row(EVERYBODY, metric, effect, first_adoption, source))
    return rows


def _adjust(rows: list[dict[str, Any]]) -> None:
    tested = [i for i, row in enumerate(rows) if row["p"] is not None]
    adjusted = bh_adjust([rows[i]["p"] for i in tested]) if tested else []
    for row in rows:
        row["p_adj"] = None
    for i, p_adj in zip(tested, adjusted, strict=True):
        rows[i]["p_adj"] = float(p_adj)
    for row in rows:
        effect = Effect(row["design"], row["rollout_date"], 0, 0, row["level_change"], p=row["p"])
        row["verdict"] = verdict(effect, row["p_adj"])
