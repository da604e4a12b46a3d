"""The AI-assisted PR comparison's calibration guard: bench/calibrate_pr_ai.py in miniature.

Null repos (both groups drawn alike) must mostly get no_detectable_difference, and the 95 % intervals must mostly
hold the true ratio and difference, with and without an effect. `make calibrate` runs 1,000 repos per row; this
is a seeded subset of 150, so its bounds are looser.
"""

from __future__ import annotations

import pytest

from bench.calibrate_pr_ai import run

REPOS = 150


@pytest.fixture(scope="module")
def results() -> tuple[dict, dict]:
    return run(7001, REPOS, effect=False), run(7002, REPOS, effect=True)


@pytest.mark.parametrize("measure", ["merge_time", "reopen"])
def test_null_repos_mostly_show_no_difference_and_intervals_hold_the_truth(results, measure):
    null, effect = results
    no_difference, wrongly_found, covered = null[measure]
    assert no_difference >= 0.9 and wrongly_found <= 0.05, null
    assert covered >= 0.9, null
    assert effect[measure][2] >= 0.9, effect


def test_a_real_difference_is_found_more_often_than_by_chance(results):
    null, effect = results
    assert effect["merge_time"][1] > 3 * max(null["merge_time"][1], 0.02), (null, effect)
