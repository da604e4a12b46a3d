"""plan_writes: the order of one source's lake writes never shows a record twice, and ends at the targets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prodlens.services.normalize import plan_writes


def _replay(current, targets, stale, steps):
    """Apply the steps to a copy of `current`; return every intermediate state, the last one included."""
    state = {k: set(v) for k, v in current.items()}
    states = [dict(state)]
    for action, keys in steps:
        for key in keys:
            if action == "delete":
                state.pop(key, None)
            else:
                state[key] = set(targets[key])
        states.append({k: set(v) for k, v in state.items()})
    return states


def _doubled(state):
    seen, doubled = set(), 0
    for ids in state.values():
        doubled += len(ids & seen)
        seen |= ids
    return doubled


def test_plan_move_puts_the_losing_object_before_the_gaining_one():
    # Given record r moving from K2 (existing) to K1 (existing), K1 sorting first
    current = {"K1": frozenset({"a"}), "K2": frozenset({"r", "b"})}
    targets = {"K1": frozenset({"a", "r"}), "K2": frozenset({"b"})}
    # When the writes are planned
    steps = plan_writes(targets, current, [], {"K1", "K2"})
    # Then K2 loses r before K1 gains it
    assert steps == [("put", ["K2"]), ("put", ["K1"])]


def test_plan_cycle_of_moves_is_broken_by_deleting_one_object_first():
    # Given r moving K1 -> K2 and s moving K2 -> K1
    current = {"K1": frozenset({"r"}), "K2": frozenset({"s"})}
    targets = {"K1": frozenset({"s"}), "K2": frozenset({"r"})}
    # When the writes are planned
    steps = plan_writes(targets, current, [], {"K1", "K2"})
    # Then one object is deleted first, and no state in between holds a record twice
    assert steps == [("delete", ["K1"]), ("put", ["K2"]), ("put", ["K1"])]
    assert all(_doubled(s) == 0 for s in _replay(current, targets, [], steps))


def test_plan_stale_outputs_are_deleted_before_any_put():
    # Given r moving from stale K0 to new K9
    steps = plan_writes({"K9": frozenset({"r"})}, {"K0": frozenset({"r"})}, ["K0"], {"K0"})
    assert steps == [("delete", ["K0"]), ("put", ["K9"])]


def test_plan_without_moves_overwrites_existing_keys_before_new_ones():
    steps = plan_writes({"A": frozenset(), "B": frozenset()}, {}, [], {"B"})
    assert steps == [("put", ["B"]), ("put", ["A"])]


KEYS = [f"K{i}" for i in range(5)]


@st.composite
def versions(draw):
    """Two placements of the same kind of records over five keys: where each record is now, and where it goes."""
    records = [f"r{i}" for i in range(draw(st.integers(0, 12)))]
    now = {r: draw(st.sampled_from([*KEYS, None])) for r in records}
    then = {r: draw(st.sampled_from([*KEYS, None])) for r in records}
    current = {k: frozenset(r for r, at in now.items() if at == k) for k in KEYS if k in now.values()}
    targets = {k: frozenset(r for r, at in then.items() if at == k) for k in KEYS if k in then.values()}
    stale = sorted(set(current) - set(targets))
    return current, targets, stale


@settings(max_examples=300, deadline=None)
@given(versions())
def test_plan_never_shows_a_record_twice_and_ends_at_the_targets(case):
    current, targets, stale = case
    steps = plan_writes(targets, current, stale, set(current))
    states = _replay(current, targets, stale, steps)
    assert [_doubled(s) for s in states] == [0] * len(states)
    assert {k: v for k, v in states[-1].items() if k in targets} == {k: set(v) for k, v in targets.items()}
    assert not set(states[-1]) - set(targets)
    assert sorted(k for action, keys in steps if action == "put" for k in keys) == sorted(targets)
