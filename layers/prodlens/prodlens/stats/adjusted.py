"""Calendar-adjusted, autocorrelation-aware lagged association (the `adj_*` columns of `correlations`).

Raw correlations of daily counts mostly measure the calendar: AI use and delivery both drop on weekends and
holidays and both grow as a team grows or adopts AI. The adjusted association removes what the calendar
explains from each series, then tests what is left with a p-value that accounts for the autocorrelation
that remains. docs/metrics.md ("Adjusted association") gives the formulas and references; in short:

1. scale: z = log(1 + value), so that weekday ratios, ramps and steps (multiplicative on counts) are additive
   and small counts are not dominated by their largest days;
2. calendar: ordinary least squares on one level per calendar week (ramps, step changes, slow drift), day of
   week (the weekly rhythm, allowed to drift linearly) and one indicator for non-working weekdays (holidays:
   from config, and days on which the team as a whole stopped, found from the pooled data); the residuals are
   the adjusted series;
3. association: adj_r = Pearson r of the adjusted x(d) against the adjusted y(d + k);
4. autocorrelation: each adjusted series' noise is modelled as AR(1), its coefficient corrected for what the
   calendar fit took out; the first-order variance of r between two independent series with those residual
   covariances gives an effective number of independent days, n_eff = 1 + 1 / var(r); adj_p is the t test of
   adj_r on n_eff - 2 degrees of freedom, the CI is Fisher's z with n_eff - 3.

numpy only: the Lambda ships no scipy; tests check each step against scipy and statsmodels-style formulas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from prodlens.stats.core import correlation_matrix, lagged_pair
from prodlens.stats.special import correlation_pvalue, fisher_ci

# A week with fewer days than this inside the window (the window's first or last) shares the level of its
# neighbour: a level fitted to one or two days would absorb them completely.
MIN_DAYS_PER_WEEK_LEVEL = 4
# Below these the adjusted columns are null: too few days, or too few left once the calendar is fitted.
MIN_ADJUSTED_DAYS = 21
MIN_FREE_DAYS = 10
# A weekday is a team non-working day when the pooled AI use and the pooled commits both fall below this
# share of their usual level on working weekdays around it (the median over +-NEIGHBOURHOOD_DAYS).
TEAM_OFF_SHARE = 0.2
NEIGHBOURHOOD_DAYS = 14
# The AR(1) coefficients the noise model can take (residual_ar1 interpolates between them).
PHI_GRID = np.linspace(-0.5, 0.95, 30)


def to_scale(values: np.ndarray) -> np.ndarray:
    """The modelling scale for daily counts and amounts: log(1 + max(value, 0))."""
    return np.log1p(np.maximum(np.asarray(values, dtype=float), 0.0))


def week_blocks(start: date, days: int) -> np.ndarray:
    """Calendar week (Monday-Sunday) index of each day; a short first or last week joins its neighbour."""
    offset = start.weekday()
    block = (np.arange(days) + offset) // 7
    weeks = int(block[-1]) + 1 if days else 0
    if weeks > 1:
        sizes = np.bincount(block, minlength=weeks)
        if sizes[0] < MIN_DAYS_PER_WEEK_LEVEL:
            block = np.maximum(block, 1)
        if sizes[-1] < MIN_DAYS_PER_WEEK_LEVEL and weeks - 1 > int(block.min()):
            block = np.minimum(block, weeks - 2)
    return block - block.min()


def calendar_design(start: date, days: int, off_days: np.ndarray | None = None) -> np.ndarray:
    """The calendar's regressors for `days` consecutive days from `start`: shape (days, columns).

    One level per calendar week (no separate intercept), Tuesday..Sunday against Monday (each also times a
    linear trend over the window), and a non-working weekday indicator when `off_days` (bool per day) marks
    any weekday. Columns that are all zero are dropped; remaining collinearity is handled by the
    rank-revealing basis in `residualize`.
    """
    block = week_blocks(start, days)
    levels = np.zeros((days, int(block.max()) + 1 if days else 0))
    levels[np.arange(days), block] = 1.0
    weekday = (np.arange(days) + start.weekday()) % 7
    dow = (weekday[:, None] == np.arange(1, 7)[None, :]).astype(float)
    # The weekly rhythm may drift (a growing team's weekends grow less than its weekdays): each weekday's
    # effect also gets a linear trend over the window.
    drift = np.linspace(-1.0, 1.0, days)[:, None] if days > 1 else np.zeros((days, 1))
    columns = [levels, dow, dow * drift]
    if off_days is not None:
        off_weekday = np.asarray(off_days, dtype=bool) & (weekday < 5)
        if off_weekday.any():
            columns.append(off_weekday[:, None].astype(float))
    design = np.hstack(columns)
    return design[:, design.any(axis=0)]


def orthonormal_basis(design: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the design's column space (rank-revealing SVD)."""
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    tol = s.max(initial=0.0) * max(design.shape) * np.finfo(float).eps
    return u[:, s > tol]


def _residuals(values: np.ndarray, basis: np.ndarray) -> np.ndarray:
    return values - basis @ (basis.T @ values)


def residualize(values: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residuals of each column of `values` after least squares on `design`, and an orthonormal basis of it."""
    basis = orthonormal_basis(design)
    return _residuals(values, basis), basis


@lru_cache(maxsize=8)
def _distance(days: int) -> np.ndarray:
    return np.abs(np.arange(days)[:, None] - np.arange(days)[None, :])


def ar1_covariance(phi: float, days: int) -> np.ndarray:
    """Correlation matrix of a stationary AR(1) series: phi ** |i - j|."""
    return (float(phi) ** np.arange(days))[_distance(days)]


def project_out(cov: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """M cov M with M = I - basis basis' (the covariance of least-squares residuals), in O(n^2 r)."""
    cb = cov @ basis
    inner = basis.T @ cb
    return cov - basis @ cb.T - cb @ basis.T + basis @ inner @ basis.T


def _lag1(values: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each column (sum of lagged products over the sum of squares; 0 if constant)."""
    denom = np.einsum("ij,ij->j", values, values)
    lagged = np.einsum("ij,ij->j", values[:-1], values[1:])
    return np.where(denom > 0, lagged / np.where(denom > 0, denom, 1.0), 0.0)


def expected_lag1(basis: np.ndarray) -> np.ndarray:
    """For each phi of PHI_GRID, the expected lag-1 autocorrelation of least-squares residuals of AR(1) noise."""
    days = len(basis)
    expected = []
    for phi in PHI_GRID:
        cov = project_out(ar1_covariance(phi, days), basis)
        expected.append(np.trace(cov, offset=1) / np.trace(cov))
    return np.maximum.accumulate(np.array(expected))  # monotone for np.interp


def residual_ar1(residuals: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """The AR(1) coefficient of each column's noise, corrected for what the calendar fit took out.

    Least-squares residuals of an AR(1) noise are less autocorrelated than the noise (fitting weekly levels
    removes its slow part). For each phi on a grid the expected lag-1 autocorrelation of the residuals,
    E[sum e_t e_t+1] / E[sum e_t^2] under M Sigma(phi) M, is computed exactly; the observed one is inverted
    on it (linear interpolation), clipped to the ends of PHI_GRID.
    """
    return np.interp(_lag1(residuals), expected, PHI_GRID)


def null_variances(covs_x: Sequence[np.ndarray], covs_y: Sequence[np.ndarray]) -> np.ndarray:
    """Var(r) for each pair of independent Gaussian series with these (symmetric) covariances, to first order.

    r = x'C y / (|Cx| |Cy|) with C = I - 11'/n; under independence E[(x'Cy)^2] = tr(C Sx C Sy) and
    E|Cx|^2 = tr(C Sx), so var(r) ~= tr(C Sx C Sy) / (tr(C Sx) tr(C Sy)) (1 / (n - 1) for white noise).
    Expanded so that no centered copy is made: tr(C A C B) = tr(AB) - 2 (A1).(B1) / n + (1'A1)(1'B1) / n^2
    and tr(CA) = tr(A) - 1'A1 / n. Shape (len(covs_x), len(covs_y)).
    """
    a, b = np.stack(covs_x), np.stack(covs_y)
    n = a.shape[1]
    a_rows, b_rows = a.sum(axis=2), b.sum(axis=2)  # A1, B1
    a_total, b_total = a_rows.sum(axis=1), b_rows.sum(axis=1)  # 1'A1, 1'B1
    cross = np.einsum("aij,bij->ab", a, b) - 2.0 * (a_rows @ b_rows.T) / n + np.outer(a_total, b_total) / n**2
    traces = np.einsum("kii->k", a) - a_total / n, np.einsum("kii->k", b) - b_total / n
    return cross / np.outer(*traces)


@dataclass(frozen=True)
class CalendarFit:
    """What every series on the same days shares: the calendar design's orthonormal basis and, per PHI_GRID
    value, the expected lag-1 autocorrelation of its residuals under AR(1) noise (see residual_ar1)."""

    basis: np.ndarray
    lag1_grid: np.ndarray


def calendar_fit(start: date, days: int, off_days: np.ndarray | None = None) -> CalendarFit:
    """The calendar fit of `days` days from `start`; computed once per distinct (start, days, off days).

    Repos covering the same days share one calendar, so the SVD and the PHI_GRID projections are not
    repeated for each of them.
    """
    off_key = None if off_days is None else np.asarray(off_days, dtype=bool).tobytes()
    return _calendar_fit(start, days, off_key)


@lru_cache(maxsize=16)
def _calendar_fit(start: date, days: int, off_key: bytes | None) -> CalendarFit:
    off_days = None if off_key is None else np.frombuffer(off_key, dtype=bool)
    basis = orthonormal_basis(calendar_design(start, days, off_days))
    grid = expected_lag1(basis)
    basis.flags.writeable = grid.flags.writeable = False  # shared by every caller of the cache
    return CalendarFit(basis, grid)


@dataclass(frozen=True)
class AdjustedSeries:
    """The adjusted (residual) daily series of one scope, on the days they cover."""

    start: date
    x: np.ndarray  # (days, p)
    y: np.ndarray  # (days, q)
    fit: CalendarFit

    @property
    def days(self) -> int:
        return len(self.x)

    @property
    def basis(self) -> np.ndarray:
        return self.fit.basis

    @property
    def rank(self) -> int:
        return self.fit.basis.shape[1]


@dataclass(frozen=True)
class AdjustedStats:
    """Arrays of shape (len(lags), p, q); NaN where the adjusted association is not defined."""

    lags: tuple[int, ...]
    r: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p: np.ndarray
    n_eff: np.ndarray


def adjust_series(
    x: np.ndarray, y: np.ndarray, start: date, off_days: np.ndarray | None = None
) -> AdjustedSeries | None:
    """Both tables' daily series (days, p) and (days, q) on the model scale with the calendar removed.

    None when there are fewer than MIN_ADJUSTED_DAYS days or fewer than MIN_FREE_DAYS left once fitted.
    """
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    days = len(x)
    if days < MIN_ADJUSTED_DAYS:
        return None
    fit = calendar_fit(start, days, off_days)
    if days - fit.basis.shape[1] < MIN_FREE_DAYS:
        return None
    values = np.hstack([to_scale(x), to_scale(y)])
    residuals = _residuals(values, fit.basis)
    # Round-off residue of a series the calendar explains fully would read as a correlation: make it exact.
    scale = np.maximum(np.abs(values).max(axis=0), 1.0)
    residuals[:, np.abs(residuals).max(axis=0) <= 1e-9 * scale] = 0.0
    p = x.shape[1]
    return AdjustedSeries(start, residuals[:, :p], residuals[:, p:], fit)


def adjusted_lagged(adjusted: AdjustedSeries, lags: Iterable[int]) -> AdjustedStats:
    """adj_r, its CI, adj_p and n_eff for every (x column, y column, lag) of an adjusted pair of series.

    Lag k pairs x(d) with y(d + k). Each adjusted column's noise is modelled as AR(1) (residual_ar1); its
    residual covariance is M Sigma(phi) M. n_eff = 1 + 1 / var(r) with var(r) from null_variances on the lagged
    days: white noise without a calendar gives n_eff = n; white noise with a calendar of rank m gives
    n - m + 1, the degrees of freedom of a partial correlation; autocorrelated noise gives fewer.
    A constant adjusted column gives NaN.
    """
    lags = tuple(int(k) for k in lags)
    x, y = adjusted.x, adjusted.y
    days, p = adjusted.days, x.shape[1]
    shape = (len(lags), p, y.shape[1])
    r = np.full(shape, np.nan)
    n_eff = np.full(shape, np.nan)
    phis = residual_ar1(np.hstack([x, y]), adjusted.fit.lag1_grid)
    covs = {phi: project_out(ar1_covariance(phi, days), adjusted.basis) for phi in np.unique(phis)}
    for i, lag in enumerate(lags):
        xs, ys = lagged_pair(x, y, lag)
        n = len(xs)
        if n < 3:
            continue
        r[i] = correlation_matrix(xs, ys)
        head, tail = slice(0, n), slice(days - n, days)
        if lag < 0:  # x(d) with y(d + lag): x's last n days and y's first n days
            head, tail = tail, head
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = null_variances(
                [covs[phi][head, head] for phi in phis[:p]], [covs[phi][tail, tail] for phi in phis[p:]]
            )
            n_eff[i] = np.where(variance > 0, np.clip(1.0 + 1.0 / variance, 2.0, n), np.nan)
    n_eff = np.where(np.isnan(r), np.nan, n_eff)
    p_value = correlation_pvalue(r, n_eff)
    low, high = fisher_ci(r, n_eff)
    return AdjustedStats(lags, r, low, high, p_value, n_eff)


def team_off_days(activity: Sequence[np.ndarray], start: date) -> np.ndarray:
    """Weekdays on which the team as a whole stopped, found from pooled daily series (e.g. AI requests, commits).

    A weekday is off when every series is at most TEAM_OFF_SHARE of its median over the working weekdays
    within +-NEIGHBOURHOOD_DAYS (a local median, so a growing team's early days are not called holidays), and
    that median is positive.
    """
    series = [np.asarray(a, dtype=float) for a in activity]
    days = len(series[0]) if series else 0
    weekday = (np.arange(days) + start.weekday()) % 7 < 5
    off = weekday.copy()
    for values in series:
        low = np.zeros(days, dtype=bool)
        for d in np.flatnonzero(weekday):
            lo, hi = max(0, d - NEIGHBOURHOOD_DAYS), min(days, d + NEIGHBOURHOOD_DAYS + 1)
            around = values[lo:hi][weekday[lo:hi]]
            usual = float(np.median(around)) if around.size else 0.0
            low[d] = usual > 0 and values[d] <= TEAM_OFF_SHARE * usual
        off &= low
    return off


def holiday_mask(holidays: Iterable[date], start: date, days: int) -> np.ndarray:
    """Bool per day of the window: the day is in the configured holiday list."""
    mask = np.zeros(days, dtype=bool)
    for day in holidays:
        index = (day - start).days
        if 0 <= index < days:
            mask[index] = True
    return mask
