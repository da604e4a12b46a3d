"""Effect sizes and efficiency figures for the report; every result carries the n it rests on.

All functions take plain rows (list of dicts, or columns as a mapping of sequences) and return
JSON-safe dicts (floats or None, ints, ISO date strings).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from prodlens.stats.correlate import Rows, as_rows, metric_value, to_date

EFFECT_METRICS = ("latency_ms", "total_tokens")


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class Moments:
    """n, mean and M2 (the sum of squared deviations from the mean) of a sample: enough for its variance."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values) -> Moments:
        a = np.asarray(list(values), dtype=float)
        if not a.size:
            return cls()
        mean = float(a.mean())
        return cls(int(a.size), mean, float(((a - mean) ** 2).sum()))

    def merge(self, other: Moments) -> Moments:
        """The moments of both samples together (Chan et al.'s pairwise update)."""
        if not other.n:
            return self
        if not self.n:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta * delta * self.n * other.n / n)


def cohens_d_from_moments(group1: Moments, group2: Moments) -> dict[str, Any]:
    """Cohen's d = (mean1 - mean2) / pooled SD, with the true pooled SD.

    pooled SD = sqrt(((n1-1) s1^2 + (n2-1) s2^2) / (n1 + n2 - 2)) = sqrt((M2_1 + M2_2) / (n1 + n2 - 2)).
    d is None when either group has fewer than 2 values or the pooled SD is 0.
    Returns d, n1, n2, n (= n1 + n2), mean1, mean2, pooled_sd.
    """
    n1, n2 = group1.n, group2.n
    out: dict[str, Any] = {
        "d": None,
        "n1": n1,
        "n2": n2,
        "n": n1 + n2,
        "mean1": group1.mean if n1 else None,
        "mean2": group2.mean if n2 else None,
        "pooled_sd": None,
    }
    if n1 < 2 or n2 < 2:
        return out
    pooled_sd = math.sqrt((group1.m2 + group2.m2) / (n1 + n2 - 2))
    out["pooled_sd"] = pooled_sd
    if pooled_sd > 0:
        out["d"] = (group1.mean - group2.mean) / pooled_sd
    return out


def cohens_d(group1, group2) -> dict[str, Any]:
    """Cohen's d of two samples of values (see cohens_d_from_moments)."""
    return cohens_d_from_moments(Moments.of(group1), Moments.of(group2))


# The trace-level figures rest on one small summary: a row per (model, accepted_flag) with counts, sums and
# the moments of each effect metric. The report service computes it in SQL over any number of traces
# (TRACE_SUMMARY_SQL); summarize_traces computes the same from rows in Python.
TRACE_SUMMARY_SQL = (
    "SELECT model, accepted_flag, count(*) AS requests,"
    " sum(coalesce(total_tokens, 0)) AS total_tokens, sum(coalesce(accepted_lines, 0)) AS accepted_lines"
    + "".join(
        f", count({m}) AS {m}_n, coalesce(avg({m}), 0) AS {m}_mean,"
        f" coalesce(var_samp({m}) * (count({m}) - 1), 0) AS {m}_m2"
        for m in EFFECT_METRICS
    )
    + " FROM traces{where} GROUP BY model, accepted_flag"
)


def summarize_traces(traces: Rows) -> list[dict[str, Any]]:
    """TRACE_SUMMARY_SQL's rows, from trace-level rows."""
    groups: dict[tuple[Any, Any], dict[str, Any]] = {}
    values: dict[tuple[Any, Any], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in as_rows(traces):
        flag = row.get("accepted_flag")
        key = (row.get("model"), None if flag is None else bool(flag))
        group = groups.setdefault(
            key, {"model": key[0], "accepted_flag": key[1], "requests": 0, "total_tokens": 0.0, "accepted_lines": 0.0}
        )
        group["requests"] += 1
        group["total_tokens"] += metric_value(row.get("total_tokens"))
        group["accepted_lines"] += metric_value(row.get("accepted_lines"))
        for metric in EFFECT_METRICS:
            value = _number(row.get(metric))
            if value is not None:
                values[key][metric].append(value)
    for key, group in groups.items():
        for metric in EFFECT_METRICS:
            moments = Moments.of(values[key][metric])
            group.update({f"{metric}_n": moments.n, f"{metric}_mean": moments.mean, f"{metric}_m2": moments.m2})
    return list(groups.values())


def _group_moments(summary: list[dict[str, Any]], metric: str, accepted: bool) -> Moments:
    total = Moments()
    for group in summary:
        if group["accepted_flag"] is not None and bool(group["accepted_flag"]) == accepted:
            total = total.merge(
                Moments(int(group[f"{metric}_n"]), float(group[f"{metric}_mean"]), float(group[f"{metric}_m2"]))
            )
    return total


def accepted_effect_sizes(traces: Rows, metrics: tuple[str, ...] = EFFECT_METRICS) -> dict[str, dict[str, Any]]:
    """Cohen's d of each metric for accepted (group 1) vs not-accepted (group 2) requests.

    Trace-level rows; accepted_flag True vs False (null = undecided, excluded); rows whose metric is
    null are excluded for that metric. Positive d: accepted requests have the larger mean.
    """
    return _effect_sizes(summarize_traces(traces), metrics)


def _effect_sizes(summary: list[dict[str, Any]], metrics: tuple[str, ...] = EFFECT_METRICS) -> dict[str, Any]:
    return {
        m: cohens_d_from_moments(_group_moments(summary, m, True), _group_moments(summary, m, False)) for m in metrics
    }


def acceptance_by_model(traces: Rows) -> list[dict[str, Any]]:
    """Per model: accepted / decided, where decided = accepted_flag not null; n = decided.

    rate is None when nothing was decided. Sorted by decided count, descending, then model.
    A null model is reported as "(unknown)".
    """
    return _acceptance(summarize_traces(traces))


def _acceptance(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for group in summary:
        entry = counts[str(group["model"] or "(unknown)")]
        requests = int(group["requests"])
        entry[2] += requests
        if group["accepted_flag"] is None:
            continue
        entry[1] += requests
        entry[0] += requests if bool(group["accepted_flag"]) else 0
    result = [
        {"model": model, "accepted": acc, "decided": dec, "requests": req, "rate": _ratio(acc, dec), "n": dec}
        for model, (acc, dec, req) in counts.items()
    ]
    return sorted(result, key=lambda e: (-e["decided"], e["model"]))


def tokens_per_accepted_line(traces: Rows) -> dict[str, Any]:
    """sum(total_tokens) / sum(accepted_lines) over accepted requests (accepted_flag true).

    Nulls count as 0; value None when no accepted lines. n = number of accepted requests.
    """
    return _tokens_per_line(summarize_traces(traces))


def _tokens_per_line(summary: list[dict[str, Any]]) -> dict[str, Any]:
    accepted = [g for g in summary if g["accepted_flag"] is not None and bool(g["accepted_flag"])]
    tokens = float(sum(g["total_tokens"] for g in accepted))
    lines = float(sum(g["accepted_lines"] for g in accepted))
    n = int(sum(g["requests"] for g in accepted))
    return {"value": _ratio(tokens, lines), "total_tokens": tokens, "accepted_lines": lines, "n": n}


def cost_per_merged_pr(session_daily: Rows, github_daily: Rows) -> list[dict[str, Any]]:
    """Per repo: sum(cost_usd) / sum(merged_pr_count) over the daily rows given (None if 0 merged).

    n = merged PRs (the denominator). Repos from either table, sorted by name.
    """
    cost: dict[str, float] = defaultdict(float)
    merged: dict[str, float] = defaultdict(float)
    for row in as_rows(session_daily):
        cost[str(row["repo"])] += metric_value(row.get("cost_usd"))
    for row in as_rows(github_daily):
        merged[str(row["repo"])] += metric_value(row.get("merged_pr_count"))
    return [
        {
            "repo": repo,
            "cost_usd": cost.get(repo, 0.0),
            "merged_prs": int(merged.get(repo, 0.0)),
            "value": _ratio(cost.get(repo, 0.0), merged.get(repo, 0.0)),
            "n": int(merged.get(repo, 0.0)),
        }
        for repo in sorted(set(cost) | set(merged))
    ]


def request_growth(session_daily: Rows) -> dict[str, Any]:
    """Growth of request_count, all repos pooled (daily sums).

    day_over_day: the last day with any row vs the previous day with any row (not necessarily the
    calendar day before): growth = (last - previous) / previous, None if previous is 0 or missing.
    week_over_week: the 7 calendar days ending on the last day with data (inclusive) vs the 7 days
    before them; growth likewise. n = days with data in the compared periods.
    """
    totals: dict[Any, float] = defaultdict(float)
    for row in as_rows(session_daily):
        totals[to_date(row["event_date"])] += metric_value(row.get("request_count"))
    days = sorted(totals)
    out: dict[str, Any] = {
        "day_over_day": {
            "last_day": None,
            "previous_day": None,
            "last": None,
            "previous": None,
            "growth": None,
            "n": 0,
        },
        "week_over_week": {
            "last_start": None,
            "last_end": None,
            "last": None,
            "previous": None,
            "growth": None,
            "n": 0,
        },
    }
    if not days:
        return out
    last_day = days[-1]
    dod = out["day_over_day"]
    dod.update(last_day=last_day.isoformat(), last=totals[last_day], n=1)
    if len(days) > 1:
        prev_day = days[-2]
        dod.update(previous_day=prev_day.isoformat(), previous=totals[prev_day], n=2)
        dod["growth"] = _ratio(totals[last_day] - totals[prev_day], totals[prev_day])
    start = last_day - timedelta(days=6)
    prev_start = start - timedelta(days=7)
    last_week = [d for d in days if start <= d <= last_day]
    prev_week = [d for d in days if prev_start <= d < start]
    last_total = sum(totals[d] for d in last_week)
    prev_total = sum(totals[d] for d in prev_week)
    out["week_over_week"] = {
        "last_start": start.isoformat(),
        "last_end": last_day.isoformat(),
        "last": last_total,
        "previous": prev_total,
        "growth": _ratio(last_total - prev_total, prev_total),
        "n": len(last_week) + len(prev_week),
    }
    return out


def compute_effects(traces: Rows, session_daily: Rows, github_daily: Rows) -> dict[str, Any]:
    """Every report figure in one dict: the `effects` argument of report.build_report."""
    return effects_from_summary(summarize_traces(traces), session_daily, github_daily)


def effects_from_summary(
    trace_summary: list[dict[str, Any]], session_daily: Rows, github_daily: Rows
) -> dict[str, Any]:
    """compute_effects from a trace summary (TRACE_SUMMARY_SQL or summarize_traces) instead of trace rows."""
    return {
        "cohens_d": _effect_sizes(trace_summary),
        "acceptance_by_model": _acceptance(trace_summary),
        "tokens_per_accepted_line": _tokens_per_line(trace_summary),
        "cost_per_merged_pr": cost_per_merged_pr(session_daily, github_daily),
        "request_growth": request_growth(session_daily),
    }
