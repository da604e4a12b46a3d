"""Rollout effects: did a unit's delivery change when AI arrived? (the `rollout_effects` table)

Two designs, each with an interval that accounts for what daily delivery series do (docs/metrics.md, "Rollout
effects", gives the formulas):

* `its`, interrupted time series on one unit's own daily history: ordinary least squares of the metric on an
  intercept, a linear trend, the day of week, non-working weekdays, a step at the rollout (the level change)
  and a change of trend after it (the slope change). The level change's standard error is Newey-West (Bartlett
  kernel) on the prewhitened scores (Andrews and Monahan 1992: a VAR(1) fitted to the scores first, so that
  the kernel estimate needs only the little autocorrelation left), with n / (n - k) small-sample scaling, and
  the test and interval use Student's t on n - k degrees of freedom.
* `did`, difference in differences across units that adopt at different dates (Callaway and Sant'Anna 2021):
  on weekly means, each adoption cohort g's change from the week before its adoption to each later week t is
  compared with the same change in the units not yet adopted at t (never-adopters included); the group-time
  effects ATT(g, t) are averaged with weights of cohort size. Never a two-way fixed-effects regression, whose
  staggered-adoption estimate mixes already-treated units into the comparison. The interval comes from a
  bootstrap over units (whole series resampled with replacement, so within-unit autocorrelation is kept).

numpy only (the Lambda ships no scipy); the tests check the algebra against scipy and independent formulas,
and `make calibrate` measures false alarms, power and coverage by simulation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from prodlens.stats.adjusted import ar1_covariance, expected_lag1, orthonormal_basis, project_out, residual_ar1
from prodlens.stats.special import betainc

# Below these the row says `too_little_data`: four weeks on each side of the rollout (days with an observation).
MIN_DAYS_BEFORE = 28
MIN_DAYS_AFTER = 28
# did: at least this many adopting units, and units to compare them with.
MIN_DID_ADOPTERS = 2
MIN_DID_UNITS = 4
BOOTSTRAP_SAMPLES = 999
ALPHA = 0.05


@dataclass(frozen=True)
class Effect:
    design: str  # its | did
    rollout_date: date
    days_before: int
    days_after: int
    level_change: float | None = None  # per day, in the metric's units
    slope_change: float | None = None  # per day, per day (its only)
    relative_change: float | None = None  # level_change / the level before the rollout
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None

    @property
    def measured(self) -> bool:
        return self.p is not None


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with df degrees of freedom (scipy.stats.t.sf(|t|, df) * 2)."""
    return float(betainc(df / 2.0, 0.5, df / (df + t * t), t * t / (df + t * t)))


def t_quantile(q: float, df: float) -> float:
    """The q quantile (q > 0.5) of Student's t with df degrees of freedom (scipy.stats.t.ppf), by bisection."""
    target = 2.0 * (1.0 - q)  # two-sided tail
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > target:
        high *= 2.0
    for _ in range(100):
        mid = (low + high) / 2.0
        if t_two_sided_p(mid, df) > target:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def bartlett_lags(n: int) -> int:
    """Newey-West's rule of thumb for the Bartlett kernel's truncation lag: floor(4 (n / 100)^(2/9))."""
    return int(np.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def _long_run_variance(psi: np.ndarray, lags: int) -> float:
    """Newey-West (Bartlett) long-run variance of a scalar series: sum over |l| <= lags of (1 - |l|/(lags+1)) *
    sum_t psi_t psi_{t-l}."""
    total = float(psi @ psi)
    for lag in range(1, lags + 1):
        total += 2.0 * (1.0 - lag / (lags + 1.0)) * float(psi[lag:] @ psi[:-lag])
    return total


def newey_west_variance(design: np.ndarray, residuals: np.ndarray, column: int) -> float:
    """Newey-West variance of one OLS coefficient (Bartlett kernel, rule-of-thumb lag), times n / (n - k).

    The coefficient's error is sum_t psi_t with psi_t = [(X'X)^-1 x_t]_column * e_t; its variance is the
    long-run variance of psi. Robust to heteroskedasticity (quiet weekends, busy weekdays) and to short-range
    autocorrelation; with few lags it understates strong, long autocorrelation, hence ar1_variance too."""
    n, k = design.shape
    psi = np.linalg.solve(design.T @ design, design.T)[column] * residuals
    return _long_run_variance(psi, bartlett_lags(n)) * n / (n - k)


def ar1_variance(design: np.ndarray, residuals: np.ndarray, column: int) -> float:
    """Variance of one OLS coefficient if the noise is AR(1): sigma^2 w' Sigma(phi) w, with phi read from the
    residuals and corrected for what the fit took out (as the adjusted association does), and sigma^2 =
    e'e / tr(M Sigma(phi) M), unbiased under that model."""
    basis = orthonormal_basis(design)
    phi = float(residual_ar1(residuals[:, None], expected_lag1(basis))[0])
    sigma = ar1_covariance(phi, len(residuals))
    scale = float(residuals @ residuals) / float(np.trace(project_out(sigma, basis)))
    weights = np.linalg.solve(design.T @ design, design.T)[column]
    return scale * float(weights @ sigma @ weights)


def its_design(days: np.ndarray, weekdays: np.ndarray, off: np.ndarray, rollout: int) -> np.ndarray:
    """Columns: intercept, trend (weeks), Tuesday..Sunday, non-working weekday, step at rollout, trend after it.
    Columns without variation in the sample (a weekday never observed, no off days) are dropped."""
    post = (days >= rollout).astype(float)
    columns = [np.ones(len(days)), (days - rollout) / 7.0]
    columns += [(weekdays == d).astype(float) for d in range(1, 7)]
    columns += [off.astype(float), post, post * (days - rollout) / 7.0]
    x = np.column_stack(columns)
    keep = [0, 1] + [j for j in range(2, x.shape[1] - 2) if x[:, j].any() and not x[:, j].all()]
    return x[:, [*keep, x.shape[1] - 2, x.shape[1] - 1]]


def its(values: np.ndarray, start: date, rollout: date, off_days: np.ndarray | None = None) -> Effect:
    """Interrupted time series of one daily series (`values[i]` is day `start + i`; NaN = no observation, e.g.
    the median merge time of a day without merges) around `rollout`."""
    values = np.asarray(values, dtype=float)
    observed = np.flatnonzero(np.isfinite(values))
    t0 = (rollout - start).days
    before, after = int((observed < t0).sum()), int((observed >= t0).sum())
    effect = Effect("its", rollout, before, after)
    if before < MIN_DAYS_BEFORE or after < MIN_DAYS_AFTER:
        return effect
    y = np.log1p(np.maximum(values[observed], 0.0))
    weekdays = (observed + start.weekday()) % 7
    off = np.zeros(len(values), dtype=bool) if off_days is None else np.asarray(off_days, dtype=bool)
    x = its_design(observed, weekdays, off[observed] & (weekdays < 5), t0)
    n, k = x.shape
    if np.linalg.matrix_rank(x) < k or n - k < 10:
        return effect
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    # The larger of two robust variances: Newey-West (heteroskedasticity, short-range autocorrelation) and an
    # AR(1) noise model (longer-range autocorrelation, which a few Newey-West lags understate).
    residuals = y - x @ beta
    se = float(np.sqrt(max(newey_west_variance(x, residuals, k - 2), ar1_variance(x, residuals, k - 2), 0.0)))
    step, slope, df = float(beta[-2]), float(beta[-1]), n - k
    # Back to the metric's units: the step moves every post-rollout day's fitted log(1 + y); the level change is
    # the mean daily difference it makes there on the metric's scale, relative to the same days without it.
    fitted_without = (x @ beta)[observed >= t0] - step
    counterfactual = float(np.mean(np.expm1(fitted_without)))

    def level(s: float) -> float:
        return float(np.mean(np.expm1(fitted_without + s))) - counterfactual

    relative = level(step) / counterfactual if counterfactual > 0 else None
    slope_change = float(slope) / 7.0  # per day, on the log scale: a relative change of trend
    if se == 0.0:
        return Effect("its", rollout, before, after, level(step), slope_change, relative)
    half = t_quantile(1.0 - ALPHA / 2.0, df) * se
    p = t_two_sided_p(step / se, df)
    low, high = level(step - half), level(step + half)
    return Effect("its", rollout, before, after, level(step), slope_change, relative, low, high, p)


# ---- did -----------------------------------------------------------------------------------------------------


def weekly_means(values: np.ndarray, start: date) -> tuple[date, np.ndarray]:
    """Mean per day of each Monday-Sunday week (NaN days left out; a week without observations is NaN);
    returns the first week's Monday and the means."""
    values = np.asarray(values, dtype=float)
    monday = start - timedelta(days=start.weekday())
    week = (np.arange(len(values)) + start.weekday()) // 7
    weeks = int(week[-1]) + 1
    ok = np.isfinite(values)
    sums = np.bincount(week[ok], weights=values[ok], minlength=weeks)
    counts = np.bincount(week[ok], minlength=weeks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return monday, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def group_time_att(panel: np.ndarray, cohort: np.ndarray) -> tuple[float, float]:
    """Callaway and Sant'Anna's simple aggregate of ATT(g, t) with not-yet-treated comparisons.

    `panel[i, t]` is unit i's weekly mean, `cohort[i]` its first adopted week (a value past the last week: never).
    For each cohort g >= 1 and week t >= g: ATT(g, t) = mean over i in g of (Y_it - Y_i,g-1) minus the same
    mean over units with cohort > t; pairs without a comparison unit or without data are left out. Returns the
    cohort-size-weighted mean of the ATT(g, t) and the total weight (0: nothing estimable)."""
    weeks = panel.shape[1]
    total, weight = 0.0, 0.0
    for g in np.unique(cohort[(cohort >= 1) & (cohort < weeks)]):
        members = cohort == g
        base = panel[:, g - 1]
        for t in range(g, weeks):
            change = panel[:, t] - base
            treated = members & np.isfinite(change)
            control = (cohort > t) & np.isfinite(change)
            if not treated.any() or not control.any():
                continue
            att = change[treated].mean() - change[control].mean()
            total += treated.sum() * att
            weight += treated.sum()
    return (total / weight if weight else float("nan")), weight


def _seed(panel: np.ndarray, cohort: np.ndarray) -> int:
    """The bootstrap's seed from its inputs: the same data always gives the same interval."""
    digest = hashlib.sha256(np.nan_to_num(panel, nan=-1.0).tobytes() + cohort.tobytes()).digest()
    return int.from_bytes(digest[:8], "big")


def did(series: Mapping[str, np.ndarray], start: date, adoption: Mapping[str, date | None]) -> Effect:
    """Staggered difference in differences over units (`series[unit][i]` is day `start + i`; `adoption[unit]`
    its rollout date, None: not adopted in the window). level_change is per day, in the metric's units."""
    units = sorted(series)
    first = min((d for d in adoption.values() if d is not None), default=None)
    days = len(next(iter(series.values()))) if series else 0
    if first is None:
        return Effect("did", start, days, 0)
    before, after = max(0, (first - start).days), max(0, days - (first - start).days)
    effect = Effect("did", first, before, after)
    monday, _ = weekly_means(np.zeros(max(days, 1)), start)
    panel = np.vstack([weekly_means(series[u], start)[1] for u in units])
    weeks = panel.shape[1]
    cohort = np.array(
        [weeks if adoption.get(u) is None else ((adoption[u] - monday).days // 7) for u in units], dtype=int
    )
    adopters = int(((cohort >= 1) & (cohort < weeks)).sum())
    if adopters < MIN_DID_ADOPTERS or len(units) < MIN_DID_UNITS or min(before, after) < MIN_DAYS_BEFORE:
        return effect
    att, weight = group_time_att(panel, cohort)
    if not weight:
        return effect
    rng = np.random.default_rng(_seed(panel, cohort))
    draws = []
    for _ in range(BOOTSTRAP_SAMPLES):
        pick = rng.integers(0, len(units), len(units))
        value, w = group_time_att(panel[pick], cohort[pick])
        if w:
            draws.append(value)
    boot = np.asarray(draws)
    se = float(boot.std(ddof=1)) if len(boot) > 1 else 0.0
    if se == 0.0:
        return Effect("did", first, before, after, att)
    df = len(units) - 1
    half = t_quantile(1.0 - ALPHA / 2.0, df) * se
    baseline = _pre_level(panel, cohort)
    relative = att / baseline if baseline and baseline > 0 else None
    p = t_two_sided_p(att / se, df)
    return Effect("did", first, before, after, att, None, relative, att - half, att + half, p)


def _pre_level(panel: np.ndarray, cohort: np.ndarray) -> float | None:
    """The adopters' mean weekly level over the four weeks before their adoption."""
    levels = [np.nanmean(panel[i, max(0, g - 4) : g]) for i, g in enumerate(cohort) if 1 <= g < panel.shape[1]]
    levels = [v for v in levels if np.isfinite(v)]
    return float(np.mean(levels)) if levels else None


# ---- rollout dates -------------------------------------------------------------------------------------------

# Detection: the rollout week is the first in which AI use reaches this share of its steady level, the median
# weekly use over the last STEADY_WEEKS weeks of the window.
ADOPTION_SHARE = 0.5
STEADY_WEEKS = 8


def detect_rollout(ai_use: np.ndarray, start: date) -> date | None:
    """The Monday of the first week whose mean daily AI use reaches ADOPTION_SHARE of the steady level; None when
    there is no AI use, or when it is there from the first week (no before period to compare with)."""
    monday, weekly = weekly_means(ai_use, start)
    weekly = np.nan_to_num(weekly, nan=0.0)
    steady = float(np.median(weekly[-STEADY_WEEKS:])) if len(weekly) else 0.0
    if steady <= 0:
        return None
    reached = np.flatnonzero(weekly >= ADOPTION_SHARE * steady)
    if not len(reached) or reached[0] == 0:
        return None
    return monday + timedelta(weeks=int(reached[0]))


def verdict(effect: Effect, p_adj: float | None) -> str:
    if not effect.measured or p_adj is None:
        return "too_little_data"
    if p_adj < ALPHA:
        return "increase" if (effect.level_change or 0.0) > 0 else "decrease"
    return "no_detectable_change"
