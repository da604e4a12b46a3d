"""The numpy engine against the scipy oracle: r, rho, p-values, CIs and BH to 1e-9."""

from __future__ import annotations

import math
import warnings
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prodlens.stats import betainc, bh_adjust, correlate, correlation_pvalue, lagged_correlations, rankdata_columns
from scipy import special, stats

COMPUTED_AT = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
TOL = 1e-9

# A fixed, real-looking six weeks for two repos (weekday-heavy use, weekend gaps, days with no row),
# typed in literally so the oracle side below never shares a code path with the engine.
# Session columns: event_date, repo, request_count, session_count, total_tokens, accepted_count, cost_usd.
SESSION_ROWS = [
    ("2026-03-02", "acme/api", 24, 3, 141300, 9, 0.486),
    ("2026-03-03", "acme/api", 21, 6, 107256, 7, 0.3745),
    ("2026-03-04", "acme/api", 22, 5, 108004, 7, 0.3788),
    ("2026-03-05", "acme/api", 29, 5, 145876, 9, 0.5102),
    ("2026-03-06", "acme/api", 33, 5, 166320, 13, 0.5816),
    ("2026-03-09", "acme/api", 31, 4, 131037, 9, 0.4682),
    ("2026-03-10", "acme/api", 25, 4, 126050, 10, 0.4408),
    ("2026-03-11", "acme/api", 31, 3, 150722, 9, 0.5292),
    ("2026-03-12", "acme/api", 33, 5, 181929, 16, 0.6296),
    ("2026-03-13", "acme/api", 30, 4, 150750, 9, 0.5273),
    ("2026-03-14", "acme/api", 4, 1, 20224, 1, 0.0707),
    ("2026-03-16", "acme/api", 26, 2, 129688, 12, 0.4540),
    ("2026-03-17", "acme/api", 32, 3, 189024, 10, 0.6500),
    ("2026-03-18", "acme/api", 29, 4, 141810, 10, 0.4976),
    ("2026-03-19", "acme/api", 39, 6, 203346, 14, 0.7082),
    ("2026-03-20", "acme/api", 27, 4, 147168, 11, 0.51),
    ("2026-03-23", "acme/api", 35, 3, 166040, 11, 0.5847),
    ("2026-03-24", "acme/api", 30, 4, 139980, 12, 0.4939),
    ("2026-03-25", "acme/api", 35, 6, 181020, 12, 0.6312),
    ("2026-03-26", "acme/api", 37, 4, 198801, 17, 0.6903),
    ("2026-03-27", "acme/api", 33, 4, 165330, 12, 0.5791),
    ("2026-03-29", "acme/api", 8, 1, 42440, 2, 0.1476),
    ("2026-03-30", "acme/api", 36, 7, 177948, 15, 0.6236),
    ("2026-03-31", "acme/api", 44, 6, 236104, 16, 0.8207),
    ("2026-04-01", "acme/api", 41, 8, 224393, 13, 0.7776),
    ("2026-04-02", "acme/api", 35, 5, 177695, 10, 0.6208),
    ("2026-04-03", "acme/api", 29, 5, 126063, 8, 0.4488),
    ("2026-04-06", "acme/api", 29, 2, 161762, 12, 0.5595),
    ("2026-04-07", "acme/api", 37, 7, 187923, 10, 0.6566),
    ("2026-04-08", "acme/api", 35, 4, 196000, 14, 0.6776),
    ("2026-04-09", "acme/api", 40, 6, 208480, 14, 0.7263),
    ("2026-04-10", "acme/api", 37, 6, 177045, 14, 0.6229),
    ("2026-04-12", "acme/api", 9, 3, 55107, 4, 0.1888),
    ("2026-03-02", "acme/web", 9, 1, 46332, 5, 0.1616),
    ("2026-03-03", "acme/web", 12, 1, 58776, 4, 0.2062),
    ("2026-03-04", "acme/web", 14, 2, 61110, 5, 0.2174),
    ("2026-03-05", "acme/web", 10, 2, 58490, 3, 0.2013),
    ("2026-03-06", "acme/web", 12, 2, 55980, 3, 0.1975),
    ("2026-03-09", "acme/web", 11, 1, 61875, 4, 0.214),
    ("2026-03-10", "acme/web", 10, 2, 53110, 5, 0.1846),
    ("2026-03-11", "acme/web", 15, 3, 66255, 5, 0.2354),
    ("2026-03-12", "acme/web", 7, 1, 37226, 2, 0.1294),
    ("2026-03-13", "acme/web", 12, 2, 53784, 4, 0.1907),
    ("2026-03-16", "acme/web", 13, 1, 78390, 6, 0.2690),
    ("2026-03-17", "acme/web", 11, 1, 64460, 4, 0.222),
    ("2026-03-18", "acme/web", 13, 2, 55536, 5, 0.1982),
    ("2026-03-19", "acme/web", 9, 1, 55170, 3, 0.189),
    ("2026-03-20", "acme/web", 13, 3, 70954, 3, 0.2460),
    ("2026-03-21", "acme/web", 2, 1, 8212, 1, 0.0295),
    ("2026-03-23", "acme/web", 14, 2, 69706, 5, 0.2441),
    ("2026-03-24", "acme/web", 16, 3, 90864, 7, 0.3137),
    ("2026-03-25", "acme/web", 12, 2, 66672, 5, 0.2307),
    ("2026-03-26", "acme/web", 11, 3, 56111, 3, 0.1961),
    ("2026-03-27", "acme/web", 12, 1, 71220, 2, 0.2448),
    ("2026-03-30", "acme/web", 17, 2, 89233, 7, 0.3106),
    ("2026-03-31", "acme/web", 15, 1, 79560, 5, 0.2766),
    ("2026-04-01", "acme/web", 16, 3, 79600, 7, 0.2788),
    ("2026-04-02", "acme/web", 11, 2, 51282, 4, 0.181),
    ("2026-04-03", "acme/web", 14, 1, 81130, 4, 0.2795),
    ("2026-04-06", "acme/web", 13, 3, 65442, 3, 0.2289),
    ("2026-04-07", "acme/web", 18, 1, 103536, 6, 0.3570),
    ("2026-04-08", "acme/web", 15, 2, 61515, 6, 0.2207),
    ("2026-04-09", "acme/web", 15, 3, 80430, 6, 0.2793),
    ("2026-04-10", "acme/web", 19, 3, 91542, 7, 0.3218),
]
# GitHub columns: event_date, repo, commit_count, merged_pr_count.
GITHUB_ROWS = [
    ("2026-03-02", "acme/api", 8, 1),
    ("2026-03-03", "acme/api", 10, 3),
    ("2026-03-04", "acme/api", 7, 2),
    ("2026-03-05", "acme/api", 11, 2),
    ("2026-03-06", "acme/api", 13, 4),
    ("2026-03-07", "acme/api", 2, 0),
    ("2026-03-09", "acme/api", 9, 1),
    ("2026-03-10", "acme/api", 6, 2),
    ("2026-03-11", "acme/api", 12, 3),
    ("2026-03-12", "acme/api", 14, 2),
    ("2026-03-13", "acme/api", 9, 5),
    ("2026-03-16", "acme/api", 8, 2),
    ("2026-03-17", "acme/api", 11, 1),
    ("2026-03-18", "acme/api", 10, 3),
    ("2026-03-19", "acme/api", 15, 2),
    ("2026-03-20", "acme/api", 7, 4),
    ("2026-03-22", "acme/api", 1, 0),
    ("2026-03-23", "acme/api", 12, 2),
    ("2026-03-24", "acme/api", 9, 1),
    ("2026-03-25", "acme/api", 10, 3),
    ("2026-03-26", "acme/api", 16, 3),
    ("2026-03-27", "acme/api", 8, 2),
    ("2026-03-30", "acme/api", 13, 2),
    ("2026-03-31", "acme/api", 14, 4),
    ("2026-04-01", "acme/api", 12, 1),
    ("2026-04-02", "acme/api", 9, 2),
    ("2026-04-03", "acme/api", 10, 3),
    ("2026-04-06", "acme/api", 8, 2),
    ("2026-04-07", "acme/api", 11, 2),
    ("2026-04-08", "acme/api", 13, 1),
    ("2026-04-09", "acme/api", 12, 3),
    ("2026-04-10", "acme/api", 9, 2),
    ("2026-04-11", "acme/api", 3, 1),
    ("2026-03-02", "acme/web", 3, 1),
    ("2026-03-03", "acme/web", 4, 0),
    ("2026-03-04", "acme/web", 2, 1),
    ("2026-03-05", "acme/web", 5, 2),
    ("2026-03-06", "acme/web", 3, 1),
    ("2026-03-09", "acme/web", 4, 1),
    ("2026-03-10", "acme/web", 3, 0),
    ("2026-03-11", "acme/web", 6, 1),
    ("2026-03-12", "acme/web", 2, 0),
    ("2026-03-13", "acme/web", 4, 2),
    ("2026-03-16", "acme/web", 5, 1),
    ("2026-03-17", "acme/web", 3, 1),
    ("2026-03-18", "acme/web", 4, 0),
    ("2026-03-19", "acme/web", 2, 1),
    ("2026-03-20", "acme/web", 5, 1),
    ("2026-03-23", "acme/web", 6, 2),
    ("2026-03-24", "acme/web", 7, 1),
    ("2026-03-25", "acme/web", 4, 1),
    ("2026-03-26", "acme/web", 3, 0),
    ("2026-03-27", "acme/web", 4, 1),
    ("2026-03-30", "acme/web", 6, 2),
    ("2026-03-31", "acme/web", 5, 1),
    ("2026-04-01", "acme/web", 6, 1),
    ("2026-04-02", "acme/web", 3, 0),
    ("2026-04-03", "acme/web", 5, 2),
    ("2026-04-06", "acme/web", 4, 1),
    ("2026-04-07", "acme/web", 7, 1),
    ("2026-04-08", "acme/web", 5, 1),
    ("2026-04-09", "acme/web", 6, 2),
    ("2026-04-10", "acme/web", 6, 1),
]
X_COLUMNS = ("request_count", "session_count", "total_tokens", "accepted_count", "cost_usd")
Y_COLUMNS = ("commit_count", "merged_pr_count")


def _session_dicts():
    return [dict(zip(("event_date", "repo", *X_COLUMNS), row, strict=True)) for row in SESSION_ROWS]


def _github_dicts():
    return [dict(zip(("event_date", "repo", *Y_COLUMNS), row, strict=True)) for row in GITHUB_ROWS]


def _oracle_series(repo: str, start: date, end: date, column: str) -> np.ndarray:
    """Zero-filled daily series straight from the literal tables (independent of the engine)."""
    days = (end - start).days + 1
    if column in X_COLUMNS:
        table, position = SESSION_ROWS, 2 + X_COLUMNS.index(column)
    else:
        table, position = GITHUB_ROWS, 2 + Y_COLUMNS.index(column)
    out = [0.0] * days
    for row in table:
        day = date.fromisoformat(row[0])
        if (repo == "*" or row[1] == repo) and start <= day <= end:
            out[(day - start).days] += row[position]
    return np.array(out)


def _close(actual, expected, rel: bool = False) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None
    if actual is None:
        return False
    if abs(actual - expected) <= TOL:
        return True
    return rel and abs(actual - expected) <= TOL * abs(expected)


def _scipy_row(x: np.ndarray, y: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
        ci = pr.confidence_interval(0.95) if len(x) >= 4 and not math.isnan(pr.statistic) else None
    return {
        "pearson_r": float(pr.statistic),
        "pearson_p": float(pr.pvalue),
        "spearman_rho": float(sr.statistic),
        "spearman_p": float(sr.pvalue),
        "pearson_ci_low": float(ci.low) if ci else None,
        "pearson_ci_high": float(ci.high) if ci else None,
    }


def _assert_matches_scipy(row: dict, expected: dict) -> None:
    for key in ("pearson_r", "spearman_rho", "pearson_ci_low", "pearson_ci_high"):
        assert _close(row[key], expected[key]), (key, row[key], expected[key])
    for key in ("pearson_p", "spearman_p"):
        assert _close(row[key], expected[key], rel=True), (key, row[key], expected[key])


def test_correlate_literal_table_matches_scipy_every_row():
    # Given the literal six weeks for two repos
    sessions, github = _session_dicts(), _github_dicts()

    # When
    rows = correlate(sessions, github, input_version="v", computed_at=COMPUTED_AT)

    # Then every row equals scipy on the independently built zero-filled series
    assert len(rows) == 3 * 10 * 8
    for row in rows:
        k = row["lag_days"]
        x = _oracle_series(row["repo"], row["window_start"], row["window_end"], row["x_metric"])
        y = _oracle_series(row["repo"], row["window_start"], row["window_end"], row["y_metric"])
        xs, ys = x[: len(x) - k], y[k:]
        assert row["n"] == len(xs)
        _assert_matches_scipy(row, _scipy_row(xs, ys))
    # and BH per (repo, method) family equals false_discovery_control
    for repo in ("*", "acme/api", "acme/web"):
        family = [r for r in rows if r["repo"] == repo]
        for method in ("pearson", "spearman"):
            raw = np.array([r[f"{method}_p"] for r in family], dtype=float)
            expected = stats.false_discovery_control(raw, method="bh")
            actual = np.array([r[f"{method}_p_adj"] for r in family], dtype=float)
            np.testing.assert_allclose(actual, expected, rtol=TOL, atol=0)


def test_correlate_literal_table_windows_follow_either_table():
    # Given acme/api's last session row on 04-12 and acme/web's first rows on 03-02
    rows = correlate(_session_dicts(), _github_dicts(), input_version="v", computed_at=COMPUTED_AT)
    windows = {r["repo"]: (r["window_start"], r["window_end"]) for r in rows}

    # Then the default window spans the first to the last day of either table, per repo and pooled
    assert windows["acme/api"] == (date(2026, 3, 2), date(2026, 4, 12))
    assert windows["acme/web"] == (date(2026, 3, 2), date(2026, 4, 10))
    assert windows["*"] == (date(2026, 3, 2), date(2026, 4, 12))


HAND_BUILT = [
    ([1, 2, 3], [1, 3, 2]),
    ([1, 2, 3, 4], [4, 3, 2, 1]),
    ([1, 1, 2, 2, 3], [5, 5, 5, 1, 2]),
    ([0, 0, 0, 1, 0, 0], [3, 1, 4, 1, 5, 9]),
    ([2, 2, 2, 2, 9, 9, 9], [1, 1, 2, 2, 3, 3, 3]),
    ([1, 2, 3, 4, 5, 6, 7, 8], [2, 4, 6, 8, 10, 12, 14, 16]),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1]),
    ([0.5, 0.25, 0.5, 1.75, 3.0, 3.0, 0.0, 1.0, 2.0, 2.5], [3, 3, 3, 1, 0, 0, 7, 2, 2, 1]),
    ([1e6, 2e6, 1.5e6, 3e6, 2.5e6], [1, 0, 1, 0, 2]),
    ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
]


@pytest.mark.parametrize(("x", "y"), HAND_BUILT)
def test_lagged_correlations_hand_built_matches_scipy(x, y):
    # Given a small series with ties (n = 3..10)
    x, y = np.array(x, dtype=float), np.array(y, dtype=float)

    # When
    s = lagged_correlations(x, y, [0])

    # Then
    expected = _scipy_row(x, y)
    row = {
        "pearson_r": float(s.pearson_r[0, 0, 0]),
        "pearson_p": float(s.pearson_p[0, 0, 0]),
        "spearman_rho": float(s.spearman_rho[0, 0, 0]),
        "spearman_p": float(s.spearman_p[0, 0, 0]),
        "pearson_ci_low": None if math.isnan(s.pearson_ci_low[0, 0, 0]) else float(s.pearson_ci_low[0, 0, 0]),
        "pearson_ci_high": None if math.isnan(s.pearson_ci_high[0, 0, 0]) else float(s.pearson_ci_high[0, 0, 0]),
    }
    _assert_matches_scipy(row, expected)


@pytest.mark.parametrize("n", range(2, 11))
def test_correlate_constant_and_short_series_give_nulls(n):
    # Given n days where commits are constant
    start = date(2026, 1, 1)
    sessions = [{"event_date": start + timedelta(i), "repo": "o/r", "request_count": i * i % 7} for i in range(n)]
    github = [{"event_date": start + timedelta(i), "repo": "o/r", "commit_count": 4} for i in range(n)]

    # When
    rows = correlate(
        sessions,
        github,
        pairs=[("request_count", "commit_count")],
        lags=[0],
        input_version="v",
        computed_at=COMPUTED_AT,
    )

    # Then r, rho, p, CI and the adjusted p are null
    for row in rows:
        assert row["n"] == n
        for key in (
            "pearson_r",
            "pearson_p",
            "pearson_ci_low",
            "pearson_ci_high",
            "spearman_rho",
            "spearman_p",
            "pearson_p_adj",
            "spearman_p_adj",
        ):
            assert row[key] is None, key


@pytest.mark.parametrize("n", range(2, 11))
def test_correlate_small_n_matches_scipy_or_is_null(n):
    # Given n days of varying data
    start = date(2026, 1, 1)
    sessions = [{"event_date": start + timedelta(i), "repo": "o/r", "request_count": (3 * i) % 5} for i in range(n)]
    github = [
        {"event_date": start + timedelta(i), "repo": "o/r", "commit_count": (i * i) % 4 + (i == 1)} for i in range(n)
    ]

    # When
    rows = correlate(
        sessions,
        github,
        pairs=[("request_count", "commit_count")],
        lags=[0],
        input_version="v",
        computed_at=COMPUTED_AT,
    )
    row = next(r for r in rows if r["repo"] == "o/r")

    # Then n < 3 is null, else scipy's numbers
    x = np.array([(3 * i) % 5 for i in range(n)], dtype=float)
    y = np.array([(i * i) % 4 + (i == 1) for i in range(n)], dtype=float)
    if n < 3:
        assert row["pearson_r"] is None and row["spearman_p"] is None
    else:
        _assert_matches_scipy(row, _scipy_row(x, y))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 6)), min_size=3, max_size=40),
)
def test_lagged_correlations_random_integer_series_match_scipy(pairs):
    # Given integer series full of ties
    x = np.array([a for a, _ in pairs], dtype=float)
    y = np.array([b for _, b in pairs], dtype=float)

    # When
    s = lagged_correlations(x, y, [0])

    # Then
    expected = _scipy_row(x, y)
    for key, value in (("pearson_r", s.pearson_r), ("spearman_rho", s.spearman_rho)):
        v = float(value[0, 0, 0])
        assert (math.isnan(v) and math.isnan(expected[key])) or abs(v - expected[key]) <= TOL
    for key, value in (("pearson_p", s.pearson_p), ("spearman_p", s.spearman_p)):
        v = float(value[0, 0, 0])
        e = expected[key]
        assert (math.isnan(v) and math.isnan(e)) or abs(v - e) <= TOL or abs(v - e) <= TOL * abs(e)


def test_correlation_pvalue_matches_scipy_over_r_and_n():
    # Given a grid of r and n up to two years of days
    for n in (3, 4, 5, 8, 14, 30, 90, 365, 730):
        r = np.linspace(-1, 1, 401)
        # When
        p = correlation_pvalue(r, n)
        # Then (scipy's pearsonr null distribution of r)
        expected = 2 * stats.beta(n / 2 - 1, n / 2 - 1, loc=-1, scale=2).sf(np.abs(r))
        np.testing.assert_allclose(p, np.minimum(expected, 1.0), rtol=TOL, atol=1e-12)


def test_betainc_matches_scipy_special():
    # Given a grid of shapes and x
    a = np.array([0.5, 1.0, 2.5, 10.0, 181.5])[:, None, None]
    b = np.array([0.5, 1.0, 3.0, 40.0])[None, :, None]
    x = np.linspace(0, 1, 51)[None, None, :]

    # When / Then
    np.testing.assert_allclose(betainc(a, b, x), special.betainc(a, b, x), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "p",
    [
        [0.01, 0.02, 0.03, 0.04, 0.05],
        [0.5, 0.5, 0.5, 0.001],
        [1.0, 0.0, 0.2, 0.2, 0.9, 0.04],
        [0.3],
        list(np.linspace(0.0001, 0.9, 37)),
    ],
)
def test_bh_adjust_matches_false_discovery_control(p):
    # When / Then
    np.testing.assert_array_equal(bh_adjust(p), stats.false_discovery_control(p, method="bh"))


def test_bh_adjust_leaves_nulls_out_of_the_family():
    # Given a family with two nulls
    p = [0.01, float("nan"), 0.04, 0.02, float("nan")]

    # When
    adjusted = bh_adjust(p)

    # Then the family is the three non-null values
    expected = stats.false_discovery_control([0.01, 0.04, 0.02], method="bh")
    assert math.isnan(adjusted[1]) and math.isnan(adjusted[4])
    np.testing.assert_array_equal(adjusted[[0, 2, 3]], expected)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=25))
def test_rankdata_columns_equals_scipy_average_ranks(values):
    assert np.array_equal(rankdata_columns(np.array(values, dtype=float)), stats.rankdata(values, method="average"))
