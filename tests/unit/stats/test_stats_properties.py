"""Hypothesis properties of the correlation engine and BH."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from prodlens.stats import bh_adjust, correlate, lagged_correlations

COMPUTED_AT = datetime(2026, 4, 1, tzinfo=UTC)
series = st.lists(st.integers(0, 30), min_size=3, max_size=30)
FIELDS = ("n", "pearson_r", "pearson_p", "pearson_ci_low", "pearson_ci_high", "spearman_rho", "spearman_p")


def _same(a: float, b: float, tol: float = 1e-12) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_lagged_correlation_lag0_is_symmetric(data):
    # Given two series of one length
    x = np.array(data.draw(series), dtype=float)
    y = np.array(data.draw(st.lists(st.integers(0, 30), min_size=len(x), max_size=len(x))), dtype=float)

    # When
    xy = lagged_correlations(x, y, [0, 2])
    yx = lagged_correlations(y, x, [0, -2])

    # Then corr(x, y) at lag k equals corr(y, x) at lag -k
    for name in FIELDS:
        a, b = getattr(xy, name).ravel(), getattr(yx, name).ravel()
        assert all(_same(float(u), float(v)) for u, v in zip(a, b, strict=True)), name


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_lagged_correlation_lag_k_equals_lag0_of_shifted_series(data):
    # Given series and a lag shorter than them
    x = np.array(data.draw(st.lists(st.integers(0, 30), min_size=6, max_size=30)), dtype=float)
    y = np.array(data.draw(st.lists(st.integers(0, 30), min_size=len(x), max_size=len(x))), dtype=float)
    k = data.draw(st.integers(1, len(x) - 3))

    # When
    lagged = lagged_correlations(x, y, [k])
    shifted = lagged_correlations(x[:-k], y[k:], [0])

    # Then
    for name in FIELDS:
        assert _same(float(getattr(lagged, name)[0, 0, 0]), float(getattr(shifted, name)[0, 0, 0])), name


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=3, max_size=30).filter(lambda v: len(set(v)) > 1))
def test_lagged_correlation_self_is_one(x):
    s = lagged_correlations(np.array(x, dtype=float), np.array(x, dtype=float), [0])
    # r is 1 up to rounding (scipy itself gives 1 - 2e-16 for [0, 0, 5]); p is then at most ~1e-8 (n = 3)
    assert abs(s.pearson_r[0, 0, 0] - 1.0) <= 1e-15 and abs(s.spearman_rho[0, 0, 0] - 1.0) <= 1e-15
    assert s.pearson_p[0, 0, 0] <= 1e-7 and s.spearman_p[0, 0, 0] <= 1e-7


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=40))
def test_bh_adjust_is_monotone_in_raw_order_and_bounded(p):
    # When
    raw = np.array(p, dtype=float)
    adjusted = bh_adjust(raw)

    # Then nulls stay null, adj >= raw, adj <= 1, and the order of raw p is kept
    ok = ~np.isnan(raw)
    assert np.array_equal(np.isnan(adjusted), ~ok)
    a, r = adjusted[ok], raw[ok]
    assert np.all(a >= r) and np.all(a <= 1.0)
    order = np.argsort(r, kind="stable")
    assert np.all(np.diff(a[order]) >= 0)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(["a/one", "b/two"]), st.integers(0, 40)), min_size=2, max_size=25
    ),
    st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(["a/one", "b/two"]), st.integers(0, 8)), min_size=2, max_size=25
    ),
)
def test_correlate_pooled_equals_manual_sum(session_spec, github_spec):
    # Given rows for two repos (possibly several on one day) and the same rows summed by hand into one repo
    start = date(2026, 2, 1)
    sessions = [{"event_date": start + timedelta(d), "repo": r, "request_count": v} for d, r, v in session_spec]
    github = [{"event_date": start + timedelta(d), "repo": r, "commit_count": v} for d, r, v in github_spec]
    sum_s: dict[date, int] = {}
    sum_g: dict[date, int] = {}
    for row in sessions:
        sum_s[row["event_date"]] = sum_s.get(row["event_date"], 0) + row["request_count"]
    for row in github:
        sum_g[row["event_date"]] = sum_g.get(row["event_date"], 0) + row["commit_count"]
    manual_s = [{"event_date": d, "repo": "one", "request_count": v} for d, v in sum_s.items()]
    manual_g = [{"event_date": d, "repo": "one", "commit_count": v} for d, v in sum_g.items()]
    pair = [("request_count", "commit_count")]

    # When
    pooled = [
        r
        for r in correlate(sessions, github, pairs=pair, input_version="v", computed_at=COMPUTED_AT)
        if r["repo"] == "*"
    ]
    manual = [
        r
        for r in correlate(manual_s, manual_g, pairs=pair, input_version="v", computed_at=COMPUTED_AT)
        if r["repo"] == "one"
    ]

    # Then every statistic is the same
    assert len(pooled) == len(manual) == 8
    for a, b in zip(pooled, manual, strict=True):
        for key in a:
            if key == "repo":
                continue
            if isinstance(a[key], float):
                assert abs(a[key] - b[key]) <= 1e-12, key
            else:
                assert a[key] == b[key], key
