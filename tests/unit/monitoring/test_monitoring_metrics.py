"""The EMF metrics the alarms watch, as the services print them: trace gap (sweep), daily cost (aggregate),
the dead-letter share's inputs (normalize)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prodlens.normalize import Limits
from prodlens.observability import metrics
from prodlens.services.aggregate import run_aggregate
from prodlens.services.monitoring import emit_trace_gap
from prodlens.services.normalize import NormalizeDeps, normalize_raw_object, sweep

from tests.unit.aggregate.aggregate_lakedata import FakeCatalog, FakeStateStore, LocalDirStore, put_staging, trace

FRIDAY_1800 = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)
MONDAY_0600 = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)
SEED_LINE = (
    '{"timestamp": "2026-03-16T05:00:00Z", "attributes": {"llm.model_name": "gpt-4o"}, '
    '"usage": {"input_tokens": 100, "output_tokens": 20}, "metadata": {"repo": "acme/api", "session_id": "s1"}}'
)


@pytest.fixture
def emf(capsys):
    """emf() -> every EMF blob printed so far (the run's metrics are flushed first, as the handler does)."""
    metrics.clear_metrics()
    capsys.readouterr()

    def read() -> list[dict]:
        metrics.flush_metrics()
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]

    yield read
    metrics.clear_metrics()


def _values(blobs: list[dict], name: str) -> list[float]:
    return [v for blob in blobs if name in blob for v in blob[name]]


def _dimensions(blob: dict) -> list[list[str]]:
    return blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


class Deps:
    """Normalize's ports over local directories, with the processed-object records the sweep reads."""

    def __init__(self, tmp: Path) -> None:
        self.raw = LocalDirStore(tmp / "raw", "raw")
        self.state = FakeStateStore()
        self.deps = NormalizeDeps(self.raw, LocalDirStore(tmp / "lake"), self.state, FakeCatalog(), Limits())

    def processed(self, key: str, rows: int, at: str) -> None:
        """A raw object already normalized at `at` (its current ETag recorded, so the sweep leaves it alone)."""
        self.raw.put_bytes(key, b"{}")
        (etag,) = [o.etag for o in self.raw.list(key)]
        self.state.put_processed(key, {"etag": etag, "counts": {"rows": rows}, "processed_at": at})


def test_emit_trace_gap_counts_weekend_hours_apart(emf):
    # When the last trace data arrived on Friday 18:00 and it is Monday 06:00
    emit_trace_gap(FRIDAY_1800, MONDAY_0600)
    # Then 60 hours have passed, 12 of them on weekdays
    blobs = emf()
    assert _values(blobs, "HoursSinceLastTrace") == [60.0]
    assert _values(blobs, "WeekdayHoursSinceLastTrace") == [12.0]


def test_sweep_emits_the_trace_gap_from_processed_records(tmp_path, emf):
    # Given traces objects processed on Thursday and Friday 18:00, and later a GitHub page and a traces object
    # that yielded no row
    deps = Deps(tmp_path)
    deps.processed("traces/a.jsonl", 5, "2026-03-12T09:00:00+00:00")
    deps.processed("traces/b.jsonl", 2, "2026-03-13T18:00:00+00:00")
    deps.processed("github/acme/api/pulls/p.json", 7, "2026-03-15T12:00:00+00:00")
    deps.processed("traces/only-bad-lines.jsonl", 0, "2026-03-15T13:00:00+00:00")

    # When the sweep runs on Monday 06:00
    result = sweep(deps.deps, lambda: True, MONDAY_0600)

    # Then nothing needed normalizing and the gap is measured from Friday 18:00
    assert result["normalized"] == 0
    assert result["trace_gap"]["last_trace_at"] == "2026-03-13T18:00:00+00:00"
    blobs = emf()
    assert _values(blobs, "WeekdayHoursSinceLastTrace") == [12.0]
    assert _values(blobs, "HoursSinceLastTrace") == [60.0]


def test_sweep_that_normalizes_new_traces_reports_no_gap(tmp_path, emf):
    # Given an old processed object and a new traces object whose notification was lost
    deps = Deps(tmp_path)
    deps.processed("traces/a.jsonl", 5, "2026-03-12T09:00:00+00:00")
    deps.raw.put_bytes("traces/new.jsonl", SEED_LINE.encode())

    # When the sweep normalizes it
    result = sweep(deps.deps, lambda: True, MONDAY_0600)

    # Then the gap is zero
    assert result["normalized"] == 1
    assert _values(emf(), "WeekdayHoursSinceLastTrace") == [0.0]


def test_sweep_without_any_trace_data_emits_no_gap_metric(tmp_path, emf):
    # Given only GitHub pages
    deps = Deps(tmp_path)
    deps.processed("github/acme/api/pulls/p.json", 7, "2026-03-15T12:00:00+00:00")
    # When
    result = sweep(deps.deps, lambda: True, MONDAY_0600)
    # Then there is no gap to report (an empty lake is not a gap)
    blobs = emf()
    assert result["trace_gap"] is None
    assert _values(blobs, "WeekdayHoursSinceLastTrace") == []
    assert _values(blobs, "SweepObjects") == [0.0]


def test_normalize_emits_rows_and_dead_letters_for_the_dead_letter_share(tmp_path, emf):
    # Given an object with two good lines and one that is not JSON
    deps = Deps(tmp_path)
    deps.raw.put_bytes("traces/mixed.jsonl", f"{SEED_LINE}\n{{not json\n{SEED_LINE.replace('s1', 's2')}\n".encode())
    # When
    normalize_raw_object("traces/mixed.jsonl", deps.deps)
    # Then the share's numerator and denominator are in the run's metrics, under the service dimension only
    blobs = emf()
    assert _values(blobs, "RowsWritten") == [2.0]
    assert _values(blobs, "DeadLetters") == [1.0]
    assert all(_dimensions(b) == [["service"]] for b in blobs if "DeadLetters" in b)


def test_aggregate_emits_each_repos_cost_for_yesterday_and_today_and_the_maximum(tmp_path, emf):
    # Given traces with costs yesterday (acme/api $30, acme/web $4) and today (acme/api $2), and an old day ($500)
    store, state = LocalDirStore(tmp_path / "lake"), FakeStateStore()
    for day, repo, cost in [
        ("2026-03-15", "acme/api", 30.0),
        ("2026-03-15", "acme/web", 4.0),
        ("2026-03-16", "acme/api", 2.0),
        ("2026-02-01", "acme/api", 500.0),
    ]:
        row = trace(ts=datetime.fromisoformat(f"{day}T10:00:00"), cost_usd=cost, cost_source="source")
        put_staging(store, state, tmp_path, "traces", {"event_date": day, "repo": repo}, f"{repo[5:]}-{day}", [row])

    # When aggregate runs on Monday 06:00
    result = run_aggregate(store, state, FakeCatalog(), tmp_path / "work", now=MONDAY_0600)

    # Then DailyCostUsd is emitted per repo (its own `repo` dimension) for yesterday and today only
    blobs = emf()
    per_repo = sorted((b["repo"], v) for b in blobs if "DailyCostUsd" in b for v in b["DailyCostUsd"] if b.get("repo"))
    assert per_repo == [("acme/api", 2.0), ("acme/api", 30.0), ("acme/web", 4.0)]
    assert all(_dimensions(b) == [["service", "repo"]] for b in blobs if "DailyCostUsd" in b)
    # And the pooled maximum the alarm watches, without the repo dimension; the old day does not count
    assert _values(blobs, "MaxRepoDailyCostUsd") == [30.0]
    assert result["daily_cost"]["days"] == ["2026-03-15", "2026-03-16"]
    # And aggregate's own row count no longer shares normalize's RowsWritten (the dead-letter share's denominator)
    assert _values(blobs, "RowsWritten") == []
    assert _values(blobs, "DerivedRowsWritten") == [result["rows_written"]]


def test_aggregate_without_recent_ai_data_emits_a_zero_maximum(tmp_path, emf):
    # Given an empty lake
    store, state = LocalDirStore(tmp_path / "lake"), FakeStateStore()
    # When
    run_aggregate(store, state, FakeCatalog(), tmp_path / "work", now=MONDAY_0600)
    # Then the cost alarm still gets a datapoint, and no per-repo value is invented
    blobs = emf()
    assert _values(blobs, "MaxRepoDailyCostUsd") == [0.0]
    assert _values(blobs, "DailyCostUsd") == []
