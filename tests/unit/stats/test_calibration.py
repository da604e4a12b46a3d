"""The calibration guard: bench/calibrate.py in miniature must keep the adjusted association honest.

Each confounder mix of the harness simulates companies whose unlinked repos share only the calendar (weekday
rhythm, holidays, adoption ramp, growth, headcount steps) and whose linked repos also carry a real lagged link.
The adjusted columns must flag few unlinked repos, find most linked ones, and cover 0 with their 95 % CI for
about 95 % of unlinked rows; the raw Pearson columns must be fooled (else the harness has no teeth).

At seed 100 + i, 80 unlinked + 30 linked repos per mix, the figures were: flagged 0.062 / 0.000 / 0.037 / 0.037,
raw flagged 1.00 / 0.97 / 1.00 / 1.00, found 0.93 / 0.80 / 0.80 / 0.73, null coverage 0.946 / 0.954 / 0.955 /
0.947 (calendar / growth / persistent / small-team); other seeds gave flagged <= 0.113, found >= 0.70 on the
calendar and growth mixes, coverage 0.944-0.956. With the calendar adjustment removed, 100 % are flagged.
"""

from __future__ import annotations

import numpy as np
import pytest
from prodlens.stats import adjusted

from bench.calibrate import MIXES, run_mix

SEED = 100
UNLINKED, LINKED = 80, 30
FLAGGED_AT_MOST = 0.15
RAW_FLAGGED_AT_LEAST = 0.8
FOUND_AT_LEAST = 0.6
COVERAGE = (0.92, 0.98)


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    return {
        mix.name: run_mix(mix, seed=SEED + i, unlinked=UNLINKED, linked=LINKED, coverage=False)
        for i, mix in enumerate(MIXES)
    }


def test_every_mix_of_the_harness_is_checked(results):
    assert set(results) == {"calendar", "growth", "persistent", "small-team"}
    assert all(r["unlinked"] == UNLINKED and r["linked"] == LINKED for r in results.values())


@pytest.mark.parametrize("mix", [m.name for m in MIXES])
def test_adjusted_association_flags_few_unlinked_repos(results, mix):
    # Given repos that share only the calendar, When correlate runs on their daily rows,
    # Then few have any row at adj_p_adj < 0.05
    assert results[mix]["flagged"] <= FLAGGED_AT_MOST


@pytest.mark.parametrize("mix", [m.name for m in MIXES])
def test_raw_pearson_is_fooled_by_the_shared_calendar(results, mix):
    # Given the same unlinked repos, Then the raw Pearson columns flag nearly all of them (the harness has teeth)
    assert results[mix]["raw_flagged"] >= RAW_FLAGGED_AT_LEAST


@pytest.mark.parametrize("mix", ["calendar", "growth"])
def test_adjusted_association_finds_real_lagged_links(results, mix):
    # Given repos whose delivery follows AI use's day effects at a lag, Then most are found at that lag
    result = results[mix]
    assert result["found"] >= FOUND_AT_LEAST
    assert result["mean_adj_r_at_lag"] > 0.2


@pytest.mark.parametrize("mix", [m.name for m in MIXES])
def test_adjusted_ci_covers_zero_for_about_95_percent_of_unlinked_rows(results, mix):
    low, high = COVERAGE
    assert low <= results[mix]["null_coverage"] <= high


def test_the_harness_detects_a_method_without_the_calendar_adjustment(monkeypatch):
    # Given the adjusted association with the calendar reduced to an intercept (a broken method)
    monkeypatch.setattr(adjusted, "calendar_design", lambda start, days, off_days=None: np.ones((days, 1)))

    # When the calendar mix is run
    result = run_mix(MIXES[0], seed=SEED, unlinked=40, linked=10, coverage=False)

    # Then the guard's thresholds fail: most unlinked repos are flagged and the CI misses 0 far too often
    assert result["flagged"] > 0.3
    assert result["flagged"] > FLAGGED_AT_MOST
    assert result["null_coverage"] < COVERAGE[0]
