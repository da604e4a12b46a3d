"""Calibration of the rollout effects (`make calibrate`, after the adjusted association's table).

Simulated units (repos or teams) whose daily delivery has a weekday rhythm, company holidays, growth or decline,
and autocorrelated day effects (log-normal, then Poisson counts). A rollout date splits each unit's window;
under *null* nothing changes at it, under *effect* delivery rises by a known relative amount from that day on.

* its (one unit's own history): the share of null units whose verdict is no_detectable_change (goal >= 90 %),
  the share of effect units found (verdict `increase`), and how often the 95 % interval of the relative change
  holds the true one (goal: about 95 %);
* did (staggered adoption across units, a quarter never adopting): the same three figures on the pooled effect.

    python bench/calibrate_rollout.py                 # the full table
    CALIBRATE_QUICK=1 python bench/calibrate_rollout.py   # a small run (the bench row)

Seeded: the same command prints the same numbers. Exit 1 when a null share is under 90 %.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from prodlens.stats import rollout
from prodlens.stats.adjusted import holiday_mask

START = date(2026, 1, 5)
DOW = np.array([1.0, 1.05, 1.0, 0.95, 0.85, 0.15, 0.1])
EFFECT = 0.4  # the relative rise of the effect units


@dataclass(frozen=True)
class Mix:
    name: str
    phi: tuple[float, float]  # AR(1) coefficient of the day effects
    growth: tuple[float, float]  # relative change of the level over the window, without any rollout
    holidays: int  # company holidays in the window (delivery near zero)


MIXES = (
    Mix("calendar", (0.0, 0.2), (0.0, 0.0), 0),
    Mix("growth", (0.2, 0.4), (-0.3, 0.6), 3),
    Mix("persistent", (0.5, 0.7), (-0.2, 0.4), 3),
)


def simulate(rng: np.random.Generator, mix: Mix, days: int, t0: int | None, relative: float) -> tuple:
    weekday = (np.arange(days) + START.weekday()) % 7
    phi = rng.uniform(*mix.phi)
    noise = np.zeros(days)
    for i, z in enumerate(rng.normal(0.0, 0.25, days)):
        noise[i] = (phi * noise[i - 1] if i else 0.0) + z
    level = rng.uniform(4.0, 20.0) * (1.0 + rng.uniform(*mix.growth) * np.arange(days) / days)
    holidays = [START + timedelta(days=int(d)) for d in rng.choice(days, mix.holidays, replace=False)]
    off = holiday_mask(holidays, START, days)
    post = np.zeros(days) if t0 is None else (np.arange(days) >= t0)
    mu = level * DOW[weekday] * np.exp(noise) * np.where(off, 0.05, 1.0) * (1.0 + relative * post)
    return rng.poisson(mu).astype(float), off


def _relative_interval(effect: rollout.Effect) -> tuple[float, float] | None:
    if not effect.measured or not effect.relative_change:
        return None
    baseline = effect.level_change / effect.relative_change
    return effect.ci_low / baseline, effect.ci_high / baseline


def _tally(out: dict, relative: float, effects: list[rollout.Effect]) -> None:
    """The null or effect figures of one design and mix: verdict shares, interval coverage, mean estimate."""
    verdicts = [rollout.verdict(e, e.p) for e in effects]
    intervals = [_relative_interval(e) for e in effects]
    key = "null" if relative == 0.0 else "effect"
    out[f"{key}_no_change"] = verdicts.count("no_detectable_change") / len(effects)
    out[f"{key}_found"] = verdicts.count("increase") / len(effects)
    out[f"{key}_coverage"] = sum(i is not None and i[0] <= relative <= i[1] for i in intervals) / len(effects)
    out[f"{key}_mean_relative"] = float(np.mean([e.relative_change or 0.0 for e in effects]))


def run_its(mix: Mix, seed: int, units: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {"design": "its", "mix": mix.name, "units": units}
    for relative in (0.0, EFFECT):
        effects = []
        for _ in range(units):
            days = int(rng.integers(84, 200))
            t0 = int(rng.integers(35, days - 35))
            y, off = simulate(rng, mix, days, t0, relative)
            effects.append(rollout.its(y, START, START + timedelta(days=t0), off))
        _tally(out, relative, effects)
    return out


def run_did(mix: Mix, seed: int, panels: int, units: int = 16) -> dict:
    rng = np.random.default_rng(seed)
    out = {"design": "did", "mix": mix.name, "units": panels}
    days = 182
    for relative in (0.0, EFFECT):
        effects = []
        for _ in range(panels):
            shared = np.exp(np.cumsum(rng.normal(0.0, 0.02, days)))  # what every unit shares: the company's drift
            series, adoption = {}, {}
            for u in range(units):
                t0 = None if u % 4 == 0 else int(rng.integers(42, days - 42))
                y, _ = simulate(rng, mix, days, t0, relative)
                series[f"u{u}"] = y * shared
                adoption[f"u{u}"] = None if t0 is None else START + timedelta(days=t0)
            effects.append(rollout.did(series, START, adoption))
        _tally(out, relative, effects)
    return out


def main() -> int:
    quick = os.environ.get("CALIBRATE_QUICK") == "1"
    its_units, did_panels = (40, 8) if quick else (200, 40)
    print(f"rollout effects: null = no change at the rollout; effect = a {EFFECT:.0%} rise from the rollout on")
    print(
        f"{'design':<6} {'mix':<11} {'units':>5} {'null: no change':>15} {'effect: found':>13} "
        f"{'effect CI cover':>15} {'mean estimate':>13}"
    )
    results, t0 = [], time.perf_counter()
    for i, mix in enumerate(MIXES):
        results.append(run_its(mix, 2000 + i, its_units))
    for i, mix in enumerate(MIXES[1:]):
        results.append(run_did(mix, 3000 + i, did_panels))
    for r in results:
        print(
            f"{r['design']:<6} {r['mix']:<11} {r['units']:>5} {r['null_no_change']:>15.0%} {r['effect_found']:>13.0%} "
            f"{r['effect_coverage']:>15.1%} {r['effect_mean_relative']:>+13.2f}"
        )
    calibrated = all(r["null_no_change"] >= 0.90 for r in results)
    summary = {"bench": "calibrate_rollout", "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps({**summary, "null_goal_met": calibrated, "rows": results}))
    return 0 if calibrated else 1


if __name__ == "__main__":
    sys.exit(main())
