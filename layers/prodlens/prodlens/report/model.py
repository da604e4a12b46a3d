"""The report model: what the text, JSON and HTML renderers show, built from the lake's tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prodlens.stats.correlate import POOLED, Rows, as_rows, metric_value, to_date

ALPHA = 0.05
TOP_NOT_SIGNIFICANT = 10

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
    "Method: Pearson r and Spearman rho between daily totals (days without data count as 0), the delivery "
    "metric taken 0-7 days after AI use; two-sided p-values; Benjamini-Hochberg adjustment per repo and "
    "method; 95% CI by Fisher z; significant means adjusted p < 0.05. An association is not proof of cause."
).replace("Benjamini-Hochberg", "Benjamini–Hochberg")


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
    """One correlations row as the report shows it."""

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

    @property
    def best_p_adj(self) -> float | None:
        """The smaller adjusted p of the two methods (None if neither was computed)."""
        values = [p for p in (self.pearson_p_adj, self.spearman_p_adj) if p is not None]
        return min(values) if values else None

    @classmethod
    def from_row(cls, row: dict[str, Any], alpha: float = ALPHA) -> Association:
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
        )


@dataclass(frozen=True)
class DailyPoint:
    day: date
    request_count: float
    commit_count: float
    merged_pr_count: float


@dataclass
class Report:
    """Everything a renderer needs; `render_json` serializes it as is."""

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

    @property
    def days(self) -> int:
        if self.window_start is None or self.window_end is None:
            return 0
        return (self.window_end - self.window_start).days + 1


def _sort_key(a: Association) -> tuple:
    best = a.best_p_adj
    strength = max(abs(a.pearson_r or 0.0), abs(a.spearman_rho or 0.0))
    return (best if best is not None else 2.0, -strength, a.repo, a.x_metric, a.y_metric, a.lag_days)


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
) -> Report:
    """Assemble the report.

    `since`/`until` (inclusive) narrow the daily rows (charts, counts, window); `repo` narrows the daily
    rows and the correlations to that repo (the pooled `*` rows are then left out). The correlations are
    otherwise shown as passed -- their own windows are in the rows. Significant = BH-adjusted p < 0.05
    for Pearson or Spearman; they come first, ordered by adjusted p. `effects` is shown as given
    (see stats.effects.compute_effects).
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

    sessions = [row for row in as_rows(session_daily) if keep(row)]
    github = [row for row in as_rows(github_daily) if keep(row)]
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
    )
