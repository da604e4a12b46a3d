"""The calendar-adjusted, autocorrelation-aware association (stats.adjusted and the adj_* columns of correlate).

scipy (pearsonr, t, norm, false_discovery_control) and np.linalg.lstsq are the oracles where they compute the
same thing; Monte Carlo is the oracle for the null variance of r and the AR(1) correction.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from prodlens.stats import adjusted, correlate
from prodlens.stats.adjusted import (
    MIN_ADJUSTED_DAYS,
    MIN_FREE_DAYS,
    adjust_series,
    adjusted_lagged,
    calendar_design,
    expected_lag1,
    holiday_mask,
    null_variances,
    residual_ar1,
    residualize,
    team_off_days,
    to_scale,
    week_blocks,
)
from prodlens.stats.correlate import adjusted_pair, daily_scopes, non_working_days
from scipy import stats

COMPUTED_AT = datetime(2026, 4, 1, 6, 30, tzinfo=UTC)
MONDAY = date(2026, 1, 5)
SATURDAY = date(2026, 1, 3)
PAIR = [("request_count", "commit_count")]
WEEKDAY_SHAPE = np.array([1.0, 1.1, 1.05, 1.0, 0.8, 0.15, 0.1])  # Monday..Sunday


def _ar1(rng: np.random.Generator, days: int, phi: float, sd: float = 1.0) -> np.ndarray:
    """A stationary AR(1) path with standard deviation sd."""
    out = np.empty(days)
    out[0] = rng.normal(0.0, sd)
    shocks = rng.normal(0.0, sd * math.sqrt(1.0 - phi * phi), days)
    for t in range(1, days):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _ar1_columns(rng: np.random.Generator, days: int, phi: float, columns: int) -> np.ndarray:
    """`columns` independent stationary AR(1) paths with unit variance: shape (days, columns)."""
    out = np.empty((days, columns))
    out[0] = rng.standard_normal(columns)
    shocks = rng.normal(0.0, math.sqrt(1.0 - phi * phi), (days, columns))
    for t in range(1, days):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _weekday(start: date, days: int) -> np.ndarray:
    return (np.arange(days) + start.weekday()) % 7


def _lstsq_residuals(values: np.ndarray, design: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coef


def _calendar_counts(rng: np.random.Generator, start: date, days: int, level: float, phi: float = 0.3) -> np.ndarray:
    """Poisson counts with a weekday rhythm, slow growth and their own AR(1) day effects."""
    t = np.arange(days)
    mean = level * WEEKDAY_SHAPE[_weekday(start, days)] * (1.0 + t / days) * np.exp(_ar1(rng, days, phi, 0.3))
    return rng.poisson(mean).astype(float)


# --- the adjusted r is a partial correlation ------------------------------------------------------------------


@pytest.mark.parametrize("start", [MONDAY, date(2026, 1, 8), SATURDAY])
def test_adj_r_equals_pearson_of_lstsq_residuals_of_log1p_at_every_lag(start):
    # Given two count series sharing the calendar, over 10 weeks
    rng = np.random.default_rng(11)
    days = 70
    x = _calendar_counts(rng, start, days, 30.0)
    y = _calendar_counts(rng, start, days, 8.0)
    lags = (0, 1, 3, 7, -2)

    # When
    series = adjust_series(x[:, None], y[:, None], start)
    result = adjusted_lagged(series, lags)

    # Then each lag's r is scipy's Pearson r of lstsq residuals of log1p on the calendar design, lagged
    design = calendar_design(start, days)
    ex = _lstsq_residuals(np.log1p(x), design)
    ey = _lstsq_residuals(np.log1p(y), design)
    for i, lag in enumerate(lags):
        if lag >= 0:
            oracle = stats.pearsonr(ex[: days - lag], ey[lag:]).statistic
        else:
            oracle = stats.pearsonr(ex[-lag:], ey[: days + lag]).statistic
        assert result.r[i, 0, 0] == pytest.approx(oracle, abs=1e-10)


def test_to_scale_is_log1p_of_the_non_negative_part():
    values = np.array([-3.0, 0.0, 1.0, 9.0, 1e6])
    assert to_scale(values) == pytest.approx(np.log1p([0.0, 0.0, 1.0, 9.0, 1e6]), rel=1e-15)


# --- null variance, p-value and CI ------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "days"), [(MONDAY, 56), (SATURDAY, 63), (date(2026, 1, 7), 100)])
def test_null_variances_of_white_noise_are_one_over_the_free_days(start, days):
    # Given the residual-maker M of a calendar design of rank m
    _, basis = residualize(np.zeros((days, 1)), calendar_design(start, days))
    rank = basis.shape[1]
    m = adjusted.project_out(np.eye(days), basis)

    # When / Then: residualized white noise has var(r) = 1 / (n - m), plain white noise 1 / (n - 1)
    assert null_variances([m], [m])[0, 0] == pytest.approx(1.0 / (days - rank), rel=1e-9)
    assert null_variances([np.eye(days)], [np.eye(days)])[0, 0] == pytest.approx(1.0 / (days - 1), rel=1e-9)
    # so n_eff = 1 + 1 / var(r) is the partial correlation's n - m + 1
    assert 1.0 + 1.0 / null_variances([m], [m])[0, 0] == pytest.approx(days - rank + 1, rel=1e-9)


def test_adj_p_is_the_t_test_on_n_eff_minus_2_df_and_the_ci_is_fisher_z_on_n_eff_minus_3():
    # Given a linked pair of series (so r is far from 0 at some lags) over 12 weeks
    rng = np.random.default_rng(5)
    days = 84
    x = _calendar_counts(rng, MONDAY, days, 20.0, phi=0.6)
    y = np.round(x * 0.4 + _calendar_counts(rng, MONDAY, days, 5.0))
    lags = tuple(range(8))

    # When
    result = adjusted_lagged(adjust_series(x[:, None], y[:, None], MONDAY), lags)

    # Then
    r, n_eff = result.r[:, 0, 0], result.n_eff[:, 0, 0]
    assert np.all(np.isfinite(r)) and np.all((n_eff > 3) & (n_eff <= days))
    df = n_eff - 2.0
    t = r * np.sqrt(df / (1.0 - r * r))
    assert result.p[:, 0, 0] == pytest.approx(2.0 * stats.t.sf(np.abs(t), df), rel=1e-9, abs=1e-300)
    z = stats.norm.ppf(0.975)
    assert z == pytest.approx(1.959964, abs=1e-6)
    se = 1.0 / np.sqrt(n_eff - 3.0)
    assert result.ci_low[:, 0, 0] == pytest.approx(np.tanh(np.arctanh(r) - z * se), abs=1e-12)
    assert result.ci_high[:, 0, 0] == pytest.approx(np.tanh(np.arctanh(r) + z * se), abs=1e-12)
    assert r[0] > 0.3 and result.p[0, 0, 0] < 1e-3


def test_n_eff_at_a_lag_uses_the_lagged_windows_of_the_fitted_noise_covariances():
    # Given a very persistent x and a persistent y, over 10 weeks
    rng = np.random.default_rng(8)
    days = 70
    x = _calendar_counts(rng, MONDAY, days, 20.0, phi=0.9)
    y = _calendar_counts(rng, MONDAY, days, 20.0, phi=0.6)
    series = adjust_series(x[:, None], y[:, None], MONDAY)

    # When
    result = adjusted_lagged(series, (0, 5))

    # Then x(d) uses the first n days and y(d + 5) the last n days of M Sigma(phi) M
    phis = residual_ar1(np.hstack([series.x, series.y]), expected_lag1(series.basis))
    assert np.all(phis > 0.0)
    covs = [adjusted.project_out(adjusted.ar1_covariance(phi, days), series.basis) for phi in phis]
    for i, lag in enumerate((0, 5)):
        n = days - lag
        variance = null_variances([covs[0][:n, :n]], [covs[1][lag:, lag:]])[0, 0]
        assert result.n_eff[i, 0, 0] == pytest.approx(1.0 + 1.0 / variance, rel=1e-12)
        white = adjusted.project_out(np.eye(days), series.basis)
        white_variance = null_variances([white[:n, :n]], [white[lag:, lag:]])[0, 0]
        assert result.n_eff[i, 0, 0] < 1.0 + 1.0 / white_variance  # positive autocorrelation costs days


@pytest.mark.parametrize(("phi_x", "phi_y"), [(0.6, 0.6), (0.3, 0.3), (0.6, 0.3)])
def test_null_variances_match_the_monte_carlo_variance_of_r_for_ar1_noise(phi_x, phi_y):
    # Given 4000 independent Gaussian AR(1) pairs over 12 weeks, residualized on the calendar
    rng = np.random.default_rng(2024)
    days, pairs = 84, 4000
    _, basis = residualize(np.zeros((days, 1)), calendar_design(MONDAY, days))
    m = np.eye(days) - basis @ basis.T
    sigma_x = adjusted.ar1_covariance(phi_x, days)
    sigma_y = adjusted.ar1_covariance(phi_y, days)
    ex = m @ np.linalg.cholesky(sigma_x) @ rng.standard_normal((days, pairs))
    ey = m @ np.linalg.cholesky(sigma_y) @ rng.standard_normal((days, pairs))
    ex -= ex.mean(axis=0)
    ey -= ey.mean(axis=0)
    r = np.einsum("ij,ij->j", ex, ey) / np.sqrt(np.einsum("ij,ij->j", ex, ex) * np.einsum("ij,ij->j", ey, ey))

    # When
    formula = null_variances([m @ sigma_x @ m], [m @ sigma_y @ m])[0, 0]

    # Then
    empirical = float(np.var(r))
    assert formula == pytest.approx(empirical, rel=0.10)
    assert formula > 1.0 / (days - basis.shape[1])  # autocorrelation inflates var(r) beyond white noise


# --- the AR(1) coefficient of the noise --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_calendar():
    days = 2000
    _, basis = residualize(np.zeros((days, 1)), calendar_design(MONDAY, days))
    return days, basis, expected_lag1(basis)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_residual_ar1_recovers_phi_of_the_noise_behind_calendar_residuals(long_calendar, phi):
    # Given 40 AR(1) noise series over 2000 days, residualized on the calendar (weekly levels take their slow part)
    days, basis, expected = long_calendar
    noise = _ar1_columns(np.random.default_rng(int(phi * 10) + 1), days, phi, 40)
    residuals = noise - basis @ (basis.T @ noise)

    # When
    estimates = residual_ar1(residuals, expected)

    # Then the estimates centre on phi (one series' estimate has sd up to ~0.08 at phi 0.8)
    assert float(np.mean(estimates)) == pytest.approx(phi, abs=0.05)
    assert float(np.median(estimates)) == pytest.approx(phi, abs=0.05)
    naive = np.einsum("ij,ij->j", residuals[:-1], residuals[1:]) / np.einsum("ij,ij->j", residuals, residuals)
    if phi == 0.8:  # the naive lag-1 autocorrelation of the residuals is far too low: the correction matters
        assert float(np.mean(naive)) < phi - 0.2
        assert np.all(estimates > naive + 0.2)


def test_expected_lag1_is_monotone_and_below_phi_for_persistent_noise(long_calendar):
    _, _, expected = long_calendar
    assert np.all(np.diff(expected) >= 0)
    high = adjusted.PHI_GRID > 0.5
    assert np.all(expected[high] < adjusted.PHI_GRID[high])


# --- the calendar is removed ------------------------------------------------------------------------------------


def _exact_calendar(start: date, days: int) -> np.ndarray:
    """Counts whose 1 + count is exactly a weekday factor times a weekly level (additive on the model scale)."""
    weekday = _weekday(start, days)
    week = week_blocks(start, days)
    weekly = 1.0 + 0.4 * np.arange(week.max() + 1) + 0.3 * np.sin(np.arange(week.max() + 1))
    return 40.0 * weekly[week] * WEEKDAY_SHAPE[weekday] - 1.0


@pytest.mark.parametrize("start", [MONDAY, SATURDAY, date(2026, 1, 9)])
def test_a_series_that_is_only_calendar_has_zero_residuals_and_null_adj_r(start):
    # Given counts that are exactly weekday pattern x weekly level, against a noisy series
    days = 60
    x = _exact_calendar(start, days)
    y = _calendar_counts(np.random.default_rng(3), start, days, 10.0)

    # When
    series = adjust_series(x[:, None], y[:, None], start)
    result = adjusted_lagged(series, (0, 1, 2))

    # Then the adjusted x is exactly 0 and its association is undefined (not a spurious r)
    assert np.all(series.x == 0.0)
    assert np.any(series.y != 0.0)
    assert np.all(np.isnan(result.r)) and np.all(np.isnan(result.p)) and np.all(np.isnan(result.n_eff))
    assert np.all(np.isnan(result.ci_low)) and np.all(np.isnan(result.ci_high))


def test_a_marked_weekday_holiday_is_absorbed_by_the_non_working_day_indicator():
    # Given an exact calendar series with a Wednesday (day 23) at zero
    days, holiday = 63, 23
    assert _weekday(MONDAY, days)[holiday] == 2
    x = _exact_calendar(MONDAY, days)
    x[holiday] = 0.0
    values = to_scale(x)[:, None]

    # When
    unmarked, _ = residualize(values, calendar_design(MONDAY, days))
    off = holiday_mask([MONDAY + timedelta(days=holiday)], MONDAY, days)
    marked, basis = residualize(values, calendar_design(MONDAY, days, off))

    # Then the unmarked fit leaves a large residual on that day; the marked one explains it
    assert abs(unmarked[holiday, 0]) > 2.0
    assert np.abs(marked).max() < 1e-9
    assert basis.shape[1] == calendar_design(MONDAY, days).shape[1] + 1


def test_off_days_on_weekends_add_no_column():
    days = 28
    saturday = holiday_mask([MONDAY + timedelta(days=5)], MONDAY, days)
    assert saturday.sum() == 1
    np.testing.assert_array_equal(calendar_design(MONDAY, days, saturday), calendar_design(MONDAY, days))


def test_holiday_mask_marks_only_days_inside_the_window():
    mask = holiday_mask([MONDAY - timedelta(days=1), MONDAY, MONDAY + timedelta(days=9), date(2030, 1, 1)], MONDAY, 10)
    assert np.flatnonzero(mask).tolist() == [0, 9]


@pytest.mark.parametrize("start", [MONDAY, date(2026, 1, 7), SATURDAY])
def test_adjust_series_is_none_below_21_days_or_10_free_days(start):
    # Given windows of 14 to 42 days of a non-degenerate pair of series
    rng = np.random.default_rng(1)
    for days in range(14, 43):
        x = rng.poisson(20.0, days).astype(float)
        y = rng.poisson(5.0, days).astype(float)
        _, basis = residualize(np.zeros((days, 1)), calendar_design(start, days))
        too_few = days < MIN_ADJUSTED_DAYS or days - basis.shape[1] < MIN_FREE_DAYS

        # When
        series = adjust_series(x, y, start)

        # Then
        assert (series is None) == too_few, days
        if series is not None:
            assert series.rank == basis.shape[1] and series.days == days and series.start == start


# --- team non-working days --------------------------------------------------------------------------------------


def _ramp_company(days: int = 140) -> tuple[np.ndarray, np.ndarray]:
    """Pooled AI requests (an adoption ramp from ~2 to ~40) and commits (growing from 2 to 32), both weekday-heavy."""
    t = np.arange(days)
    shape = WEEKDAY_SHAPE[_weekday(MONDAY, days)] * (1.0 + 0.05 * np.sin(t * 1.3))
    requests = (2.0 + 38.0 / (1.0 + np.exp(-(t - 60) / 6.0))) * shape
    commits = (2.0 + 30.0 * t / days) * shape
    return requests, commits


def test_team_off_days_finds_a_company_holiday_despite_growth():
    # Given pooled series with a ramp and growth, and a Thursday (day 101) where both drop to ~0
    requests, commits = _ramp_company()
    holiday = 101
    assert _weekday(MONDAY, len(requests))[holiday] == 3
    requests[holiday], commits[holiday] = 1.0, 0.0

    # When
    off = team_off_days([requests, commits], MONDAY)

    # Then only that day is off: not the ramp's early low weekdays, not weekends
    assert np.flatnonzero(off).tolist() == [holiday]
    # (a global median would call the early weekdays holidays: they are below 20 % of it in both series)
    early, weekdays = np.arange(5), _weekday(MONDAY, len(requests)) < 5
    assert np.all(requests[early] <= 0.2 * np.median(requests[weekdays]))
    assert np.all(commits[early] <= 0.2 * np.median(commits[weekdays]))


def test_team_off_days_needs_every_series_to_stop():
    # Given a weekday where only AI use stops (delivery goes on), and a weekday where only delivery stops
    requests, commits = _ramp_company()
    requests[80], commits[94] = 0.0, 0.0

    # When / Then
    assert not team_off_days([requests, commits], MONDAY).any()
    assert np.flatnonzero(team_off_days([requests], MONDAY)).tolist() == [80]


# --- week levels ------------------------------------------------------------------------------------------------


def test_week_blocks_merge_a_two_day_first_week_starting_on_saturday():
    # Given a window from Saturday: Sat-Sun, then two full weeks
    blocks = week_blocks(SATURDAY, 16)

    # Then the first two days share the next week's level
    assert blocks.tolist() == [0] * 9 + [1] * 7


def test_week_blocks_merge_a_two_day_last_week_ending_on_tuesday():
    # Given a window from Monday ending on a Tuesday 16 days later
    assert (MONDAY + timedelta(days=15)).weekday() == 1
    blocks = week_blocks(MONDAY, 16)

    # Then the last Monday-Tuesday share the previous week's level
    assert blocks.tolist() == [0] * 7 + [1] * 9


def test_week_blocks_keep_short_weeks_of_four_days_and_follow_monday_boundaries():
    # Given a window from Thursday (4-day first week) ending on a Thursday (4-day last week)
    start = date(2026, 1, 8)
    blocks = week_blocks(start, 4 + 7 + 4)

    # Then both four-day weeks keep their own level
    assert blocks.tolist() == [0] * 4 + [1] * 7 + [2] * 4
    assert all((start + timedelta(days=int(i))).weekday() == 0 for i in np.flatnonzero(np.diff(blocks)) + 1)


# --- correlate: the adjusted columns ------------------------------------------------------------------------------


def _rows(repo: str, start: date, x: np.ndarray, y: np.ndarray, x_from: int = 0, y_from: int = 0):
    """Daily rows of one repo: sessions from day x_from, GitHub from day y_from (a row for every such day).

    session_count and merged_pr_count are fixed functions of the day's requests and commits.
    """
    sessions = [
        {
            "event_date": start + timedelta(days=d),
            "repo": repo,
            "request_count": float(x[d]),
            "session_count": float(np.ceil(x[d] / 5) + d % 3),
        }
        for d in range(x_from, len(x))
    ]
    github = [
        {
            "event_date": start + timedelta(days=d),
            "repo": repo,
            "commit_count": float(y[d]),
            "merged_pr_count": float(np.floor(y[d] / 3) + d % 2),
        }
        for d in range(y_from, len(y))
    ]
    return sessions, github


def _run(sessions, github, **kwargs):
    return correlate(sessions, github, pairs=PAIR, input_version="v1", computed_at=COMPUTED_AT, **kwargs)


def _repo_rows(rows, repo):
    return sorted((r for r in rows if r["repo"] == repo), key=lambda r: r["lag_days"])


@pytest.fixture(scope="module")
def two_repos():
    rng = np.random.default_rng(21)
    days = 84
    data = {}
    for repo, level in (("acme/api", 30.0), ("acme/web", 12.0)):
        x = _calendar_counts(rng, MONDAY, days, level)
        y = _calendar_counts(rng, MONDAY, days, level / 4)
        data[repo] = (x, y)
    sessions, github = [], []
    for repo, (x, y) in data.items():
        s, g = _rows(repo, MONDAY, x, y)
        sessions += s
        github += g
    return data, sessions, github


def test_correlate_fills_the_adjusted_columns_as_the_core_computes_them(two_repos):
    # Given two repos over 12 weeks (every day has a row)
    data, sessions, github = two_repos

    # When
    rows = _run(sessions, github)

    # Then each repo's adjusted columns are adjusted_lagged of its own series
    for repo, (x, y) in data.items():
        own = _repo_rows(rows, repo)
        expected = adjusted_lagged(adjust_series(x, y, MONDAY), range(8))
        for row in own:
            k = row["lag_days"]
            assert row["adj_r"] == pytest.approx(expected.r[k, 0, 0], abs=1e-12)
            assert row["adj_p"] == pytest.approx(expected.p[k, 0, 0], rel=1e-9)
            assert row["n_eff"] == pytest.approx(expected.n_eff[k, 0, 0], rel=1e-12)
            assert row["adj_ci_low"] == pytest.approx(expected.ci_low[k, 0, 0], abs=1e-12)
            assert row["adj_ci_high"] == pytest.approx(expected.ci_high[k, 0, 0], abs=1e-12)
            assert row["adj_ci_low"] < row["adj_r"] < row["adj_ci_high"]
            assert 3 < row["n_eff"] <= row["n"]


def test_correlate_adj_p_adj_is_bh_over_the_repos_adj_p(two_repos):
    _, sessions, github = two_repos
    rows = correlate(sessions, github, input_version="v1", computed_at=COMPUTED_AT)
    for repo in ("*", "acme/api", "acme/web"):
        own = [r for r in rows if r["repo"] == repo and r["adj_p"] is not None]
        assert len(own) == 2 * 2 * 8  # the x metrics without values are constant 0: null
        expected = stats.false_discovery_control([r["adj_p"] for r in own], method="bh")
        assert [r["adj_p_adj"] for r in own] == pytest.approx(expected, rel=1e-12)


def test_correlate_raw_columns_are_the_zero_filled_pearson_of_the_whole_window(two_repos):
    # Given the same rows with and without a configured holiday (which only the adjusted path uses)
    data, sessions, github = two_repos
    plain = _run(sessions, github)
    with_holiday = _run(sessions, github, holidays=[MONDAY + timedelta(days=30)])
    raw = ("n", "pearson_r", "pearson_p", "pearson_ci_low", "pearson_ci_high", "spearman_rho", "spearman_p")

    # Then the raw columns are scipy's Pearson of the zero-filled lagged series, and unaffected by the holiday
    for repo, (x, y) in data.items():
        for row in _repo_rows(plain, repo):
            k = row["lag_days"]
            oracle = stats.pearsonr(x[: len(x) - k], y[k:])
            assert row["n"] == len(x) - k
            assert row["pearson_r"] == pytest.approx(oracle.statistic, abs=1e-12)
            assert row["pearson_p"] == pytest.approx(oracle.pvalue, rel=1e-9)
    for a, b in zip(plain, with_holiday, strict=True):
        assert {c: a[c] for c in raw} == {c: b[c] for c in raw}


def _chart_series(sessions, github, repo, holidays=()):
    """The request_count -> commit_count adjusted series a report chart draws for `repo`."""
    scope = next(s for s in daily_scopes(sessions, github, ("request_count",), ("commit_count",)) if s.repo == repo)
    off_days = non_working_days(sessions, github, holidays=holidays)
    return adjusted_pair(scope, "request_count", "commit_count", off_days)


def test_correlate_adjusted_columns_are_null_with_under_21_overlapping_days():
    # Given GitHub rows from day 0 and sessions only from day 40 of 60: 20 overlapping days
    rng = np.random.default_rng(4)
    x = _calendar_counts(rng, MONDAY, 60, 20.0)
    y = _calendar_counts(rng, MONDAY, 60, 6.0)
    sessions, github = _rows("acme/api", MONDAY, x, y, x_from=40)

    # When
    rows = _run(sessions, github)

    # Then the raw columns use the 60-day window; the adjusted ones are null
    for row in _repo_rows(rows, "acme/api"):
        assert row["n"] == 60 - row["lag_days"]
        assert row["pearson_r"] is not None and row["pearson_p"] is not None
        for column in ("adj_r", "adj_ci_low", "adj_ci_high", "adj_p", "n_eff", "adj_p_adj"):
            assert row[column] is None
    assert _chart_series(sessions, github, "acme/api") is None

    # and four weeks of overlap make them defined
    sessions, github = _rows("acme/api", MONDAY, x, y, x_from=32)
    assert all(r["adj_r"] is not None for r in _repo_rows(_run(sessions, github), "acme/api"))


def test_correlate_adjusts_on_the_overlap_of_the_two_tables_only():
    # Given a repo whose traces start 30 days after its GitHub data (12 weeks of GitHub data)
    rng = np.random.default_rng(9)
    days, late = 84, 30
    x = _calendar_counts(rng, MONDAY, days, 25.0)
    y = _calendar_counts(rng, MONDAY, days, 6.0)
    sessions, github = _rows("acme/api", MONDAY, x, y, x_from=late)

    # When
    rows = _repo_rows(_run(sessions, github), "acme/api")
    series = _chart_series(sessions, github, "acme/api")

    # Then the adjusted columns are those of the 54 overlapping days (the zero-filled head plays no part)
    start = MONDAY + timedelta(days=late)
    assert series.start == start and series.days == days - late
    expected = adjusted_lagged(adjust_series(x[late:], y[late:], start), range(8))
    for row in rows:
        k = row["lag_days"]
        assert row["n"] == days - k
        assert row["adj_r"] == pytest.approx(expected.r[k, 0, 0], abs=1e-12)
        assert row["n_eff"] == pytest.approx(expected.n_eff[k, 0, 0], rel=1e-12)
        assert row["n_eff"] <= days - late - k
        assert row["adj_p"] == pytest.approx(expected.p[k, 0, 0], rel=1e-9)
    # (lstsq oracle on the overlap)
    design = calendar_design(start, days - late)
    ex = _lstsq_residuals(np.log1p(x[late:]), design)
    ey = _lstsq_residuals(np.log1p(y[late:]), design)
    assert rows[0]["adj_r"] == pytest.approx(stats.pearsonr(ex, ey).statistic, abs=1e-10)


def test_configured_holidays_change_the_adjusted_result_for_a_holiday_the_data_cannot_show():
    # Given a repo whose activity only halves on a Wednesday holiday (day 44): not a detectable team stop
    rng = np.random.default_rng(13)
    days, holiday = 84, 44
    x = _calendar_counts(rng, MONDAY, days, 25.0)
    y = _calendar_counts(rng, MONDAY, days, 8.0)
    x[holiday], y[holiday] = np.round(x[holiday] / 2), np.round(y[holiday] / 2)
    sessions, github = _rows("acme/api", MONDAY, x, y)
    day = MONDAY + timedelta(days=holiday)
    assert day.weekday() == 2

    # When
    plain = _repo_rows(_run(sessions, github), "acme/api")
    configured = _repo_rows(_run(sessions, github, holidays=[day]), "acme/api")

    # Then the configured run fits the day with the non-working-day indicator; the plain one does not
    expected = adjusted_lagged(adjust_series(x, y, MONDAY, holiday_mask([day], MONDAY, days)), range(8))
    unmarked = adjusted_lagged(adjust_series(x, y, MONDAY), range(8))
    for a, b in zip(plain, configured, strict=True):
        k = a["lag_days"]
        assert a["adj_r"] == pytest.approx(unmarked.r[k, 0, 0], abs=1e-12)
        assert b["adj_r"] == pytest.approx(expected.r[k, 0, 0], abs=1e-12)
        assert a["adj_r"] != pytest.approx(b["adj_r"], abs=1e-6)
        assert a["pearson_r"] == b["pearson_r"]
    series = _chart_series(sessions, github, "acme/api", holidays=[day])
    assert series.x[holiday, 0] == pytest.approx(0.0, abs=1e-9)


def test_correlate_detects_a_company_holiday_from_the_pooled_data():
    # Given two repos that both stop on a Tuesday (day 50)
    rng = np.random.default_rng(17)
    days, holiday = 84, 50
    sessions, github, data = [], [], {}
    for repo in ("a", "b"):
        x = _calendar_counts(rng, MONDAY, days, 25.0)
        y = _calendar_counts(rng, MONDAY, days, 8.0)
        x[holiday] = y[holiday] = 0.0
        s, g = _rows(repo, MONDAY, x, y)
        sessions += s
        github += g
        data[repo] = (x, y)

    # When
    rows = _run(sessions, github)

    # Then each repo's adjusted columns are as with the day configured as a holiday
    mask = holiday_mask([MONDAY + timedelta(days=holiday)], MONDAY, days)
    for repo, (x, y) in data.items():
        expected = adjusted_lagged(adjust_series(x, y, MONDAY, mask), range(8))
        got = [r["adj_r"] for r in _repo_rows(rows, repo)]
        assert got == pytest.approx(expected.r[:, 0, 0], abs=1e-12)


# --- calibration in miniature -----------------------------------------------------------------------------------


def test_independent_series_sharing_rhythm_ramp_and_step_fool_raw_pearson_but_not_adj_p():
    # Given 200 pairs of independent series sharing a strong weekday rhythm, a ramp and a step (no link)
    rng = np.random.default_rng(99)
    days = 112
    t = np.arange(days)
    raw_hits = adj_hits = 0
    pairs = 200
    for _ in range(pairs):
        start = MONDAY + timedelta(days=int(rng.integers(0, 7)))
        rhythm = WEEKDAY_SHAPE[_weekday(start, days)]
        step = np.where(t >= rng.integers(20, days - 20), rng.uniform(1.3, 2.0), 1.0)
        ramp = 0.3 + 0.7 / (1.0 + np.exp(-(t - rng.uniform(30, 80)) / 8.0))
        x = rng.poisson(30.0 * rhythm * ramp * step * np.exp(_ar1(rng, days, 0.4, 0.3))).astype(float)
        y = rng.poisson(8.0 * rhythm * (1 + t / days) * step * np.exp(_ar1(rng, days, 0.4, 0.3))).astype(float)

        # When
        raw_p = stats.pearsonr(x, y).pvalue
        adj_p = adjusted_lagged(adjust_series(x, y, start), (0,)).p[0, 0, 0]

        # Then count the pairs each method calls significant
        raw_hits += raw_p < 0.05
        adj_hits += adj_p < 0.05

    assert raw_hits / pairs > 0.8
    assert adj_hits / pairs <= 0.10
