"""Timing of the correlation engine: a year of daily rows for 50 repos, and one repo over 30 days.

    python bench/bench_correlate.py            # full run
    BENCH_QUICK=1 python bench/bench_correlate.py   # small CI run

Prints one line per case (best of N runs, seconds) and a JSON summary line.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
from prodlens.stats import correlate, input_version

COMPUTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def daily_rows(repos: int, days: int, seed: int = 1) -> tuple[list[dict], list[dict]]:
    """Synthetic daily tables with gaps (about 80 % / 60 % of days have a row)."""
    rng = np.random.default_rng(seed)
    start = date(2025, 1, 1)
    sessions, github = [], []
    for r in range(repos):
        repo = f"org/repo-{r:03d}"
        for d in range(days):
            day = start + timedelta(days=d)
            if rng.random() < 0.8:
                requests = int(rng.poisson(25))
                sessions.append(
                    {
                        "event_date": day,
                        "repo": repo,
                        "request_count": requests,
                        "session_count": int(rng.poisson(4)),
                        "total_tokens": int(requests * rng.normal(5000, 800)),
                        "accepted_count": int(rng.binomial(requests, 0.3)),
                        "cost_usd": round(float(rng.gamma(2, 1.5)), 4),
                    }
                )
            if rng.random() < 0.6:
                github.append(
                    {
                        "event_date": day,
                        "repo": repo,
                        "commit_count": int(rng.poisson(6)),
                        "merged_pr_count": int(rng.poisson(1.5)),
                    }
                )
    return sessions, github


def best_of(runs: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    quick = os.environ.get("BENCH_QUICK") == "1"
    repos, days, runs = (5, 90, 1) if quick else (50, 365, 3)
    sessions, github = daily_rows(repos, days)
    version_s, version = best_of(runs, lambda: input_version(sessions, github))
    full_s, rows = best_of(runs, lambda: correlate(sessions, github, input_version=version, computed_at=COMPUTED_AT))
    print(f"input_version  {repos} repos x {days} days ({len(sessions) + len(github)} rows): {version_s:.3f} s")
    print(
        f"correlate      {repos} repos x {days} days -> {len(rows)} rows (10 pairs x 8 lags x 2 methods + BH): "
        f"{full_s:.3f} s"
    )

    one_s, one = daily_rows(1, 30, seed=2)
    repo_s, repo_rows = best_of(
        20 if not quick else 3, lambda: correlate(one_s, one, input_version="bench", computed_at=COMPUTED_AT)
    )
    print(f"correlate      1 repo x 30 days -> {len(repo_rows)} rows: {repo_s * 1000:.1f} ms")
    print(
        json.dumps(
            {
                "bench": "correlate",
                "quick": quick,
                "repos": repos,
                "days": days,
                "rows": len(rows),
                "input_version_s": round(version_s, 4),
                "correlate_s": round(full_s, 4),
                "one_repo_30_days_ms": round(repo_s * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
