"""Effect sizes and efficiency figures for the report; every result carries the n it rests on.

All functions take plain rows (list of dicts, or columns as a mapping of sequences) and return
JSON-safe dicts (floats or None, ints, ISO date strings).
"""

from __future__ import annotations

import math
from collections import defaultdict
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


def cohens_d(group1, group2) -> dict[str, Any]:
    """Cohen's d = (mean1 - mean2) / pooled SD, with the true pooled SD.

    pooled SD = sqrt(((n1-1) s1^2 + (n2-1) s2^2) / (n1 + n2 - 2)), s1, s2 the sample SDs (ddof=1).
    d is None when either group has fewer than 2 values or the pooled SD is 0.
    Returns d, n1, n2, n (= n1 + n2), mean1, mean2, pooled_sd.
    """
    a = np.asarray(list(group1), dtype=float)
    b = np.asarray(list(group2), dtype=float)
    n1, n2 = int(a.size), int(b.size)
    out: dict[str, Any] = {
        "d": None,
        "n1": n1,
        "n2": n2,
        "n": n1 + n2,
        "mean1": float(a.mean()) if n1 else None,
        "mean2": float(b.mean()) if n2 else None,
        "pooled_sd": None,
    }
    if n1 < 2 or n2 < 2:
        return out
    pooled_var = ((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2)
    pooled_sd = math.sqrt(pooled_var)
    out["pooled_sd"] = pooled_sd
    if pooled_sd > 0:
        out["d"] = (out["mean1"] - out["mean2"]) / pooled_sd
    return out


def accepted_effect_sizes(traces: Rows, metrics: tuple[str, ...] = EFFECT_METRICS) -> dict[str, dict[str, Any]]:
    """Cohen's d of each metric for accepted (group 1) vs not-accepted (group 2) requests.

    Trace-level rows; accepted_flag True vs False (null = undecided, excluded); rows whose metric is
    null are excluded for that metric. Positive d: accepted requests have the larger mean.
    """
    rows = as_rows(traces)
    out = {}
    for metric in metrics:
        accepted, rejected = [], []
        for row in rows:
            flag = row.get("accepted_flag")
            value = _number(row.get(metric))
            if flag is None or value is None:
                continue
            (accepted if bool(flag) else rejected).append(value)
        out[metric] = cohens_d(accepted, rejected)
    return out


def acceptance_by_model(traces: Rows) -> list[dict[str, Any]]:
    """Per model: accepted / decided, where decided = accepted_flag not null; n = decided.

    rate is None when nothing was decided. Sorted by decided count, descending, then model.
    A null model is reported as "(unknown)".
    """
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in as_rows(traces):
        model = row.get("model") or "(unknown)"
        entry = counts[str(model)]
        entry[2] += 1
        flag = row.get("accepted_flag")
        if flag is None:
            continue
        entry[1] += 1
        entry[0] += int(bool(flag))
    result = [
        {"model": model, "accepted": acc, "decided": dec, "requests": req, "rate": _ratio(acc, dec), "n": dec}
        for model, (acc, dec, req) in counts.items()
    ]
    return sorted(result, key=lambda e: (-e["decided"], e["model"]))


def tokens_per_accepted_line(traces: Rows) -> dict[str, Any]:
    """sum(total_tokens) / sum(accepted_lines) over accepted requests (accepted_flag true).

    Nulls count as 0; value None when no accepted lines. n = number of accepted requests.
    """
    tokens = 0.0
    lines = 0.0
    n = 0
    for row in as_rows(traces):
        if row.get("accepted_flag") is None or not bool(row.get("accepted_flag")):
            continue
        n += 1
        tokens += metric_value(row.get("total_tokens"))
        lines += metric_value(row.get("accepted_lines"))
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
    traces = as_rows(traces)
    return {
        "cohens_d": accepted_effect_sizes(traces),
        "acceptance_by_model": acceptance_by_model(traces),
        "tokens_per_accepted_line": tokens_per_accepted_line(traces),
        "cost_per_merged_pr": cost_per_merged_pr(session_daily, github_daily),
        "request_growth": request_growth(session_daily),
    }
