"""The pure rules behind the alarm metrics: weekday hours of a trace gap, newest trace arrival, daily cost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from prodlens.monitoring import (
    DailyCost,
    TraceArrivals,
    daily_costs,
    is_weekday,
    max_repo_cost,
    parse_utc,
    recent_days,
    trace_gap,
    weekday_hours,
)
from prodlens.schema import DAILY_SESSION_METRICS

from tests.unit.aggregate.aggregate_lakedata import write_parquet

FRIDAY_1800 = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)
MONDAY_0600 = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (FRIDAY_1800, MONDAY_0600, 12.0),  # 6 h of Friday + 6 h of Monday; the weekend is not counted
        (datetime(2026, 3, 14, 1, 0, tzinfo=UTC), datetime(2026, 3, 15, 23, 0, tzinfo=UTC), 0.0),  # Sat..Sun
        (datetime(2026, 3, 16, 9, 0, tzinfo=UTC), datetime(2026, 3, 16, 9, 30, tzinfo=UTC), 0.5),
        (datetime(2026, 3, 9, 0, 0, tzinfo=UTC), datetime(2026, 3, 16, 0, 0, tzinfo=UTC), 120.0),  # a whole week
        (MONDAY_0600, FRIDAY_1800, 0.0),  # end before start
    ],
)
def test_weekday_hours_counts_only_monday_to_friday_utc(start, end, hours):
    assert weekday_hours(start, end) == pytest.approx(hours)


def test_weekday_hours_reads_other_offsets_and_naive_times_as_utc():
    # Given Friday 20:00 at UTC+2 (18:00 UTC) and a naive Monday 06:00 (UTC)
    start = datetime(2026, 3, 13, 20, 0, tzinfo=timezone(timedelta(hours=2)))
    end = datetime(2026, 3, 16, 6, 0)
    # Then it is the same 12 weekday hours
    assert weekday_hours(start, end) == pytest.approx(12.0)


def test_trace_gap_over_a_weekend_has_all_hours_and_weekday_hours():
    gap = trace_gap(FRIDAY_1800, MONDAY_0600)
    assert (gap.hours, gap.weekday_hours) == (pytest.approx(60.0), pytest.approx(12.0))


def test_trace_gap_with_a_future_last_trace_is_zero():
    gap = trace_gap(MONDAY_0600 + timedelta(hours=1), MONDAY_0600)
    assert (gap.hours, gap.weekday_hours) == (0.0, 0.0)


def test_is_weekday_is_monday_to_friday():
    assert [is_weekday(date(2026, 3, 9) + timedelta(days=i)) for i in range(7)] == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-13T18:00:00+00:00", FRIDAY_1800),
        ("2026-03-13T18:00:00Z", FRIDAY_1800),
        ("2026-03-13T18:00:00", FRIDAY_1800),
        ("yesterday", None),
        (None, None),
        (17, None),
    ],
)
def test_parse_utc_accepts_iso_timestamps_only(text, expected):
    assert parse_utc(text) == expected


def test_trace_arrivals_keeps_the_newest_traces_object_that_wrote_rows():
    # Given processed-object records as the sweep reads them
    arrivals = TraceArrivals()
    arrivals.see("traces/a.jsonl", {"counts": {"rows": 3}, "processed_at": "2026-03-12T10:00:00+00:00"})
    arrivals.see("traces/b.jsonl", {"counts": {"rows": 1}, "processed_at": "2026-03-13T18:00:00+00:00"})
    # And later ones that must not count: a GitHub page, an object of dead letters only, one never processed
    arrivals.see("github/acme/api/pulls/p1.json", {"counts": {"rows": 9}, "processed_at": "2026-03-15T10:00:00+00:00"})
    arrivals.see("traces/bad.jsonl", {"counts": {"rows": 0, "dead_letters": 5}, "processed_at": "2026-03-15T11:00:00"})
    arrivals.see("traces/new.jsonl", None)
    # Then the newest is b's
    assert arrivals.newest == FRIDAY_1800


def test_trace_arrivals_counts_an_object_normalized_now_if_it_wrote_rows():
    arrivals = TraceArrivals()
    arrivals.see("traces/a.jsonl", {"counts": {"rows": 3}, "processed_at": "2026-03-12T10:00:00+00:00"})
    arrivals.see_normalized("traces/empty.jsonl", {"status": "normalized", "counts": {"rows": 0}}, MONDAY_0600)
    assert arrivals.newest == datetime(2026, 3, 12, 10, tzinfo=UTC)
    arrivals.see_normalized("traces/c.jsonl", {"status": "normalized", "counts": {"rows": 2}}, MONDAY_0600)
    assert arrivals.newest == MONDAY_0600


def test_recent_days_are_yesterday_and_today_utc():
    assert recent_days(datetime(2026, 3, 1, 0, 30, tzinfo=UTC)) == ["2026-02-28", "2026-03-01"]


def test_daily_costs_sum_per_repo_and_null_cost_is_zero(tmp_path: Path):
    # Given yesterday's and today's daily_session_metrics objects
    yesterday = write_parquet(
        tmp_path / "d1.parquet",
        DAILY_SESSION_METRICS,
        [{"repo": "acme/api", "cost_usd": 12.5}, {"repo": "acme/web", "cost_usd": None}],
    )
    today = write_parquet(tmp_path / "d2.parquet", DAILY_SESSION_METRICS, [{"repo": "acme/api", "cost_usd": 3.25}])
    # When
    costs = daily_costs({"2026-03-16": today, "2026-03-15": yesterday})
    # Then one value per (day, repo), oldest day first, and the maximum is the single most expensive one
    assert costs == [
        DailyCost("2026-03-15", "acme/api", 12.5),
        DailyCost("2026-03-15", "acme/web", 0.0),
        DailyCost("2026-03-16", "acme/api", 3.25),
    ]
    assert max_repo_cost(costs) == 12.5
    assert max_repo_cost([]) == 0.0
