"""Calibration of the AI-assisted pull request comparison (`make calibrate`, after the rollout table).

Simulated repos, each with merged PRs in two groups (AI-assisted and other, in unequal and varied numbers).
Merge hours are log-normal with a repo-specific median and spread, a share of PRs merged within the minute
(the floor of stats.pr_ai) and a heavy tail of PRs left open for weeks; reopens are Bernoulli with a
repo-specific rate. Under *null* both groups share the distribution; under *effect* AI-assisted PRs merge in
RATIO of the time (geometric mean) and are reopened REOPEN_FACTOR as often.

Per measure: the share of null repos whose verdict is no_detectable_difference (goal >= 90 %; each repo is
compared alone, its two measures one BH family), the share of effect repos found, and how often the 95 % interval
holds the truth (the merge time ratio of the simulated log-normal groups; the reopen rate difference).

    python bench/calibrate_pr_ai.py                    # the full table
    CALIBRATE_QUICK=1 python bench/calibrate_pr_ai.py  # a small run (the bench row)

Seeded: the same command prints the same numbers. Exit 1 when a null share is under 90 %.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np
from prodlens.stats.pr_ai import compare

RATIO = 0.7
REOPEN_FACTOR = 0.5


def simulate(rng: np.random.Generator, effect: bool) -> tuple[list[dict], float, float]:
    """One repo's merged PRs, the true merge time ratio and the true reopen rate difference."""
    n_ai, n_other = int(rng.integers(15, 80)), int(rng.integers(30, 150))
    median, spread = rng.uniform(4.0, 48.0), rng.uniform(0.8, 1.5)
    quick, tail = rng.uniform(0.0, 0.05), rng.uniform(0.0, 0.05)
    rate = rng.uniform(0.05, 0.25)
    shift = math.log(RATIO) if effect else 0.0
    ai_rate = rate * (REOPEN_FACTOR if effect else 1.0)
    rows = []
    for ai, n in ((True, n_ai), (False, n_other)):
        hours = np.exp(rng.normal(math.log(median) + (shift if ai else 0.0), spread, n))
        hours = np.where(rng.random(n) < quick, 0.0, hours)  # merged at once: the one-minute floor
        hours = np.where(rng.random(n) < tail, hours * 20.0, hours)  # forgotten for weeks
        reopened = rng.random(n) < (ai_rate if ai else rate)
        rows += [
            {"repo": "r", "merged": True, "ai_assisted": ai, "merge_hours": float(h), "reopened": bool(r)}
            for h, r in zip(hours, reopened, strict=True)
        ]
    # The floor and the tail hit both groups alike, so the ratio of the log-means stays exp(shift).
    return rows, math.exp(shift), ai_rate - rate


def run(seed: int, repos: int, effect: bool) -> dict:
    rng = np.random.default_rng(seed)
    out = {"merge_time": [0, 0, 0], "reopen": [0, 0, 0]}  # [no difference, found in the true direction, covered]
    for _ in range(repos):
        rows, ratio, difference = simulate(rng, effect)
        (c,) = compare(rows)
        for measure, truth, low, high, found in (
            ("merge_time", ratio, c["merge_time_ci_low"], c["merge_time_ci_high"], "faster"),
            ("reopen", difference, c["reopen_ci_low"], c["reopen_ci_high"], "fewer_reopened"),
        ):
            tally = out[measure]
            tally[0] += c[f"{measure}_verdict"] == "no_detectable_difference"
            tally[1] += c[f"{measure}_verdict"] == found
            tally[2] += low <= truth <= high
    return {m: [v / repos for v in tally] for m, tally in out.items()}


def main() -> int:
    quick = bool(os.environ.get("CALIBRATE_QUICK"))
    repos = 100 if quick else 1000
    started = time.perf_counter()
    null, effect = run(20261202, repos, effect=False), run(20261203, repos, effect=True)
    print(
        f"AI-assisted PR comparison: {repos} simulated repos per row; effect = AI PRs merge in {RATIO:.0%} of the time"
        f" and are reopened {REOPEN_FACTOR:.0%} as often"
    )
    header = ("null: no diff", 14), ("null: CI covers", 16), ("effect: found", 14), ("effect: CI covers", 18)
    print(f"{'measure':<12} " + " ".join(f"{name:>{width}}" for name, width in header))
    for measure in ("merge_time", "reopen"):
        print(
            f"{measure:<12} {null[measure][0]:>14.1%} {null[measure][2]:>16.1%} {effect[measure][1]:>14.1%}"
            f" {effect[measure][2]:>18.1%}"
        )
    calibrated = all(null[m][0] >= 0.9 for m in null)
    seconds = round(time.perf_counter() - started, 1)
    print(json.dumps({"repos": repos, "null": null, "effect": effect, "null_goal_met": calibrated, "seconds": seconds}))
    return 0 if calibrated else 1


if __name__ == "__main__":
    sys.exit(main())
