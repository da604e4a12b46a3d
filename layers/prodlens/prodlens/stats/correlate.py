"""The `correlations` table: lagged Pearson/Spearman of daily AI use against daily delivery, per repo.

Contract (docs/metrics.md, correlations): one row per (repo, x_metric, y_metric, lag_days), for
every repo and for `*` (all repos pooled by summing daily values).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from prodlens.stats.adjusted import AdjustedSeries, adjust_series, adjusted_lagged, holiday_mask, team_off_days
from prodlens.stats.core import bh_adjust, lagged_correlations
from prodlens.stats.special import correlation_pvalue, fisher_ci, pearson_pvalue

POOLED = "*"
X_METRICS = ("request_count", "session_count", "total_tokens", "accepted_count", "cost_usd")
Y_METRICS = ("commit_count", "merged_pr_count")
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = tuple((x, y) for x in X_METRICS for y in Y_METRICS)
DEFAULT_LAGS = range(0, 8)
LOW_SAMPLE_BELOW = 6

Rows = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]


def as_rows(data: Rows | Iterable[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """Rows as a list of mappings; accepts a list of dicts or columns (a mapping of equal-length sequences)."""
    if data is None:
        return []
    if isinstance(data, Mapping):
        names = list(data)
        columns = [list(data[name]) for name in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    return list(data)


def to_date(value: Any) -> date:
    """A calendar day from a date, datetime, numpy datetime64 or an ISO string ('YYYY-MM-DD...')."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return date.fromisoformat(str(value.astype("datetime64[D]")))
    return date.fromisoformat(str(value)[:10])


def metric_value(value: Any) -> float:
    """A daily metric as a float; null (None or NaN) counts as 0."""
    if value is None:
        return 0.0
    number = float(value)
    return 0.0 if math.isnan(number) else number


def _daily_by_repo(
    rows: list[Mapping[str, Any]], metrics: Sequence[str], window: tuple[date, date] | None
) -> dict[str, dict[date, np.ndarray]]:
    """repo -> day -> metric vector (duplicate (day, repo) rows are summed)."""
    out: dict[str, dict[date, np.ndarray]] = {}
    for row in rows:
        day = to_date(row["event_date"])
        if window is not None and not (window[0] <= day <= window[1]):
            continue
        vector = np.array([metric_value(row.get(m)) for m in metrics])
        days = out.setdefault(str(row["repo"]), {})
        if day in days:
            days[day] = days[day] + vector
        else:
            days[day] = vector
    return out


def _series(by_day: dict[date, np.ndarray], start: date, days: int, width: int) -> np.ndarray:
    """The days from `start` on, one row each (0 without data); days outside them are left out."""
    series = np.zeros((days, width))
    origin = start.toordinal()
    for day, vector in by_day.items():
        index = day.toordinal() - origin
        if 0 <= index < days:
            series[index] = vector
    return series


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class Scope:
    """One repo (or `*`, all repos pooled): its metric vectors by day in each daily table."""

    repo: str
    x_metrics: tuple[str, ...]
    y_metrics: tuple[str, ...]
    x_days: dict[date, np.ndarray]  # day -> one value per x metric (daily_session_metrics)
    y_days: dict[date, np.ndarray]  # day -> one value per y metric (daily_github_metrics)

    def series(self, window: tuple[date, date] | None) -> tuple[date, date, np.ndarray, np.ndarray]:
        """(start, end, x, y): every day of the window (default: first to last day with a row), 0 if none."""
        if window is not None:
            start, end = window
        else:
            all_days = list(self.x_days) + list(self.y_days)
            start, end = min(all_days), max(all_days)
        days = (end - start).days + 1
        x = _series(self.x_days, start, days, len(self.x_metrics))
        return start, end, x, _series(self.y_days, start, days, len(self.y_metrics))

    def overlap(self, window: tuple[date, date] | None = None) -> tuple[date, date] | None:
        """The days both tables cover (inside `window` when given): see `overlap`."""
        x_days, y_days = list(self.x_days), list(self.y_days)
        if window is not None:
            x_days = [d for d in x_days if window[0] <= d <= window[1]]
            y_days = [d for d in y_days if window[0] <= d <= window[1]]
        return overlap(x_days, y_days)


def daily_scopes(
    session_daily: Rows,
    github_daily: Rows,
    x_metrics: Sequence[str],
    y_metrics: Sequence[str],
    window: tuple[date, date] | None = None,
) -> list[Scope]:
    """`*` (all repos pooled by summing daily values) first, then each repo, sorted; [] without rows."""
    sessions = _daily_by_repo(as_rows(session_daily), x_metrics, window)
    github = _daily_by_repo(as_rows(github_daily), y_metrics, window)
    repos = sorted(set(sessions) | set(github))
    if not repos:
        return []

    def pooled(tables: dict[str, dict[date, np.ndarray]], width: int) -> dict[date, np.ndarray]:
        total: dict[date, np.ndarray] = {}
        for by_day in tables.values():
            for day, vector in by_day.items():
                total[day] = total.get(day, np.zeros(width)) + vector
        return total

    x_metrics, y_metrics = tuple(x_metrics), tuple(y_metrics)
    scopes = [Scope(POOLED, x_metrics, y_metrics, pooled(sessions, len(x_metrics)), pooled(github, len(y_metrics)))]
    return scopes + [Scope(repo, x_metrics, y_metrics, sessions.get(repo, {}), github.get(repo, {})) for repo in repos]


def correlate(
    session_daily: Rows,
    github_daily: Rows,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    lags: Iterable[int] = DEFAULT_LAGS,
    window: tuple[date, date] | None = None,
    holidays: Iterable[date] = (),
    input_version: str,
    computed_at: datetime,
) -> list[dict[str, Any]]:
    """Rows of the `correlations` table (columns exactly schema.CORRELATIONS) from the two daily tables.

    Parameters
    ----------
    session_daily, github_daily
        daily_session_metrics / daily_github_metrics rows (list of dicts, or columns as a mapping of
        sequences). Each needs `event_date` and `repo` plus the metrics named in `pairs`.
    pairs
        (x_metric from session_daily, y_metric from github_daily); default 5 x 2 pairs.
    lags
        lag k pairs x(d) with y(d + k) (y after x for k > 0); default 0..7.
    window
        (start, end) inclusive; rows outside are ignored. Default per repo: the first to the last
        event_date with a row for that repo in either table; for `*` the same over all repos.
        With an explicit window, repos with no row inside it are omitted.
    holidays
        days off for the whole team, in addition to those found from the data (stats.adjusted).

    Rules: every calendar day of the window is a point, 0 where a table has no row (null metrics
    count as 0); n = days - |k|; n < 3 or a constant lagged series gives null r/rho/p; the Fisher-z
    95 % CI is null when n < 4; p-values are two-sided (as scipy.stats.pearsonr / spearmanr); the
    BH-adjusted p is computed per (repo, method) family over that repo's non-null p-values;
    low_sample = n < 6. Rows are ordered `*` first, then repos sorted, then pairs, then lags.

    The adjusted columns (adj_r, adj_ci_low, adj_ci_high, adj_p, n_eff, adj_p_adj) come from
    stats.adjusted on the days both tables cover (the first to the last day with a row in each);
    they are null when those days are too few; adj_p_adj is BH over the repo's adj_p.
    """
    lags = tuple(int(k) for k in lags)
    pairs = tuple((str(x), str(y)) for x, y in pairs)
    x_metrics = tuple(dict.fromkeys(x for x, _ in pairs))
    y_metrics = tuple(dict.fromkeys(y for _, y in pairs))
    x_index = [x_metrics.index(x) for x, _ in pairs]
    y_index = [y_metrics.index(y) for _, y in pairs]
    if window is not None:
        window = (to_date(window[0]), to_date(window[1]))

    scopes = daily_scopes(session_daily, github_daily, x_metrics, y_metrics, window)
    if not scopes:
        return []
    off_days = non_working_days(session_daily, github_daily, window, holidays)

    blocks = []
    for scope in scopes:
        start, end, x, y = scope.series(window)
        stats = lagged_correlations(x, y, lags, with_p=False)
        series = _adjusted_series(scope, x, y, start, off_days)
        adjusted = adjusted_lagged(series, lags) if series is not None else None
        # (lags, p, q) -> (pairs, lags): one row per pair and lag, pairs outermost
        pick = (slice(None), x_index, y_index)

        def flat(values: np.ndarray, pick=pick) -> np.ndarray:
            return values[pick].T.reshape(-1)

        adj = {name: flat(getattr(adjusted, name)) for name in ADJUSTED_FIELDS} if adjusted else None
        blocks.append(
            (
                scope.repo,
                start,
                end,
                flat(stats.n),
                flat(stats.pearson_r),
                flat(stats.spearman_rho),
                adj,
            )
        )

    # One batch for every p-value and CI of every repo (the continued fraction is vectorized).
    n_all = np.concatenate([b[3] for b in blocks])
    r_all = np.concatenate([b[4] for b in blocks])
    rho_all = np.concatenate([b[5] for b in blocks])
    pearson_p = pearson_pvalue(r_all, n_all)
    spearman_p = correlation_pvalue(rho_all, n_all)
    ci_low, ci_high = fisher_ci(r_all, n_all)

    rows: list[dict[str, Any]] = []
    offset = 0
    for repo, start, end, n, _, _, repo_adj in blocks:
        size = len(n)
        part = slice(offset, offset + size)
        pearson_adj = bh_adjust(pearson_p[part])
        spearman_adj = bh_adjust(spearman_p[part])
        adj = repo_adj if repo_adj is not None else {name: np.full(size, np.nan) for name in ADJUSTED_FIELDS}
        adj_p_adj = bh_adjust(adj["p"])
        for j in range(size):
            i = offset + j
            pair = pairs[j // len(lags)]
            rows.append(
                {
                    "repo": repo,
                    "x_metric": pair[0],
                    "y_metric": pair[1],
                    "lag_days": lags[j % len(lags)],
                    "window_start": start,
                    "window_end": end,
                    "n": int(n[j]),
                    "pearson_r": _none_if_nan(r_all[i]),
                    "pearson_p": _none_if_nan(pearson_p[i]),
                    "pearson_ci_low": _none_if_nan(ci_low[i]),
                    "pearson_ci_high": _none_if_nan(ci_high[i]),
                    "spearman_rho": _none_if_nan(rho_all[i]),
                    "spearman_p": _none_if_nan(spearman_p[i]),
                    "pearson_p_adj": _none_if_nan(pearson_adj[j]),
                    "spearman_p_adj": _none_if_nan(spearman_adj[j]),
                    "low_sample": int(n[j]) < LOW_SAMPLE_BELOW,
                    "adj_r": _none_if_nan(adj["r"][j]),
                    "adj_ci_low": _none_if_nan(adj["ci_low"][j]),
                    "adj_ci_high": _none_if_nan(adj["ci_high"][j]),
                    "adj_p": _none_if_nan(adj["p"][j]),
                    "n_eff": _none_if_nan(adj["n_eff"][j]),
                    "adj_p_adj": _none_if_nan(adj_p_adj[j]),
                    "input_version": input_version,
                    "computed_at": computed_at,
                }
            )
        offset += size
    return rows


ADJUSTED_FIELDS = ("r", "ci_low", "ci_high", "p", "n_eff")
OFF_DAY_METRICS = ("request_count", "commit_count")


def non_working_days(
    session_daily: Rows,
    github_daily: Rows,
    window: tuple[date, date] | None = None,
    holidays: Iterable[date] = (),
) -> frozenset[date]:
    """Non-working weekdays of the whole team: configured holidays, and days the pooled data shows stopped.

    Found from the pooled AI requests and commits (OFF_DAY_METRICS), whatever pairs are computed, so that
    every row and chart uses the same calendar (stats.adjusted.team_off_days).
    """
    days = {to_date(day) for day in holidays}
    x_metric, y_metric = OFF_DAY_METRICS
    scopes = daily_scopes(session_daily, github_daily, (x_metric,), (y_metric,), window)
    if scopes:
        start, _, x, y = scopes[0].series(None)
        found = team_off_days([x[:, 0], y[:, 0]], start)
        days.update(start + timedelta(days=int(i)) for i in np.flatnonzero(found))
    return frozenset(days)


def overlap(x_days: Iterable[date], y_days: Iterable[date]) -> tuple[date, date] | None:
    """The days both tables cover: from the later of their first days to the earlier of their last days."""
    x_days, y_days = list(x_days), list(y_days)
    if not x_days or not y_days:
        return None
    start, end = max(min(x_days), min(y_days)), min(max(x_days), max(y_days))
    return (start, end) if start <= end else None


def _adjusted_series(
    scope: Scope, x: np.ndarray, y: np.ndarray, start: date, off_days: frozenset[date]
) -> AdjustedSeries | None:
    """The scope's series adjusted for the calendar, on the days both tables cover (None if too few)."""
    both = scope.overlap()
    if both is None:
        return None
    first, last = (both[0] - start).days, (both[1] - start).days  # rows were already cut to the window
    days = last - first + 1
    return adjust_series(x[first : last + 1], y[first : last + 1], both[0], holiday_mask(off_days, both[0], days))


def adjusted_pair(
    scope: Scope, x_metric: str, y_metric: str, off_days: frozenset[date], window: tuple[date, date] | None = None
) -> AdjustedSeries | None:
    """The two adjusted daily series behind one correlations row (for charts), exactly as `correlate` used them.

    `scope` from daily_scopes (with the same window), `off_days` from non_working_days.
    """
    start, _, x, y = scope.series(window)
    i, j = scope.x_metrics.index(x_metric), scope.y_metrics.index(y_metric)
    return _adjusted_series(scope, x[:, [i]], y[:, [j]], start, off_days)


def _canonical(value: Any) -> Any:
    """A JSON-safe, float-stable form: integral numbers as ints, others by shortest repr, days ISO."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return None
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return repr(number)


def input_version(session_rows: Rows, github_rows: Rows, holidays: Iterable[date] = ()) -> str:
    """sha256 hex of the daily rows (and the configured holidays): independent of row and key order and of
    int/float spelling.

    Every column of every row is included (so any change of the daily tables changes the version).
    `event_date` is normalised to 'YYYY-MM-DD'; NaN and None are the same (null).
    """
    digest = hashlib.sha256()
    holidays = sorted({to_date(day) for day in holidays})
    if holidays:  # no holidays: the same version as before there were any
        digest.update(("holidays " + ",".join(day.isoformat() for day in holidays) + "\n").encode())
    for label, rows in (("daily_session_metrics", session_rows), ("daily_github_metrics", github_rows)):
        lines = []
        for row in as_rows(rows):
            canonical = {str(k): _canonical(v) for k, v in row.items()}
            if "event_date" in row and row["event_date"] is not None:
                canonical["event_date"] = to_date(row["event_date"]).isoformat()
            lines.append(json.dumps(canonical, sort_keys=True, separators=(",", ":")))
        digest.update(f"{label}\n".encode())
        for line in sorted(lines):
            digest.update(line.encode())
            digest.update(b"\n")
    return digest.hexdigest()
