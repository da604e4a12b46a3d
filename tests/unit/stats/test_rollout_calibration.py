"""The rollout calibration guard: bench/calibrate_rollout.py in miniature must keep the rollout effects honest.

Null units (nothing changes at the rollout) must mostly get no_detectable_change, effect units (+40 % from the
rollout on) must get an interval that mostly holds the truth and an estimate near it. `make calibrate` runs the
full table (200 units per its mix, 40 panels per did mix); this is a seeded subset, so its bounds are looser.
"""

from __future__ import annotations

import pytest

from bench.calibrate_rollout import EFFECT, MIXES, run_did, run_its

ITS_UNITS, DID_PANELS = 40, 6


@pytest.fixture(scope="module")
def its_results() -> dict[str, dict]:
    return {mix.name: run_its(mix, 4000 + i, ITS_UNITS) for i, mix in enumerate(MIXES)}


@pytest.mark.parametrize("mix", [m.name for m in MIXES])
def test_its_says_no_change_for_null_rollouts_and_covers_a_real_one(its_results, mix):
    r = its_results[mix]
    assert r["null_no_change"] >= 0.85, r
    assert r["effect_coverage"] >= 0.8, r
    assert abs(r["effect_mean_relative"] - EFFECT) <= 0.12, r


def test_did_says_no_change_for_null_rollouts_and_finds_a_real_one():
    r = run_did(MIXES[1], 5000, DID_PANELS)
    assert r["null_no_change"] >= 5 / 6 and r["effect_found"] >= 4 / 6, r
    assert abs(r["effect_mean_relative"] - EFFECT) <= 0.12, r
