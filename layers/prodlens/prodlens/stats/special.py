"""Closed-form distribution functions in numpy + math: the p-values scipy would give, without scipy.

The Lambda ships numpy but not scipy (numpy + scipy + duckdb exceed the 250 MB limit), so the two
functions the correlation engine needs are implemented here and checked against scipy in the tests:

* the regularized incomplete beta function I_x(a, b) (Numerical Recipes' continued fraction,
  evaluated with the modified Lentz method, vectorized over arrays), and
* the two-sided p-value of a correlation coefficient under H0: rho = 0, which is
  I_{1-r^2}((n-2)/2, 1/2) -- the same number as scipy.stats.pearsonr (beta distribution of r) and
  scipy.stats.spearmanr (Student t with n-2 degrees of freedom).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_MAX_ITERATIONS = 10_000
_EPS = 1e-16
_TINY = 1e-300


def _lbeta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log B(a, b) with math.lgamma, evaluated once per distinct (a, b) pair."""
    pairs = np.stack([a, b], axis=-1).reshape(-1, 2)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    values = np.array([math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y) for x, y in unique], dtype=float).reshape(
        -1
    )
    return values[inverse.reshape(-1)].reshape(a.shape)


def _continued_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of I_x(a, b) (NR `betacf`), modified Lentz, elementwise over arrays."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < _TINY, _TINY, d)
    d = 1.0 / d
    h = d.copy()
    active = np.ones(x.shape, dtype=bool)
    for m in range(1, _MAX_ITERATIONS + 1):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        aa_, bb_, xx = a[idx], b[idx], x[idx]
        cc, dd, hh = c[idx], d[idx], h[idx]
        m2 = 2.0 * m
        coef = m * (bb_ - m) * xx / ((qam[idx] + m2) * (aa_ + m2))
        dd = 1.0 + coef * dd
        dd = np.where(np.abs(dd) < _TINY, _TINY, dd)
        cc = 1.0 + coef / cc
        cc = np.where(np.abs(cc) < _TINY, _TINY, cc)
        dd = 1.0 / dd
        hh = hh * dd * cc
        coef = -(aa_ + m) * (qab[idx] + m) * xx / ((aa_ + m2) * (qap[idx] + m2))
        dd = 1.0 + coef * dd
        dd = np.where(np.abs(dd) < _TINY, _TINY, dd)
        cc = 1.0 + coef / cc
        cc = np.where(np.abs(cc) < _TINY, _TINY, cc)
        dd = 1.0 / dd
        delta = dd * cc
        hh = hh * delta
        c[idx], d[idx], h[idx] = cc, dd, hh
        active[idx] = np.abs(delta - 1.0) > _EPS
    return h


def betainc(a, b, x, y=None) -> np.ndarray:
    """Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1, elementwise.

    `y` is 1 - x; pass it when it is known more accurately than `1 - x` (e.g. r**2 when
    x = 1 - r**2), which keeps full relative precision for p-values close to 0.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    x = np.asarray(x, dtype=float)
    a, b, x = np.broadcast_arrays(a, b, x)
    y = 1.0 - x if y is None else np.broadcast_to(np.asarray(y, dtype=float), x.shape)
    shape = x.shape
    a, b, x, y = (np.array(v, dtype=float).reshape(-1) for v in (a, b, x, y))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_front = a * np.log(x) + b * np.log(y) - _lbeta(a, b)
        front = np.exp(log_front)
        swap = x >= (a + 1.0) / (a + b + 2.0)
        ca = np.where(swap, b, a)
        cb = np.where(swap, a, b)
        cx = np.where(swap, y, x)
        cf = _continued_fraction(ca, cb, cx)
        direct = front * cf / ca
        out = np.where(swap, 1.0 - direct, direct)
    out = np.where(x <= 0.0, 0.0, out)
    out = np.where(y <= 0.0, 1.0, out)
    return np.clip(out, 0.0, 1.0).reshape(shape)


def _pvalue_inputs(r, n) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """|r| clipped to [0, 1] and n as float arrays of one shape, an all-NaN output, and where p is defined."""
    r = np.abs(np.clip(np.asarray(r, dtype=float), -1.0, 1.0))
    n = np.asarray(n, dtype=float)
    r, n = np.broadcast_arrays(r, n)
    return r, n, np.full(r.shape, np.nan), np.isfinite(r) & (n >= 3)


def correlation_pvalue(r, n) -> np.ndarray:
    """Two-sided p-value of a Spearman-style correlation coefficient r from n pairs, H0: rho = 0.

    scipy.stats.spearmanr: t = r sqrt((n-2) / (1-r^2)), Student t with n-2 df, which is
    I_{1-r^2}((n-2)/2, 1/2); 1 - r^2 is formed as (1-|r|)(1+|r|) for full precision near |r| = 1.
    NaN where r is NaN or n < 3. |r| = 1 gives 0.
    """
    r, n, out, ok = _pvalue_inputs(r, n)
    if ok.any():
        rr = r[ok]
        df = n[ok] - 2.0
        out[ok] = betainc(df / 2.0, 0.5, (1.0 - rr) * (1.0 + rr), rr * rr)
    return out


def pearson_pvalue(r, n) -> np.ndarray:
    """Two-sided p-value of Pearson's r from n pairs, H0: rho = 0, as scipy.stats.pearsonr computes it.

    Under H0, r ~ Beta(n/2 - 1, n/2 - 1) on [-1, 1]: p = 2 I_w(n/2 - 1, n/2 - 1) with w = 1 - (|r| + 1)/2.
    (The same number as `correlation_pvalue` mathematically; forming w like scipy keeps the two equal
    to the last digits even for |r| within an ulp of 1 at n = 3, where p reacts to single ulps.)
    NaN where r is NaN or n < 3. |r| = 1 gives 0.
    """
    r, n, out, ok = _pvalue_inputs(r, n)
    if ok.any():
        u = (r[ok] + 1.0) / 2.0
        w = 1.0 - u  # exact (Sterbenz) once u is rounded, as in scipy
        ab = n[ok] / 2.0 - 1.0
        out[ok] = np.minimum(2.0 * betainc(ab, ab, w, u), 1.0)
    return out


def normal_quantile(q: float) -> float:
    """Standard normal quantile (statistics.NormalDist), e.g. 0.975 -> 1.959963984540054."""
    return NormalDist().inv_cdf(q)


def fisher_ci(r, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Fisher-z confidence interval for r: tanh(atanh(r) +- z_{(1+c)/2} / sqrt(n-3)); NaN if n < 4."""
    r = np.asarray(r, dtype=float)
    n = np.asarray(n, dtype=float)
    r, n = np.broadcast_arrays(r, n)
    low = np.full(r.shape, np.nan)
    high = np.full(r.shape, np.nan)
    ok = np.isfinite(r) & (n >= 4)
    if ok.any():
        crit = normal_quantile(0.5 + confidence / 2.0)
        with np.errstate(divide="ignore"):
            z = np.arctanh(np.clip(r[ok], -1.0, 1.0))
        se = 1.0 / np.sqrt(n[ok] - 3.0)
        low[ok] = np.tanh(z - crit * se)
        high[ok] = np.tanh(z + crit * se)
    return low, high
