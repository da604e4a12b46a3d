"""The correlations contract (docs/metrics.md): columns, series, windows, n, nulls, BH families, input_version."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from prodlens.schema import CORRELATIONS
from prodlens.stats import DEFAULT_PAIRS, correlate, input_version
from scipy import stats

COMPUTED_AT = datetime(2026, 4, 1, 6, 30, tzinfo=UTC)
D0 = date(2026, 1, 5)
PAIR = [("request_count", "commit_count")]


def _run(sessions, github, **kwargs):
    kwargs.setdefault("input_version", "v1")
    kwargs.setdefault("computed_at", COMPUTED_AT)
    return correlate(sessions, github, **kwargs)


def _by(rows, repo, lag, pair=PAIR[0]):
    return next(
        r for r in rows if r["repo"] == repo and r["lag_days"] == lag and (r["x_metric"], r["y_metric"]) == pair
    )


def test_correlate_rows_have_exactly_the_schema_columns_and_one_row_per_key():
    # Given two repos of data
    sessions = [
        {
            "event_date": D0 + timedelta(i),
            "repo": r,
            "request_count": i % 4,
            "session_count": 1,
            "total_tokens": 10 * i,
            "accepted_count": i % 3,
            "cost_usd": 0.5 * i,
        }
        for i in range(10)
        for r in "ab"
    ]
    github = [
        {"event_date": D0 + timedelta(i), "repo": r, "commit_count": i % 5, "merged_pr_count": i % 2}
        for i in range(10)
        for r in "ab"
    ]

    # When
    rows = _run(sessions, github)

    # Then
    assert all(list(row) == CORRELATIONS.column_names for row in rows)
    keys = {(r["repo"], r["x_metric"], r["y_metric"], r["lag_days"]) for r in rows}
    assert len(keys) == len(rows) == 3 * len(DEFAULT_PAIRS) * 8
    assert {r["repo"] for r in rows} == {"*", "a", "b"}
    assert all(r["input_version"] == "v1" and r["computed_at"] == COMPUTED_AT for r in rows)


def test_correlate_missing_days_and_null_metrics_count_as_zero():
    # Given rows only on some days, one with a null metric
    sessions = [
        {"event_date": "2026-01-05", "repo": "o/r", "request_count": 5},
        {"event_date": "2026-01-07", "repo": "o/r", "request_count": None},
        {"event_date": "2026-01-09", "repo": "o/r", "request_count": 9},
        {"event_date": "2026-01-10", "repo": "o/r", "request_count": 2},
    ]
    github = [
        {"event_date": "2026-01-06", "repo": "o/r", "commit_count": 3},
        {"event_date": "2026-01-09", "repo": "o/r", "commit_count": 4},
        {"event_date": "2026-01-11", "repo": "o/r", "commit_count": 1},
    ]

    # When
    row = _by(_run(sessions, github, pairs=PAIR, lags=[0]), "o/r", 0)

    # Then the series are the zero-filled 7 days 01-05..01-11
    x = [5, 0, 0, 0, 9, 2, 0]
    y = [0, 3, 0, 0, 4, 0, 1]
    assert (row["window_start"], row["window_end"], row["n"]) == (date(2026, 1, 5), date(2026, 1, 11), 7)
    assert row["pearson_r"] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
    assert row["spearman_rho"] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_correlate_n_is_days_minus_lag_and_low_sample_below_six():
    # Given a 9-day window
    sessions = [{"event_date": D0 + timedelta(i), "repo": "o/r", "request_count": (i * 7) % 5} for i in range(9)]
    github = [{"event_date": D0 + timedelta(i), "repo": "o/r", "commit_count": (i * 3) % 4} for i in range(9)]

    # When
    rows = [r for r in _run(sessions, github, pairs=PAIR) if r["repo"] == "o/r"]

    # Then
    assert [r["n"] for r in rows] == [9 - k for k in range(8)]
    assert [r["low_sample"] for r in rows] == [(9 - k) < 6 for k in range(8)]
    short = _by(rows, "o/r", 6)  # n = 3: statistics but no CI
    assert short["pearson_r"] is not None and short["pearson_ci_low"] is None and short["pearson_ci_high"] is None
    four = _by(rows, "o/r", 5)  # n = 4: CI present
    assert four["pearson_ci_low"] is not None and four["pearson_ci_low"] <= four["pearson_r"] <= four["pearson_ci_high"]
    two = _by(rows, "o/r", 7)  # n = 2: null statistics
    assert two["pearson_r"] is None and two["spearman_rho"] is None and two["pearson_p_adj"] is None


def test_correlate_lag_pairs_x_with_later_y():
    # Given commits that copy requests one day later
    x = [3, 9, 1, 7, 2, 8, 4, 6, 0, 5]
    sessions = [{"event_date": D0 + timedelta(i), "repo": "o/r", "request_count": v} for i, v in enumerate(x)]
    github = [{"event_date": D0 + timedelta(i + 1), "repo": "o/r", "commit_count": v} for i, v in enumerate(x)]

    # When
    rows = _run(sessions, github, pairs=PAIR, lags=[0, 1])

    # Then lag 1 is a perfect association over days - 1 points
    lag1 = _by(rows, "o/r", 1)
    assert lag1["pearson_r"] == pytest.approx(1.0, abs=1e-12) and lag1["n"] == 10
    assert abs(_by(rows, "o/r", 0)["pearson_r"]) < 0.9


def test_correlate_default_window_uses_either_table_per_repo_and_all_repos_for_pooled():
    sessions = [
        {"event_date": "2026-01-10", "repo": "a", "request_count": 1},
        {"event_date": "2026-01-12", "repo": "a", "request_count": 2},
        {"event_date": "2026-01-20", "repo": "b", "request_count": 1},
    ]
    github = [
        {"event_date": "2026-01-08", "repo": "a", "commit_count": 1},
        {"event_date": "2026-01-25", "repo": "b", "commit_count": 1},
    ]
    rows = _run(sessions, github, pairs=PAIR, lags=[0])
    windows = {r["repo"]: (r["window_start"], r["window_end"], r["n"]) for r in rows}
    assert windows["a"] == (date(2026, 1, 8), date(2026, 1, 12), 5)
    assert windows["b"] == (date(2026, 1, 20), date(2026, 1, 25), 6)
    assert windows["*"] == (date(2026, 1, 8), date(2026, 1, 25), 18)


def test_correlate_explicit_window_zero_fills_and_drops_rows_outside():
    sessions = [{"event_date": D0 + timedelta(i), "repo": "o/r", "request_count": i} for i in range(30)]
    github = [{"event_date": D0 + timedelta(i), "repo": "o/r", "commit_count": i % 3} for i in range(30)]
    window = (D0 + timedelta(5), D0 + timedelta(40))
    row = _by(_run(sessions, github, pairs=PAIR, lags=[2], window=window), "o/r", 2)
    x = [float(i) for i in range(5, 30)] + [0.0] * 11
    y = [float(i % 3) for i in range(5, 30)] + [0.0] * 11
    assert (row["window_start"], row["window_end"], row["n"]) == (window[0], window[1], 34)
    assert row["pearson_r"] == pytest.approx(stats.pearsonr(x[:-2], y[2:]).statistic, abs=1e-12)


def test_correlate_bh_family_is_repo_and_method_with_nulls_left_out():
    # Given repo a with a constant y for merged PRs (null p) and varying commits
    rng = np.random.default_rng(7)
    sessions = [
        {
            "event_date": D0 + timedelta(i),
            "repo": r,
            "request_count": int(rng.integers(0, 20)),
            "cost_usd": float(rng.gamma(2.0)),
        }
        for i in range(20)
        for r in ("a", "b")
    ]
    github = [
        {
            "event_date": D0 + timedelta(i),
            "repo": r,
            "commit_count": int(rng.integers(0, 9)),
            "merged_pr_count": 1 if r == "a" else int(rng.integers(0, 3)),
        }
        for i in range(20)
        for r in ("a", "b")
    ]

    # When
    rows = _run(
        sessions,
        github,
        pairs=[
            ("request_count", "commit_count"),
            ("cost_usd", "merged_pr_count"),
            ("request_count", "merged_pr_count"),
        ],
    )

    # Then each (repo, method) family is adjusted on its own, nulls excluded and left null
    for repo in ("*", "a", "b"):
        family = [r for r in rows if r["repo"] == repo]
        for method in ("pearson", "spearman"):
            raw = [r[f"{method}_p"] for r in family if r[f"{method}_p"] is not None]
            expected = iter(stats.false_discovery_control(raw, method="bh"))
            for r in family:
                if r[f"{method}_p"] is None:
                    assert r[f"{method}_p_adj"] is None
                else:
                    assert r[f"{method}_p_adj"] == pytest.approx(next(expected), rel=1e-12)
    assert all(r["pearson_p"] is None for r in rows if r["repo"] == "a" and r["y_metric"] == "merged_pr_count")


def test_correlate_accepts_columns_and_iso_strings():
    sessions = {
        "event_date": ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"],
        "repo": ["o/r"] * 4,
        "request_count": [1, 5, 2, 8],
    }
    github = {
        "event_date": [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7), date(2026, 1, 8)],
        "repo": ["o/r"] * 4,
        "commit_count": [0, 3, 1, 4],
    }
    as_columns = _run(sessions, github, pairs=PAIR, lags=[0])
    as_rows = _run(
        [dict(zip(sessions, v, strict=True)) for v in zip(*sessions.values(), strict=True)],
        [dict(zip(github, v, strict=True)) for v in zip(*github.values(), strict=True)],
        pairs=PAIR,
        lags=[0],
    )
    assert as_columns == as_rows


def test_correlate_empty_input_gives_no_rows():
    assert _run([], []) == []


def test_input_version_is_order_independent_and_float_stable():
    a = [
        {"event_date": "2026-01-05", "repo": "o/r", "request_count": 3, "cost_usd": 0.1 + 0.2},
        {"event_date": date(2026, 1, 6), "repo": "o/r", "request_count": 4, "cost_usd": None},
    ]
    b = [
        {"cost_usd": float("nan"), "repo": "o/r", "request_count": 4.0, "event_date": datetime(2026, 1, 6, 0, 0)},
        {"repo": "o/r", "event_date": "2026-01-05", "cost_usd": 0.30000000000000004, "request_count": 3},
    ]
    g = [{"event_date": "2026-01-05", "repo": "o/r", "commit_count": 2}]
    assert input_version(a, g) == input_version(b, g)
    assert len(input_version(a, g)) == 64
    changed = [dict(a[0], request_count=5), a[1]]
    assert input_version(changed, g) != input_version(a, g)
    assert input_version(a, []) != input_version([], a)


def test_a_scope_series_over_a_narrower_window_holds_exactly_the_windows_days():
    # Given a repo with rows on 10 days, and a window of the middle 4 (the report's overlap of a correlation window)
    from datetime import date, timedelta

    from prodlens.stats import daily_scopes

    start = date(2026, 3, 2)
    session = [{"event_date": start + timedelta(days=d), "repo": "acme/api", "request_count": d} for d in range(10)]
    github = [{"event_date": start + timedelta(days=d), "repo": "acme/api", "commit_count": 100 + d} for d in range(10)]
    (_, scope) = daily_scopes(session, github, ("request_count",), ("commit_count",))
    # When the series is cut to days 3..6
    first, last, x, y = scope.series((start + timedelta(days=3), start + timedelta(days=6)))
    # Then it holds those days only: earlier days do not wrap around into it, later ones do not overflow it
    assert (first, last) == (start + timedelta(days=3), start + timedelta(days=6))
    assert x[:, 0].tolist() == [3, 4, 5, 6] and y[:, 0].tolist() == [103, 104, 105, 106]
