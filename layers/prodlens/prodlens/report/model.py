"""The report model: what the text, JSON and HTML renderers show, built from the lake's tables."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from prodlens.report.cohorts import CohortView, cohort_view
from prodlens.report.gaps import DataWarning, data_warnings
from prodlens.report.pr_ai import PrAiView, pr_ai_view
from prodlens.report.rollouts import RolloutView, rollout_view
from prodlens.report.teams import TeamView, team_view
from prodlens.stats.correlate import (
    POOLED,
    Rows,
    Scope,
    adjusted_pair,
    as_rows,
    daily_scopes,
    metric_value,
    non_working_days,
    to_date,
)

ALPHA = 0.05
TOP_NOT_SIGNIFICANT = 10
# Verdict rules: below these the verdict is "too little data".
MIN_OVERLAP_DAYS = 56  # 8 weeks of days both daily tables cover
MIN_N_EFF = 30  # effective independent days of the repo's best-covered row
DEFAULT_PAIR = ("request_count", "commit_count")
LINK = "link"
NO_EVIDENCE = "no_evidence"
TOO_LITTLE_DATA = "too_little_data"
VERDICT_HEADLINES = {
    LINK: "evidence of a link",
    NO_EVIDENCE: "no evidence after adjusting for the weekly rhythm and trends",
    TOO_LITTLE_DATA: "too little data",
}
APPENDIX_TITLE = (
    "Appendix: unadjusted correlations (descriptive; they mostly measure the weekly rhythm and shared trends)"
)

X_PHRASES = {
    "request_count": "AI requests",
    "session_count": "AI sessions",
    "total_tokens": "AI tokens",
    "accepted_count": "accepted AI suggestions",
    "cost_usd": "AI spend",
}
Y_PHRASES = {
    "commit_count": "commits",
    "merged_pr_count": "merged PRs",
    "opened_pr_count": "opened PRs",
}

METHOD = (
    "Method: the verdicts use the adjusted association. Daily totals (days without data count as 0) are put on "
    "a log(1+x) scale and the calendar is removed by least squares: day of week, non-working days (holidays, "
    "days the whole team stopped) and one level per calendar week (trends, ramps, steps). Adjusted r is the "
    "Pearson r of what is left, the delivery metric taken 0-7 days after AI use; its 95% CI and two-sided p use "
    "an effective number of independent days from an AR(1) model of the remaining autocorrelation; "
    "Benjamini-Hochberg adjustment per repo. Verdict: too little data under 8 weeks of days both tables cover, "
    "without adjusted values or under 30 effective days; evidence of a link when some adjusted p after "
    "Benjamini-Hochberg is below 0.05; otherwise no evidence. The raw Pearson and Spearman values in the "
    "appendix are descriptive. An association is not proof of cause."
).replace("Benjamini-Hochberg", "Benjamini–Hochberg")


def fmt_num(value: float | None, digits: int = 2, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fmt_p(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 0.001:
        return f"{value:.1e}"
    return f"{value:.3f}"


def repo_label(repo: str) -> str:
    return "all repos (pooled)" if repo == POOLED else repo


def _phrase(metric: str, phrases: dict[str, str]) -> str:
    return phrases.get(metric, metric.replace("_", " "))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def describe(repo: str, x_metric: str, y_metric: str, lag_days: int, positive: bool) -> str:
    """A plain sentence, e.g. 'on days after more AI requests, acme/api gets more commits'."""
    x = _phrase(x_metric, X_PHRASES)
    y = _phrase(y_metric, Y_PHRASES)
    direction = "more" if positive else "fewer"
    if lag_days == 0:
        when = f"on days with more {x}"
    elif lag_days == 1:
        when = f"on days after more {x}"
    elif lag_days > 1:
        when = f"{lag_days} days after days with more {x}"
    else:
        when = f"{-lag_days} days before days with more {x}"
    subject = "all repos together get" if repo == POOLED else f"{repo} gets"
    return f"{when}, {subject} {direction} {y}"


@dataclass(frozen=True)
class Association:
    """One correlations row as the report shows it: the raw (descriptive) and the adjusted columns."""

    repo: str
    x_metric: str
    y_metric: str
    lag_days: int
    n: int
    pearson_r: float | None
    pearson_ci_low: float | None
    pearson_ci_high: float | None
    spearman_rho: float | None
    pearson_p: float | None
    spearman_p: float | None
    pearson_p_adj: float | None
    spearman_p_adj: float | None
    low_sample: bool
    significant: bool
    sentence: str | None
    adj_r: float | None = None
    adj_ci_low: float | None = None
    adj_ci_high: float | None = None
    adj_p: float | None = None
    n_eff: float | None = None
    adj_p_adj: float | None = None
    window_start: date | None = None
    window_end: date | None = None

    @property
    def best_p_adj(self) -> float | None:
        """The smaller raw adjusted p of the two methods (None if neither was computed)."""
        values = [p for p in (self.pearson_p_adj, self.spearman_p_adj) if p is not None]
        return min(values) if values else None

    @property
    def adj_significant(self) -> bool:
        return self.adj_p_adj is not None and self.adj_p_adj < ALPHA

    @classmethod
    def from_row(cls, row: Mapping[str, Any], alpha: float = ALPHA) -> Association:
        r = _finite(row.get("pearson_r"))
        rho = _finite(row.get("spearman_rho"))
        p_adj = _finite(row.get("pearson_p_adj"))
        s_adj = _finite(row.get("spearman_p_adj"))
        pearson_sig = p_adj is not None and p_adj < alpha
        spearman_sig = s_adj is not None and s_adj < alpha
        significant = pearson_sig or spearman_sig
        sentence = None
        if significant:
            sign_of = r if pearson_sig and r is not None else rho
            sentence = describe(
                str(row["repo"]), str(row["x_metric"]), str(row["y_metric"]), int(row["lag_days"]), (sign_of or 0) >= 0
            )
        n = int(row.get("n") or 0)
        low_sample = row.get("low_sample")
        start, end = row.get("window_start"), row.get("window_end")
        return cls(
            repo=str(row["repo"]),
            x_metric=str(row["x_metric"]),
            y_metric=str(row["y_metric"]),
            lag_days=int(row["lag_days"]),
            n=n,
            pearson_r=r,
            pearson_ci_low=_finite(row.get("pearson_ci_low")),
            pearson_ci_high=_finite(row.get("pearson_ci_high")),
            spearman_rho=rho,
            pearson_p=_finite(row.get("pearson_p")),
            spearman_p=_finite(row.get("spearman_p")),
            pearson_p_adj=p_adj,
            spearman_p_adj=s_adj,
            low_sample=bool(low_sample) if low_sample is not None else n < 6,
            significant=significant,
            sentence=sentence,
            adj_r=_finite(row.get("adj_r")),
            adj_ci_low=_finite(row.get("adj_ci_low")),
            adj_ci_high=_finite(row.get("adj_ci_high")),
            adj_p=_finite(row.get("adj_p")),
            n_eff=_finite(row.get("n_eff")),
            adj_p_adj=_finite(row.get("adj_p_adj")),
            window_start=to_date(start) if start is not None else None,
            window_end=to_date(end) if end is not None else None,
        )


@dataclass(frozen=True)
class DailyPoint:
    day: date
    request_count: float
    commit_count: float
    merged_pr_count: float


@dataclass(frozen=True)
class Verdict:
    """The answer for one scope (a repo, or `*`): link / no_evidence / too_little_data, in one sentence."""

    repo: str
    label: str
    verdict: str
    sentence: str  # the whole verdict, "label: headline — detail"
    detail: str  # the sentence without "label: headline"
    x_metric: str | None
    y_metric: str | None
    lag_days: int | None
    adj_r: float | None
    adj_ci_low: float | None
    adj_ci_high: float | None
    adj_p: float | None
    adj_p_adj: float | None
    n_eff: float | None
    overlap_days: int | None
    note: str | None

    @property
    def headline(self) -> str:
        return VERDICT_HEADLINES[self.verdict]


@dataclass(frozen=True)
class LagPoint:
    """Adjusted r at one lag, with its 95% CI, for the lag-profile chart."""

    lag_days: int
    adj_r: float | None
    adj_ci_low: float | None
    adj_ci_high: float | None
    adj_p_adj: float | None
    n_eff: float | None

    @property
    def significant(self) -> bool:
        return self.adj_p_adj is not None and self.adj_p_adj < ALPHA


@dataclass(frozen=True)
class AdjustedView:
    """The two calendar-adjusted daily series (log scale residuals) behind a scope's chart pair."""

    start: date
    x: list[float]
    y: list[float]

    @property
    def days(self) -> int:
        return len(self.x)

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)


@dataclass(frozen=True)
class ScopeCharts:
    """What the per-repo charts show: the lag profile of one metric pair and its adjusted series."""

    repo: str
    x_metric: str
    y_metric: str
    lag_days: int | None  # the strongest lag of the pair (None without adjusted values)
    profile: list[LagPoint]
    series: AdjustedView | None


@dataclass
class Report:
    """Everything a renderer needs; `render_json` serializes it (verdicts first)."""

    since: date | None
    until: date | None
    repo_filter: str | None
    window_start: date | None
    window_end: date | None
    counts: dict[str, int]
    significant: list[Association]
    not_significant: list[Association]
    associations: list[Association]
    daily: dict[str, list[DailyPoint]]
    effects: dict[str, Any]
    correlation_versions: list[str] = field(default_factory=list)
    alpha: float = ALPHA
    method: str = METHOD
    verdicts: list[Verdict] = field(default_factory=list)
    charts: dict[str, ScopeCharts] = field(default_factory=dict)
    warnings: list[DataWarning] = field(default_factory=list)  # data gaps and stopped sources in the window
    teams: TeamView | None = None  # the team view (people.json teams), when asked for or when teams exist
    rollouts: RolloutView = field(default_factory=RolloutView)  # what changed at the AI rollout (rollout_effects)
    cohorts: CohortView = field(default_factory=CohortView)  # weekly AI-use cohorts (cohort_weekly)
    pull_requests_ai: PrAiView = field(default_factory=PrAiView)  # AI-assisted vs other PRs (pull_request_ai)

    @property
    def days(self) -> int:
        if self.window_start is None or self.window_end is None:
            return 0
        return (self.window_end - self.window_start).days + 1

    @property
    def window_text(self) -> str:
        """The report's window, as every rendering states it."""
        if self.window_start is None:
            return "Window: no daily data in range"
        return f"Window: {self.window_start} .. {self.window_end} ({self.days} days)"

    @property
    def data_text(self) -> str:
        """What the report was built from, as every rendering states it."""
        c = self.counts
        return (
            f"Data: {c['session_daily_rows']} daily AI-usage rows, {c['github_daily_rows']} daily GitHub rows, "
            f"{c['repos']} repos; {c['correlation_rows']} correlation rows ({c['tests']} tests)"
        )


def _sort_key(a: Association) -> tuple:
    best = a.best_p_adj
    strength = max(abs(a.pearson_r or 0.0), abs(a.spearman_rho or 0.0))
    return (best if best is not None else 2.0, -strength, a.repo, a.x_metric, a.y_metric, a.lag_days)


def strongest_adjusted(items: Iterable[Association]) -> Association | None:
    """The row with the smallest adj_p_adj (ties: the larger |adj_r|, then the smaller lag); None if none."""
    candidates = [a for a in items if a.adj_p_adj is not None and a.adj_r is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda a: (a.adj_p_adj, -abs(a.adj_r or 0.0), a.lag_days, a.x_metric, a.y_metric))


def strongest_raw(items: Iterable[Association]) -> Association | None:
    """The row with the smallest raw adjusted p (either method; ties: the larger |r|); None if none."""
    candidates = [a for a in items if a.best_p_adj is not None]
    return min(candidates, key=_sort_key) if candidates else None


def _window(items: Sequence[Association]) -> tuple[date, date] | None:
    starts = [a.window_start for a in items if a.window_start is not None]
    ends = [a.window_end for a in items if a.window_end is not None]
    return (min(starts), max(ends)) if starts and ends else None


def _lag_words(lag: int) -> str:
    return f"lag {lag} day" + ("" if abs(lag) == 1 else "s")


def _adjusted_p_words(p: float | None) -> str:
    if p is None:
        return "adjusted p n/a"
    return "adjusted p < 0.001" if p < 0.001 else f"adjusted p = {p:.3f}"


def _adjusted_figures(a: Association) -> str:
    return (
        f"adjusted r = {fmt_num(a.adj_r, signed=True)} [{fmt_num(a.adj_ci_low)}, {fmt_num(a.adj_ci_high)}], "
        f"{_lag_words(a.lag_days)}, {a.n_eff or 0:.0f} effective days; "
        f"{_adjusted_p_words(a.adj_p_adj)} after Benjamini–Hochberg"
    )


def _weekend_low(x: np.ndarray, y: np.ndarray, start: date) -> bool:
    """Both series' weekend-day mean is below half their weekday mean."""
    weekend = (np.arange(len(x)) + start.weekday()) % 7 >= 5
    if weekend.all() or not weekend.any():
        return False
    return all(0 < v[~weekend].mean() and v[weekend].mean() < 0.5 * v[~weekend].mean() for v in (x, y))


def _trend(values: np.ndarray) -> int:
    """+1 / -1 when the second half's mean is more than 25% above / below the first half's, else 0."""
    half = len(values) // 2
    if half < 1:
        return 0
    first, second = values[:half].mean(), values[len(values) - half :].mean()
    if first <= 0 and second <= 0:
        return 0
    if second > 1.25 * first:
        return 1
    if second < first / 1.25:
        return -1
    return 0


def disagreement_note(
    verdict: str, items: Sequence[Association], scope: Scope | None, span: tuple[date, date] | None
) -> str | None:
    """One line on why the raw and the adjusted answers differ (None when they agree)."""
    raw = strongest_raw(items)
    raw_flagged = raw is not None and raw.significant
    if verdict == LINK and not raw_flagged:
        return "the raw correlation misses it because the weekly rhythm hides day-to-day variation"
    if not raw_flagged or raw is None:
        return None
    value = raw.pearson_r if raw.pearson_r is not None else raw.spearman_rho
    name = "r" if raw.pearson_r is not None else "rho"
    what = f"the raw {name} = {fmt_num(value, signed=True)} at lag {raw.lag_days}"
    if verdict == TOO_LITTLE_DATA:
        return f"{what} is not weighed: too little data to tell it apart from the weekly rhythm and trends"
    if verdict != NO_EVIDENCE:
        return None
    weekend = trend_x = trend_y = 0
    if scope is not None and span is not None:
        _, _, xs, ys = scope.series(span)
        x = xs[:, scope.x_metrics.index(raw.x_metric)]
        y = ys[:, scope.y_metrics.index(raw.y_metric)]
        weekend = _weekend_low(x, y, span[0])
        trend_x, trend_y = _trend(x), _trend(y)
    if weekend:
        return f"{what} is the weekly rhythm: both drop on weekends"
    if raw.lag_days % 7 == 0:
        return f"{what} is the weekly rhythm: it pairs the same weekdays"
    if trend_x != 0 and trend_x == trend_y:
        verb = "grow" if trend_x > 0 else "shrink"
        return (
            f"{what} is a shared trend: both {verb} over the window (AI adoption and team growth), "
            "which the adjustment removes"
        )
    return f"{what} does not survive removing the calendar and the autocorrelation of daily counts"


def judge(
    scope: str,
    items: Sequence[Association],
    overlap_days: int | None,
    daily: Scope | None = None,
    span: tuple[date, date] | None = None,
) -> Verdict:
    """The verdict for one scope from its correlations rows (rules in METHOD)."""
    label = repo_label(scope)
    best = strongest_adjusted(items)
    n_effs = [a.n_eff for a in items if a.n_eff is not None and a.adj_r is not None]
    if overlap_days is None:
        window = _window(items)
        overlap_days = (window[1] - window[0]).days + 1 if window else None
    reason = None
    if overlap_days is not None and overlap_days < MIN_OVERLAP_DAYS:
        reason = f"{overlap_days} days of overlapping AI-use and delivery data ({MIN_OVERLAP_DAYS // 7} weeks needed)"
    elif best is None:
        reason = "no adjusted association could be computed (fewer than 21 days both tables cover)"
    elif max(n_effs, default=0.0) < MIN_N_EFF:
        reason = (
            f"at most {max(n_effs, default=0.0):.0f} effective independent days "
            f"({MIN_N_EFF} needed; daily counts are autocorrelated)"
        )
    if reason is not None:
        verdict = TOO_LITTLE_DATA
        detail = reason
    elif best is not None and best.adj_significant:
        verdict = LINK
        positive = (best.adj_r or 0.0) >= 0
        link = describe(scope, best.x_metric, best.y_metric, best.lag_days, positive)
        detail = f"{link} ({_adjusted_figures(best)})"
    else:
        verdict = NO_EVIDENCE
        assert best is not None
        detail = f"strongest: {best.x_metric} → {best.y_metric}, {_adjusted_figures(best)}"
    separator = " — " if verdict == LINK else ": " if verdict == TOO_LITTLE_DATA else " ("
    sentence = f"{label}: {VERDICT_HEADLINES[verdict]}{separator}{detail}" + (")" if verdict == NO_EVIDENCE else "")
    return Verdict(
        repo=scope,
        label=label,
        verdict=verdict,
        sentence=sentence,
        detail=detail,
        x_metric=best.x_metric if best else None,
        y_metric=best.y_metric if best else None,
        lag_days=best.lag_days if best else None,
        adj_r=best.adj_r if best else None,
        adj_ci_low=best.adj_ci_low if best else None,
        adj_ci_high=best.adj_ci_high if best else None,
        adj_p=best.adj_p if best else None,
        adj_p_adj=best.adj_p_adj if best else None,
        n_eff=best.n_eff if best else None,
        overlap_days=overlap_days,
        note=disagreement_note(verdict, items, daily, span),
    )


def _charts(scope: str, items: Sequence[Association], daily: Scope | None, off_days: frozenset[date]) -> ScopeCharts:
    best = strongest_adjusted(items)
    x_metric, y_metric = (best.x_metric, best.y_metric) if best else DEFAULT_PAIR
    profile = sorted(
        (
            LagPoint(a.lag_days, a.adj_r, a.adj_ci_low, a.adj_ci_high, a.adj_p_adj, a.n_eff)
            for a in items
            if (a.x_metric, a.y_metric) == (x_metric, y_metric)
        ),
        key=lambda p: p.lag_days,
    )
    series = None
    if daily is not None:
        adjusted = adjusted_pair(daily, x_metric, y_metric, off_days)
        if adjusted is not None:
            series = AdjustedView(
                adjusted.start, [float(v) for v in adjusted.x[:, 0]], [float(v) for v in adjusted.y[:, 0]]
            )
    return ScopeCharts(scope, x_metric, y_metric, best.lag_days if best else None, profile, series)


def _daily_series(session_rows: list, github_rows: list, repos: list[str], pooled: bool) -> dict[str, list[DailyPoint]]:
    per_repo: dict[str, dict[date, list[float]]] = {}
    for rows, fields in ((session_rows, ("request_count",)), (github_rows, ("commit_count", "merged_pr_count"))):
        for row in rows:
            day = to_date(row["event_date"])
            for scope in [str(row["repo"])] + ([POOLED] if pooled else []):
                values = per_repo.setdefault(scope, {}).setdefault(day, [0.0, 0.0, 0.0])
                for name in fields:
                    slot = {"request_count": 0, "commit_count": 1, "merged_pr_count": 2}[name]
                    values[slot] += metric_value(row.get(name))
    out: dict[str, list[DailyPoint]] = {}
    for scope in ([POOLED] if pooled else []) + repos:
        by_day = per_repo.get(scope, {})
        if not by_day:
            continue
        first, last = min(by_day), max(by_day)
        points = []
        for offset in range((last - first).days + 1):
            day = date.fromordinal(first.toordinal() + offset)
            values = by_day.get(day, [0.0, 0.0, 0.0])
            points.append(DailyPoint(day, values[0], values[1], values[2]))
        out[scope] = points
    return out


def build_report(
    correlations: list[dict],
    session_daily: Rows,
    github_daily: Rows,
    effects: dict,
    *,
    since: date | str | None = None,
    until: date | str | None = None,
    repo: str | None = None,
    holidays: Iterable[date] = (),
    developer_daily: Rows = (),
    team: str | None = None,
    by_team: bool = False,
    rollout_effects: Rows = (),
    cohorts: Rows = (),
    pull_request_ai: Rows = (),
) -> Report:
    """Assemble the report.

    `since`/`until` (inclusive) narrow the daily rows (daily charts, counts, window); `repo` narrows the daily
    rows and the correlations to that repo (the pooled `*` rows are then left out). The correlations are
    otherwise shown as passed -- their own windows are in the rows. Verdicts (one per scope of the
    correlations, `*` first) come from the adjusted columns; the overlap of the two daily tables and the
    adjusted series of the charts come from all daily rows passed (as `correlate` saw them, with `holidays`).
    Data warnings (report.gaps) cover the window's days: gaps without AI or GitHub data that hold a working day
    (weekends, holidays and days the whole team stopped are not gaps) and repos whose AI data stopped.
    The raw lists: significant = BH-adjusted raw p < 0.05 for Pearson or Spearman, ordered by adjusted p
    (descriptive, the report's appendix). `effects` is shown as given (see stats.effects.compute_effects).
    The team view (report.teams) sums `developer_daily` (daily_developer_metrics rows) in the dates asked for, per
    team, or for `team` alone with its people; it is shown with `by_team`, `team`, or whenever a row has a team.
    """
    since_d = to_date(since) if since is not None else None
    until_d = to_date(until) if until is not None else None

    def keep(row: dict) -> bool:
        day = to_date(row["event_date"])
        if since_d is not None and day < since_d:
            return False
        if until_d is not None and day > until_d:
            return False
        return repo is None or str(row["repo"]) == repo

    all_sessions = as_rows(session_daily)
    all_github = as_rows(github_daily)
    sessions = [row for row in all_sessions if keep(row)]
    github = [row for row in all_github if keep(row)]
    rows = [row for row in correlations if repo is None or str(row["repo"]) == repo]
    associations = [Association.from_row(row) for row in rows]
    ordered = sorted(associations, key=_sort_key)
    significant = [a for a in ordered if a.significant]
    not_significant = [a for a in ordered if not a.significant and a.best_p_adj is not None][:TOP_NOT_SIGNIFICANT]

    days = [to_date(row["event_date"]) for row in sessions + github]
    repos = sorted({str(row["repo"]) for row in sessions + github})
    counts = {
        "session_daily_rows": len(sessions),
        "github_daily_rows": len(github),
        "repos": len(repos),
        "correlation_rows": len(rows),
        "tests": sum((a.pearson_p is not None) + (a.spearman_p is not None) for a in associations),
        "significant": len(significant),
    }
    by_scope: dict[str, list[Association]] = {}
    for a in associations:
        by_scope.setdefault(a.repo, []).append(a)
    scopes = sorted(by_scope, key=lambda scope: (scope != POOLED, scope))
    # Every scope's daily series and the team's non-working days, once, as `correlate` built them.
    x_metrics = sorted({a.x_metric for a in associations} | {DEFAULT_PAIR[0]})
    y_metrics = sorted({a.y_metric for a in associations} | {DEFAULT_PAIR[1]})
    daily_by_scope = {s.repo: s for s in daily_scopes(all_sessions, all_github, x_metrics, y_metrics)}
    off_days = non_working_days(all_sessions, all_github, holidays=holidays)
    verdicts = []
    charts = {}
    for scope in scopes:
        items = by_scope[scope]
        daily = daily_by_scope.get(scope)
        span = daily.overlap(_window(items)) if daily is not None else None
        overlap_days = (span[1] - span[0]).days + 1 if span else None
        if span is None and (all_sessions or all_github):
            overlap_days = 0
        verdicts.append(judge(scope, items, overlap_days, daily, span))
        charts[scope] = _charts(scope, items, daily, off_days)
    counts["verdicts_link"] = sum(v.verdict == LINK for v in verdicts)
    window = (min(days), max(days)) if days else None
    warnings = data_warnings(sessions, github, window, off_days, per_repo=repo is None)
    counts["data_warnings"] = len(warnings)
    developer_rows = [
        row
        for row in as_rows(developer_daily)
        if (since_d is None or to_date(row["event_date"]) >= since_d)
        and (until_d is None or to_date(row["event_date"]) <= until_d)
    ]
    show_teams = by_team or team is not None or any(row.get("team") for row in developer_rows)
    versions = sorted({str(row.get("input_version")) for row in rows if row.get("input_version")})
    return Report(
        since=since_d,
        until=until_d,
        repo_filter=repo,
        window_start=min(days) if days else None,
        window_end=max(days) if days else None,
        counts=counts,
        significant=significant,
        not_significant=not_significant,
        associations=associations,
        daily=_daily_series(sessions, github, repos, pooled=repo is None),
        effects=dict(effects or {}),
        correlation_versions=versions,
        verdicts=verdicts,
        charts=charts,
        warnings=warnings,
        teams=team_view(developer_rows, team) if show_teams else None,
        rollouts=rollout_view(as_rows(rollout_effects), repo),
        cohorts=cohort_view(
            row
            for row in as_rows(cohorts)
            if (since_d is None or to_date(row["week"]) >= since_d - timedelta(days=6))
            and (until_d is None or to_date(row["week"]) <= until_d)
        ),
        pull_requests_ai=pr_ai_view(
            (
                row
                for row in as_rows(pull_request_ai)
                if row.get("merged_at") is None
                or (
                    (since_d is None or row["merged_at"].date() >= since_d)
                    and (until_d is None or row["merged_at"].date() <= until_d)
                )
            ),
            repo,
        ),
    )
