"""Array-level statistics: average ranks, correlation matrices, lagged pairs, Benjamini–Hochberg.

Everything here works on numpy arrays and is the part of the engine the table-level `correlate`
calls in a loop; the p-values come from `special` (no scipy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from prodlens.stats.special import correlation_pvalue, fisher_ci, pearson_pvalue

# |r| above 1 - NEAR_ONE is recomputed with scipy's own arithmetic (see correlation_matrix).
NEAR_ONE = 1e-10


def rankdata_columns(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties get the mean of their positions) of each column of a 2-D array.

    Column j equals scipy.stats.rankdata(a[:, j], method="average") exactly (ranks are multiples of 0.5).
    """
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        return rankdata_columns(a[:, None])[:, 0]
    n, m = a.shape
    if n == 0 or m == 0:
        return np.empty((n, m))
    order = np.argsort(a, axis=0, kind="stable")
    ordered = np.take_along_axis(a, order, axis=0)
    new_group = np.ones((n, m), dtype=bool)
    new_group[1:] = ordered[1:] != ordered[:-1]
    flags = new_group.T.reshape(-1)  # column-major: every column starts a new group
    group = np.cumsum(flags) - 1
    bounds = np.flatnonzero(np.concatenate([flags, [True]]))
    counts = np.diff(bounds)
    start_in_column = bounds[:-1] % n
    average = start_in_column + (counts + 1) / 2.0
    ranks_sorted = average[group].reshape(m, n).T
    ranks = np.empty((n, m))
    np.put_along_axis(ranks, order, ranks_sorted, axis=0)
    return ranks


def _unit_columns(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centered columns scaled to unit norm (scaled by max |.| first, as scipy does, against overflow)."""
    centered = a - a.mean(axis=0)
    scale = np.max(np.abs(centered), axis=0)
    constant = np.all(a == a[:1], axis=0)
    scale = np.where(constant | (scale == 0), 1.0, scale)
    scaled = centered / scale
    norm = np.sqrt(np.einsum("ij,ij->j", scaled, scaled))
    norm = np.where(constant | (norm == 0), 1.0, norm)
    return scaled / norm, constant


def _pearson_columns(x: np.ndarray, y: np.ndarray, exact: Callable[[np.ndarray, np.ndarray], float]) -> np.ndarray:
    """Pearson r of every column of x (n, p) against every column of y (n, q): shape (p, q).

    NaN where either column is constant (exact equality, as scipy), clipped to [-1, 1]. Entries within
    NEAR_ONE of +-1 are recomputed pair by pair with `exact` (scipy's own arithmetic): there the p-value of
    tiny samples reacts to single ulps of r."""
    ux, cx = _unit_columns(x)
    uy, cy = _unit_columns(y)
    r = np.clip(ux.T @ uy, -1.0, 1.0)
    r[cx, :] = np.nan
    r[:, cy] = np.nan
    for i, j in zip(*np.nonzero(np.abs(r) > 1.0 - NEAR_ONE), strict=True):
        r[i, j] = exact(x[:, i], y[:, j])
    return r


def correlation_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every column of x against every column of y; near +-1 as scipy.stats.pearsonr."""
    return _pearson_columns(np.asarray(x, dtype=float), np.asarray(y, dtype=float), pearson_r_exact)


def pearson_r_exact(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two 1-D series with the very operations scipy.stats.pearsonr uses (non-constant input)."""
    xm = x - np.mean(x)
    ym = y - np.mean(y)
    xmax = np.max(np.abs(xm))
    ymax = np.max(np.abs(ym))
    normxm = xmax * np.linalg.vector_norm(xm / xmax)
    normym = ymax * np.linalg.vector_norm(ym / ymax)
    return float(np.clip(np.vecdot(xm / normxm, ym / normym), -1.0, 1.0))


def spearman_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of every column of x against every column of y: Pearson r of average ranks.

    Entries within NEAR_ONE of +-1 are recomputed with np.corrcoef of the ranks, as scipy.stats.spearmanr.
    """
    return _pearson_columns(rankdata_columns(x), rankdata_columns(y), _corrcoef_pair)


def _corrcoef_pair(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(np.column_stack([x, y]), rowvar=False)[1, 0])


def lagged_pair(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of x(d) and y(d + lag) for every d with both days inside the series (axis 0)."""
    days = len(x)
    k = abs(lag)
    if k >= days:
        return x[:0], y[:0]
    if lag >= 0:
        return x[: days - k], y[k:]
    return x[k:], y[: days - k]


@dataclass(frozen=True)
class LaggedStats:
    """Statistics of every (x column, y column, lag): arrays of shape (len(lags), p, q)."""

    lags: tuple[int, ...]
    n: np.ndarray
    pearson_r: np.ndarray
    pearson_p: np.ndarray
    pearson_ci_low: np.ndarray
    pearson_ci_high: np.ndarray
    spearman_rho: np.ndarray
    spearman_p: np.ndarray


def lagged_correlations(x: np.ndarray, y: np.ndarray, lags: Iterable[int], *, with_p: bool = True) -> LaggedStats:
    """Pearson and Spearman of x(d) vs y(d + lag) for every column pair and lag.

    x: (days, p), y: (days, q) daily series on the same calendar. n = days - |lag|; n < 3 gives NaN
    statistics; a constant (lagged) column gives NaN r, rho and p; the CI is NaN when n < 4.
    With with_p=False the p-values and CIs are left NaN (the caller computes them in one batch).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    lags = tuple(int(k) for k in lags)
    p, q = x.shape[1], y.shape[1]
    shape = (len(lags), p, q)
    n = np.zeros(shape, dtype=np.int64)
    r = np.full(shape, np.nan)
    rho = np.full(shape, np.nan)
    for i, lag in enumerate(lags):
        xs, ys = lagged_pair(x, y, lag)
        size = len(xs)
        n[i] = size
        if size < 3:
            continue
        r[i] = correlation_matrix(xs, ys)
        rho[i] = spearman_matrix(xs, ys)
    nan = np.full(shape, np.nan)
    if with_p:
        pearson_p = pearson_pvalue(r, n)
        spearman_p = correlation_pvalue(rho, n)
        low, high = fisher_ci(r, n)
    else:
        pearson_p, spearman_p, low, high = nan, nan.copy(), nan.copy(), nan.copy()
    return LaggedStats(lags, n, r, pearson_p, low, high, rho, spearman_p)


def bh_adjust(p) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values, in input order; NaN entries are left out and stay NaN.

    Same as scipy.stats.false_discovery_control(p, method="bh") on the non-NaN values:
    p_(i) * m / i, made monotone from the largest down (cumulative minimum), clipped to 1.
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    values = p[ok]
    order = np.argsort(values, kind="stable")
    scaled = values[order] * (m / np.arange(1, m + 1))  # the same rounding as scipy
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.clip(adjusted, 0.0, 1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[ok] = result
    return out
