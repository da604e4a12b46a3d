"""Rollout effects (stats/rollout.py): each piece against scipy or an independent formula; what a rollout
looks like in the estimates. Calibration (false alarms, power, coverage) is measured by `make calibrate`."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from prodlens.stats import rollout
from scipy import linalg, stats

START = date(2026, 1, 5)  # a Monday
DOW = np.array([1.0, 1.05, 1.0, 0.95, 0.85, 0.15, 0.1])


def _daily(rng: np.random.Generator, days: int, t0: int, relative: float, base: float = 12.0) -> np.ndarray:
    weekday = (np.arange(days) + START.weekday()) % 7
    noise = np.zeros(days)
    for i, z in enumerate(rng.normal(0.0, 0.2, days)):
        noise[i] = (0.3 * noise[i - 1] if i else 0.0) + z
    mu = base * DOW[weekday] * np.exp(noise) * (1.0 + relative * (np.arange(days) >= t0))
    return rng.poisson(mu).astype(float)


@pytest.mark.parametrize("df", [3, 12, 57, 400])
@pytest.mark.parametrize("t", [0.3, 1.7, 2.5, 6.0])
def test_student_t_tail_and_quantile_match_scipy(t, df):
    assert rollout.t_two_sided_p(t, df) == pytest.approx(2 * stats.t.sf(t, df), rel=1e-9)
    assert rollout.t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)


def test_newey_west_variance_is_the_sandwich_element_of_the_bartlett_long_run_matrix():
    # Given a regression with heteroskedastic, autocorrelated errors
    rng = np.random.default_rng(4)
    n = 150
    x = np.column_stack([np.ones(n), np.arange(n) / 7.0, rng.normal(size=n)])
    e = np.convolve(rng.normal(size=n + 2) * np.linspace(0.5, 2.0, n + 2), [1.0, 0.6, 0.3], "valid")
    y = x @ np.array([1.0, 0.2, -0.5]) + e
    beta = linalg.lstsq(x, y)[0]
    residuals = y - x @ beta
    # Then the variance of each coefficient is [(X'X)^-1 S (X'X)^-1]_jj * n/(n-k), S = sum_l w_l Gamma_l (Bartlett)
    lags = rollout.bartlett_lags(n)
    scores = x * residuals[:, None]
    s = sum(
        (1 - abs(lag) / (lags + 1)) * (scores[max(lag, 0) :].T @ scores[: n - max(lag, 0)] if lag >= 0 else
                                       (scores[-lag:].T @ scores[: n + lag]).T)
        for lag in range(-lags, lags + 1)
    )  # fmt: skip
    bread = linalg.inv(x.T @ x)
    expected = np.diag(bread @ s @ bread) * n / (n - 3)
    assert lags == 4
    got = [rollout.newey_west_variance(x, residuals, j) for j in range(3)]
    assert got == pytest.approx(expected, rel=1e-10)


def test_ar1_variance_equals_the_model_formula_on_a_known_phi():
    # Given residuals whose AR(1) estimate is read back on the grid, the variance is sigma^2 w' Sigma(phi) w
    rng = np.random.default_rng(8)
    n = 120
    x = np.column_stack([np.ones(n), np.arange(n) >= 60])
    e = np.zeros(n)
    for i, z in enumerate(rng.normal(size=n)):
        e[i] = (0.5 * e[i - 1] if i else 0.0) + z
    residuals = e - x @ linalg.lstsq(x, e)[0]
    got = rollout.ar1_variance(x, residuals, 1)
    # (an independent check of the pieces: sigma^2 from the trace identity, Sigma = phi^|i-j|)
    from prodlens.stats import adjusted

    basis = adjusted.orthonormal_basis(x)
    phi = float(adjusted.residual_ar1(residuals[:, None], adjusted.expected_lag1(basis))[0])
    sigma = phi ** np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    m = np.eye(n) - basis @ basis.T
    w = linalg.inv(x.T @ x) @ x.T
    assert 0.3 < phi < 0.7
    assert got == pytest.approx(residuals @ residuals / np.trace(m @ sigma @ m) * w[1] @ sigma @ w[1], rel=1e-10)


def test_its_level_change_is_the_ols_step_on_the_log_scale_back_in_metric_units():
    rng = np.random.default_rng(1)
    days, t0 = 140, 70
    y = _daily(rng, days, t0, 0.0)
    effect = rollout.its(y, START, START + timedelta(days=t0))
    # The step is the OLS coefficient (scipy's lstsq on the same design) of log(1 + y); in metric units it is the
    # mean difference it makes to the fitted post-rollout days, relative to those days without it
    observed = np.arange(days)
    design = rollout.its_design(observed, (observed + START.weekday()) % 7, np.zeros(days, bool), t0)
    beta = linalg.lstsq(design, np.log1p(y))[0]
    without = (design @ beta)[t0:] - beta[-2]
    level = np.mean(np.expm1(without + beta[-2])) - np.mean(np.expm1(without))
    assert effect.level_change == pytest.approx(level, rel=1e-9)
    assert effect.relative_change == pytest.approx(level / np.mean(np.expm1(without)), rel=1e-9)
    assert effect.ci_low < effect.level_change < effect.ci_high
    assert (effect.days_before, effect.days_after) == (70, 70)


def test_its_finds_a_forty_percent_rise_and_its_interval_holds_it():
    rng = np.random.default_rng(2)
    y = _daily(rng, 168, 84, 0.4)
    effect = rollout.its(y, START, START + timedelta(days=84))
    counterfactual = effect.level_change / effect.relative_change
    assert effect.p < 0.01 and rollout.verdict(effect, effect.p) == "increase"
    assert effect.ci_low / counterfactual < 0.4 < effect.ci_high / counterfactual


def test_its_with_fewer_than_four_weeks_on_a_side_is_too_little_data():
    y = _daily(np.random.default_rng(3), 60, 40, 0.0)
    effect = rollout.its(y, START, START + timedelta(days=40))
    assert (effect.days_before, effect.days_after, effect.p) == (40, 20, None)
    assert rollout.verdict(effect, None) == "too_little_data"


def test_its_skips_days_without_an_observation():
    # A median merge time exists only on days with a merge: the others are NaN, not zero
    rng = np.random.default_rng(5)
    y = rng.gamma(2.0, 10.0, 140)
    y[rng.random(140) < 0.3] = np.nan
    effect = rollout.its(y, START, START + timedelta(days=70))
    assert effect.days_before + effect.days_after == int(np.isfinite(y).sum())
    assert effect.measured


def test_group_time_att_compares_each_cohort_with_units_not_yet_treated():
    # Given weekly means: unit 0 adopts in week 2, unit 1 in week 3, unit 2 never (cohort = 4 weeks)
    panel = np.array(
        [
            [10.0, 10.0, 15.0, 16.0],
            [20.0, 21.0, 22.0, 30.0],
            [5.0, 6.0, 7.0, 8.0],
        ]
    )
    cohort = np.array([2, 3, 4])
    att, weight = rollout.group_time_att(panel, cohort)
    # ATT(2,2): (15-10) - mean((22-21),(7-6)) = 4;  ATT(2,3): (16-10) - (8-6) = 4 (unit 1 is treated by week 3)
    # ATT(3,3): (30-22) - (8-7) = 7
    assert weight == 3
    assert att == pytest.approx((4 + 4 + 7) / 3)


def test_did_recovers_a_staggered_rise_and_says_nothing_without_one():
    rng = np.random.default_rng(6)
    days = 182
    results = {}
    for relative in (0.0, 0.5):
        series, adoption = {}, {}
        for u in range(12):
            adopt = None if u % 4 == 0 else 42 + 7 * (u % 9)
            series[f"r{u}"] = _daily(rng, days, adopt if adopt is not None else days, relative, base=rng.uniform(4, 14))
            adoption[f"r{u}"] = None if adopt is None else START + timedelta(days=adopt)
        results[relative] = rollout.did(series, START, adoption)
    assert results[0.0].p > 0.05 and results[0.0].ci_low < 0 < results[0.0].ci_high
    assert results[0.5].p < 0.05 and 0.3 < results[0.5].relative_change < 0.7
    # The bootstrap is seeded by the data: the same input gives the same interval
    again = rollout.did(series, START, adoption)
    assert (again.ci_low, again.ci_high) == (results[0.5].ci_low, results[0.5].ci_high)


def test_did_with_one_adopter_is_too_little_data():
    rng = np.random.default_rng(7)
    series = {f"r{u}": _daily(rng, 120, 200, 0.0) for u in range(5)}
    adoption = dict.fromkeys(series) | {"r1": START + timedelta(days=60)}
    assert not rollout.did(series, START, adoption).measured


def test_detected_rollout_is_the_first_week_at_half_the_steady_use():
    use = np.zeros(120)
    use[30:] = 2.0  # a trial: well under half of the later level
    use[50:] = 10.0  # the rollout, in the week of 2026-02-23
    assert rollout.detect_rollout(use, START) == date(2026, 2, 23)
    assert rollout.detect_rollout(np.full(120, 5.0), START) is None  # in use from the start: no before
    assert rollout.detect_rollout(np.zeros(120), START) is None
