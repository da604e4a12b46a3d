"""Effect sizes and efficiency figures (stats.effects)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prodlens.stats.effects import (
    acceptance_by_model,
    accepted_effect_sizes,
    cohens_d,
    compute_effects,
    cost_per_merged_pr,
    request_growth,
    tokens_per_accepted_line,
)


def test_cohens_d_uses_the_true_pooled_sd_with_unequal_groups():
    # Given groups of unequal size and spread
    a = [12.0, 15.0, 11.0, 19.0, 14.0, 13.0, 22.0]
    b = [9.0, 10.0, 12.0]

    # When
    d = cohens_d(a, b)

    # Then pooled SD = sqrt(((n1-1)s1^2 + (n2-1)s2^2) / (n1+n2-2)), sample SDs
    s1, s2 = np.std(a, ddof=1), np.std(b, ddof=1)
    pooled = math.sqrt((6 * s1**2 + 2 * s2**2) / 8)
    assert d["pooled_sd"] == pytest.approx(pooled, rel=1e-12)
    assert d["d"] == pytest.approx((np.mean(a) - np.mean(b)) / pooled, rel=1e-12)
    assert (d["n1"], d["n2"], d["n"]) == (7, 3, 10)


@pytest.mark.parametrize(("a", "b"), [([1.0], [2.0, 3.0]), ([], [1.0, 2.0]), ([2.0, 2.0], [2.0, 2.0])])
def test_cohens_d_is_null_for_tiny_or_degenerate_groups(a, b):
    assert cohens_d(a, b)["d"] is None


def test_accepted_effect_sizes_split_on_accepted_flag_and_skip_nulls():
    traces = [
        {"accepted_flag": True, "latency_ms": 100.0, "total_tokens": 1000},
        {"accepted_flag": True, "latency_ms": 140.0, "total_tokens": 1400},
        {"accepted_flag": True, "latency_ms": None, "total_tokens": 900},
        {"accepted_flag": False, "latency_ms": 300.0, "total_tokens": 2000},
        {"accepted_flag": False, "latency_ms": 260.0, "total_tokens": 2600},
        {"accepted_flag": None, "latency_ms": 5.0, "total_tokens": 5},
    ]
    out = accepted_effect_sizes(traces)
    assert (out["latency_ms"]["n1"], out["latency_ms"]["n2"]) == (2, 2)
    assert (out["total_tokens"]["n1"], out["total_tokens"]["n2"]) == (3, 2)
    assert out["latency_ms"]["d"] < 0
    assert out["latency_ms"]["d"] == pytest.approx(cohens_d([100.0, 140.0], [300.0, 260.0])["d"])


def test_acceptance_by_model_counts_decided_only():
    traces = [
        {"model": "m1", "accepted_flag": True},
        {"model": "m1", "accepted_flag": False},
        {"model": "m1", "accepted_flag": None},
        {"model": "m2", "accepted_flag": None},
    ]
    out = {e["model"]: e for e in acceptance_by_model(traces)}
    assert out["m1"] == {"model": "m1", "accepted": 1, "decided": 2, "requests": 3, "rate": 0.5, "n": 2}
    assert out["m2"]["rate"] is None and out["m2"]["n"] == 0


def test_tokens_per_accepted_line_over_accepted_rows():
    traces = [
        {"accepted_flag": True, "total_tokens": 900, "accepted_lines": 3},
        {"accepted_flag": True, "total_tokens": 300, "accepted_lines": None},
        {"accepted_flag": False, "total_tokens": 5000, "accepted_lines": 0},
        {"accepted_flag": None, "total_tokens": 7000, "accepted_lines": 9},
    ]
    assert tokens_per_accepted_line(traces) == {"value": 400.0, "total_tokens": 1200.0, "accepted_lines": 3.0, "n": 2}
    assert tokens_per_accepted_line([])["value"] is None


def test_cost_per_merged_pr_per_repo_null_without_merges():
    sessions = [
        {"event_date": "2026-01-05", "repo": "a", "cost_usd": 3.0},
        {"event_date": "2026-01-06", "repo": "a", "cost_usd": 1.5},
        {"event_date": "2026-01-06", "repo": "b", "cost_usd": 2.0},
    ]
    github = [
        {"event_date": "2026-01-06", "repo": "a", "merged_pr_count": 3},
        {"event_date": "2026-01-06", "repo": "b", "merged_pr_count": 0},
    ]
    out = {e["repo"]: e for e in cost_per_merged_pr(sessions, github)}
    assert out["a"]["value"] == pytest.approx(1.5) and out["a"]["n"] == 3
    assert out["b"]["value"] is None and out["b"]["n"] == 0


def test_request_growth_day_over_day_uses_previous_day_with_data_and_weeks():
    sessions = [
        {"event_date": f"2026-01-{d:02d}", "repo": r, "request_count": v}
        for d, r, v in [(1, "a", 10), (2, "a", 10), (8, "a", 20), (8, "b", 20), (10, "a", 30), (14, "b", 60)]
    ]
    out = request_growth(sessions)
    dod = out["day_over_day"]
    assert (dod["last_day"], dod["previous_day"], dod["last"], dod["previous"]) == ("2026-01-14", "2026-01-10", 60, 30)
    assert dod["growth"] == pytest.approx(1.0)
    wow = out["week_over_week"]  # 01-08..01-14 = 130 vs 01-01..01-07 = 20
    assert (wow["last_start"], wow["last"], wow["previous"], wow["n"]) == ("2026-01-08", 130, 20, 5)
    assert wow["growth"] == pytest.approx(5.5)


def test_compute_effects_bundles_every_figure():
    out = compute_effects([], [], [])
    assert set(out) == {
        "cohens_d",
        "acceptance_by_model",
        "tokens_per_accepted_line",
        "cost_per_merged_pr",
        "request_growth",
    }
    assert out["request_growth"]["day_over_day"]["growth"] is None


def _random_traces(seed: int, n: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    models = ["m1", "m2", None]
    flags = [True, False, None]
    return [
        {
            "model": models[int(rng.integers(3))],
            "accepted_flag": flags[int(rng.integers(3))],
            "latency_ms": None if rng.random() < 0.1 else float(rng.lognormal(7, 0.5)),
            "total_tokens": None if rng.random() < 0.05 else int(rng.integers(10, 9000)),
            "accepted_lines": None if rng.random() < 0.3 else int(rng.integers(0, 80)),
        }
        for _ in range(n)
    ]


def test_trace_summary_sql_gives_the_same_effects_as_the_rows():
    # Given trace rows in a DuckDB table named like the lake's
    import duckdb
    from prodlens.stats.effects import TRACE_SUMMARY_SQL, effects_from_summary

    traces = _random_traces(11, 2000)
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE traces (model VARCHAR, accepted_flag BOOLEAN, latency_ms DOUBLE, total_tokens BIGINT,"
        " accepted_lines INTEGER)"
    )
    con.executemany(
        "INSERT INTO traces VALUES (?, ?, ?, ?, ?)",
        [(t["model"], t["accepted_flag"], t["latency_ms"], t["total_tokens"], t["accepted_lines"]) for t in traces],
    )
    cursor = con.execute(TRACE_SUMMARY_SQL.format(where=""))
    names = [d[0] for d in cursor.description]
    summary = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # When the effects come from the SQL summary and from the rows
    from_sql = effects_from_summary(summary, [], [])
    from_rows = compute_effects(traces, [], [])

    # Then they agree (Cohen's d to rounding; counts exactly)
    assert from_sql["acceptance_by_model"] == from_rows["acceptance_by_model"]
    assert from_sql["tokens_per_accepted_line"] == from_rows["tokens_per_accepted_line"]
    for metric in ("latency_ms", "total_tokens"):
        assert from_sql["cohens_d"][metric]["n"] == from_rows["cohens_d"][metric]["n"]
        assert from_sql["cohens_d"][metric]["d"] == pytest.approx(from_rows["cohens_d"][metric]["d"], rel=1e-9)
    # And the row path itself matches numpy on the raw groups
    lat1 = [t["latency_ms"] for t in traces if t["accepted_flag"] is True and t["latency_ms"] is not None]
    lat2 = [t["latency_ms"] for t in traces if t["accepted_flag"] is False and t["latency_ms"] is not None]
    pooled = math.sqrt(((len(lat1) - 1) * np.var(lat1, ddof=1) + (len(lat2) - 1) * np.var(lat2, ddof=1))
                       / (len(lat1) + len(lat2) - 2))
    assert from_rows["cohens_d"]["latency_ms"]["d"] == pytest.approx((np.mean(lat1) - np.mean(lat2)) / pooled, rel=1e-9)
