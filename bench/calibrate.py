"""Calibration of the adjusted association, by simulation (`make calibrate`).

Synthetic companies of repos whose daily AI use and delivery share the calendar — a weekday rhythm, company
holidays, an AI-adoption ramp, delivery growth, headcount steps (a hire, a departure) — and each their own
autocorrelated day effects. In *unlinked* repos that is all they share; in *linked* repos the delivery of day
d also moves with the AI-use day effect of day d - L (a real lagged link). The real `correlate()` runs on the
daily rows, as the correlate Lambda would, and the harness reports, per confounder mix:

* flagged: the share of unlinked repos with any row at adj_p_adj < 0.05 (goal <= 10 %, aim 5 %), and the
  same share for the raw Pearson columns (pearson_p_adj), which shows what the calendar does to them;
* found: the share of linked repos with a row at their true lag, positive adj_r and adj_p_adj < 0.05 (goal
  >= 80 % at adjusted r about 0.4 over about 120 days), with the mean adj_r at the lag;
* coverage: how often the 95 % interval [adj_ci_low, adj_ci_high] holds the truth: 0 for every row of an
  unlinked repo, and for linked repos the adjusted r at the lag of the same repo simulated over 20 times the
  days (the population value, up to noise of about 0.01).

    python bench/calibrate.py                 # the full table (4 mixes x (120 unlinked + 60 linked) repos)
    CALIBRATE_QUICK=1 python bench/calibrate.py   # a small run (the bench row)

Prints one line per mix and a JSON summary line. Seeded: the same command prints the same numbers.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
from prodlens.stats import correlate
from prodlens.stats.adjusted import adjust_series, holiday_mask
from prodlens.stats.core import lagged_pair

ALPHA = 0.05
START = date(2026, 1, 5)  # a Monday; each company starts on a random day after it
DAYS = 126
LINK_LAGS = (0, 1, 2, 3)
COMPUTED_AT = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Mix:
    """A confounder mix: ranges each repo draws its own parameters from."""

    name: str
    team: tuple[int, int]  # developers
    weekend: tuple[float, float]  # weekend activity relative to a weekday
    holidays: tuple[int, int]  # company holidays (weekdays) in the window
    ramp_low: tuple[float, float]  # AI use before adoption, relative to after
    ramp_days: tuple[float, float]  # logistic width of the adoption ramp
    growth: tuple[float, float]  # delivery growth over the window (relative)
    step_chance: float  # chance of a headcount step (both series move)
    step_size: tuple[float, float]  # relative size of the step (negative: departures)
    phi: tuple[float, float]  # AR(1) coefficient of each series' day effects
    sd: tuple[float, float]  # stationary sd of the day effects (log scale)
    commits_per_dev: tuple[float, float]
    link: float  # effect of AI use's standardized day effect on delivery (log scale)


MIXES = (
    Mix("calendar", (5, 12), (0.05, 0.3), (2, 3), (0.6, 0.9), (5, 15), (0.0, 0.2), 0.3, (0.2, 0.5),
        (0.0, 0.4), (0.2, 0.35), (0.8, 1.6), 0.50),
    Mix("growth", (4, 10), (0.1, 0.4), (2, 2), (0.05, 0.3), (3, 25), (0.2, 0.8), 1.0, (-0.4, 0.8),
        (0.2, 0.6), (0.2, 0.35), (0.8, 1.6), 0.60),
    Mix("persistent", (5, 12), (0.05, 0.3), (2, 4), (0.2, 0.6), (5, 20), (0.0, 0.5), 0.6, (-0.3, 0.6),
        (0.6, 0.9), (0.3, 0.5), (0.8, 1.6), 0.90),
    Mix("small-team", (1, 3), (0.0, 0.2), (2, 3), (0.1, 0.5), (5, 20), (0.0, 0.4), 0.5, (0.3, 1.0),
        (0.2, 0.7), (0.25, 0.4), (1.5, 3.0), 0.90),
)  # fmt: skip


@dataclass(frozen=True)
class Repo:
    """One repo's drawn parameters; `lag` is None for an unlinked repo."""

    team: float
    weekend_x: float
    weekend_y: float
    ramp_low: float
    ramp_mid: float
    ramp_days: float
    growth: float
    step_day: int | None
    step_size: float
    phi_x: float
    phi_y: float
    sd_x: float
    sd_y: float
    requests_per_dev: float
    commits_per_dev: float
    link: float
    lag: int | None


def draw_repo(rng: np.random.Generator, mix: Mix, days: int, lag: int | None) -> Repo:
    u = rng.uniform
    return Repo(
        team=float(rng.integers(mix.team[0], mix.team[1] + 1)),
        weekend_x=u(*mix.weekend),
        weekend_y=u(*mix.weekend),
        ramp_low=u(*mix.ramp_low),
        ramp_mid=u(0.1, 0.9) * days,
        ramp_days=u(*mix.ramp_days),
        growth=u(*mix.growth),
        step_day=int(rng.integers(14, days - 14)) if rng.random() < mix.step_chance else None,
        step_size=u(*mix.step_size),
        phi_x=u(*mix.phi),
        phi_y=u(*mix.phi),
        sd_x=u(*mix.sd),
        sd_y=u(*mix.sd),
        requests_per_dev=u(4, 15),
        commits_per_dev=u(*mix.commits_per_dev),
        link=mix.link if lag is not None else 0.0,
        lag=lag,
    )


def ar1(rng: np.random.Generator, days: int, phi: float, sd: float) -> np.ndarray:
    """A stationary AR(1) path with standard deviation sd."""
    shocks = rng.normal(0.0, sd * np.sqrt(1.0 - phi * phi), days)
    out = np.empty(days)
    out[0] = rng.normal(0.0, sd)
    for t in range(1, days):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


WEEKDAY_SHAPE = np.array([1.0, 1.05, 1.05, 1.0, 0.85])


def simulate_repo(rng: np.random.Generator, p: Repo, start: date, days: int, holidays: set[int]) -> dict:
    """Daily metrics of one repo: dict of arrays (request_count, ..., merged_pr_count)."""
    t = np.arange(days)
    weekday = (t + start.weekday()) % 7
    working = np.where(weekday < 5, WEEKDAY_SHAPE[np.minimum(weekday, 4)], 1.0)
    calendar_x = np.where(weekday < 5, working, p.weekend_x)
    calendar_y = np.where(weekday < 5, working, p.weekend_y)
    off = np.isin(t, sorted(holidays))
    calendar_x = np.where(off, 0.03, calendar_x)
    calendar_y = np.where(off, 0.03, calendar_y)
    team = np.full(days, p.team)
    if p.step_day is not None:
        team[p.step_day :] *= max(1.0 + p.step_size, 0.3)
    ramp = p.ramp_low + (1.0 - p.ramp_low) / (1.0 + np.exp(-(t - p.ramp_mid) / p.ramp_days))
    growth = 1.0 + p.growth * t / days
    u = ar1(rng, days, p.phi_x, p.sd_x)
    v = ar1(rng, days, p.phi_y, p.sd_y)
    if p.lag is not None:  # delivery on day d follows AI use's day effect of day d - lag
        lagged = np.concatenate([rng.normal(0.0, p.sd_x, p.lag), u[: days - p.lag]])
        v = v + p.link * lagged / p.sd_x
    mean_x = team * p.requests_per_dev * calendar_x * ramp * np.exp(u)
    mean_y = team * p.commits_per_dev * calendar_y * growth * np.exp(v)
    requests = rng.poisson(mean_x)
    sessions = rng.poisson(mean_x / 6.0)
    tokens = np.round(requests * 4000 * rng.lognormal(0.0, 0.3, days))
    commits = rng.poisson(mean_y)
    return {
        "request_count": requests,
        "session_count": sessions,
        "total_tokens": tokens,
        "accepted_count": rng.binomial(requests, 0.3),
        "cost_usd": np.round(tokens * 3e-6 * rng.lognormal(0.0, 0.1, days), 4),
        "commit_count": commits,
        "merged_pr_count": rng.poisson(mean_y / 4.0),
    }


X_NAMES = ("request_count", "session_count", "total_tokens", "accepted_count", "cost_usd")
Y_NAMES = ("commit_count", "merged_pr_count")


def daily_rows(repo: str, start: date, series: dict) -> tuple[list[dict], list[dict]]:
    """The two daily tables' rows, as aggregate writes them: a row only for days with activity."""
    sessions, github = [], []
    for d in range(len(series["request_count"])):
        day = start + timedelta(days=d)
        if series["request_count"][d] > 0:
            sessions.append({"event_date": day, "repo": repo, **{m: float(series[m][d]) for m in X_NAMES}})
        if series["commit_count"][d] > 0 or series["merged_pr_count"][d] > 0:
            github.append({"event_date": day, "repo": repo, **{m: float(series[m][d]) for m in Y_NAMES}})
    return sessions, github


def company(
    rng: np.random.Generator, mix: Mix, unlinked: int, linked: int, days: int = DAYS
) -> tuple[list[dict], list[dict], dict[str, Repo], date, set[int]]:
    """A company's daily rows: shared start and holidays, `unlinked` + `linked` repos with their own draws."""
    start = START + timedelta(days=int(rng.integers(0, 28)))
    weekdays = [d for d in range(7, days - 7) if (start + timedelta(days=d)).weekday() < 5]
    holidays = {int(d) for d in rng.choice(weekdays, size=int(rng.integers(mix.holidays[0], mix.holidays[1] + 1)))}
    sessions, github, truth = [], [], {}
    for i in range(unlinked + linked):
        lag = None if i < unlinked else int(rng.choice(LINK_LAGS))
        name = f"org/{'linked' if lag is not None else 'unlinked'}-{i:03d}"
        params = draw_repo(rng, mix, days, lag)
        s, g = daily_rows(name, start, simulate_repo(rng, params, start, days, holidays))
        sessions += s
        github += g
        truth[name] = params
    return sessions, github, truth, start, holidays


def population_r(rng: np.random.Generator, params: Repo, start: date, holidays: set[int], factor: int = 20) -> float:
    """The adjusted r at the link's lag (requests -> commits) of the same repo over `factor` times the days.

    The same adjustment as `correlate` (stats.adjusted.adjust_series), with the holidays given; only r is
    needed, so no p-value is computed.
    """
    days = DAYS * factor
    long_holidays = {h + DAYS * k for h in holidays for k in range(factor)}
    scaled = replace(params, step_day=params.step_day * factor if params.step_day is not None else None,
                     ramp_mid=params.ramp_mid * factor, ramp_days=params.ramp_days * factor)  # fmt: skip
    series = simulate_repo(rng, scaled, start, days, long_holidays)
    off = holiday_mask([start + timedelta(days=h) for h in long_holidays], start, days)
    adjusted = adjust_series(series["request_count"][:, None], series["commit_count"][:, None], start, off)
    x, y = lagged_pair(adjusted.x[:, 0], adjusted.y[:, 0], params.lag)
    return float(np.corrcoef(x, y)[0, 1])


def run_mix(mix: Mix, seed: int, unlinked: int, linked: int, per_company: int = 15, coverage: bool = True) -> dict:
    """Simulate `unlinked` + `linked` repos of one mix in companies of `per_company` repos; the shares."""
    rng = np.random.default_rng(seed)
    flagged = raw_flagged = found = 0
    null_cover = null_rows = link_cover = link_rows = 0
    link_r: list[float] = []
    done_unlinked = done_linked = 0
    while done_unlinked < unlinked or done_linked < linked:
        n_u = min(unlinked - done_unlinked, per_company * 2 // 3)
        n_l = min(linked - done_linked, per_company - n_u)
        sessions, github, truth, start, holidays = company(rng, mix, n_u, n_l)
        done_unlinked += n_u
        done_linked += n_l
        rows = correlate(sessions, github, input_version="calibrate", computed_at=COMPUTED_AT)
        by_repo: dict[str, list[dict]] = {}
        for row in rows:
            by_repo.setdefault(row["repo"], []).append(row)
        for name, params in truth.items():
            repo_rows = by_repo.get(name, [])
            if params.lag is None:
                flagged += any(r["adj_p_adj"] is not None and r["adj_p_adj"] < ALPHA for r in repo_rows)
                raw_flagged += any(r["pearson_p_adj"] is not None and r["pearson_p_adj"] < ALPHA for r in repo_rows)
                for r in repo_rows:
                    if r["adj_ci_low"] is not None:
                        null_rows += 1
                        null_cover += r["adj_ci_low"] <= 0.0 <= r["adj_ci_high"]
                continue
            at_lag = [r for r in repo_rows if r["lag_days"] == params.lag and r["adj_r"] is not None]
            found += any(r["adj_r"] > 0 and r["adj_p_adj"] < ALPHA for r in at_lag)
            main = next(
                (r for r in at_lag if (r["x_metric"], r["y_metric"]) == ("request_count", "commit_count")), None
            )
            if main is not None:
                link_r.append(main["adj_r"])
                if coverage:
                    truth_r = population_r(rng, params, start, holidays)
                    link_rows += 1
                    link_cover += main["adj_ci_low"] <= truth_r <= main["adj_ci_high"]
    return {
        "mix": mix.name,
        "unlinked": unlinked,
        "linked": linked,
        "flagged": flagged / max(unlinked, 1),
        "raw_flagged": raw_flagged / max(unlinked, 1),
        "found": found / max(linked, 1),
        "mean_adj_r_at_lag": float(np.mean(link_r)) if link_r else None,
        "null_coverage": null_cover / max(null_rows, 1),
        "link_coverage": link_cover / link_rows if link_rows else None,
    }


def main() -> int:
    quick = os.environ.get("CALIBRATE_QUICK") == "1"
    unlinked, linked = (30, 15) if quick else (120, 60)
    print(f"{'mix':<11} {'unlinked':>8} {'flagged':>8} {'raw flagged':>11} {'linked':>6} {'found':>6} "
          f"{'mean adj_r':>10} {'null CI cover':>13} {'link CI cover':>13}")  # fmt: skip
    results, t0 = [], time.perf_counter()
    for i, mix in enumerate(MIXES):
        res = run_mix(mix, seed=1000 + i, unlinked=unlinked, linked=linked, coverage=not quick)
        results.append(res)
        link_cover = "n/a" if res["link_coverage"] is None else f"{res['link_coverage']:.0%}"
        print(
            f"{res['mix']:<11} {res['unlinked']:>8} {res['flagged']:>8.0%} {res['raw_flagged']:>11.0%} "
            f"{res['linked']:>6} {res['found']:>6.0%} {res['mean_adj_r_at_lag']:>10.2f} "
            f"{res['null_coverage']:>13.1%} {link_cover:>13}"
        )
    elapsed = time.perf_counter() - t0
    # The false-flag goal is the guarantee (exit 1 when missed); power depends on the effect size and the
    # persistence of each mix, so the found goal is reported, per mix, next to the adjusted r it was found at.
    calibrated = all(r["flagged"] <= 0.10 for r in results)
    powered = {r["mix"]: r["found"] >= 0.80 for r in results}
    print(
        json.dumps(
            {
                "bench": "calibrate",
                "seconds": round(elapsed, 1),
                "flagged_goal_met": calibrated,
                "found_goal_met": powered,
                "mixes": results,
            }
        )
    )
    return 0 if calibrated else 1


if __name__ == "__main__":
    sys.exit(main())
