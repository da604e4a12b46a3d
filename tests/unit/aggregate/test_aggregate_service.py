"""run_aggregate over in-memory ports: incremental equals all-at-once, redelivery is a no-op, marks and checkpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prodlens.errors import CheckpointConflict
from prodlens.lake import object_key
from prodlens.ports import DirtyPartition
from prodlens.services import aggregate as service
from prodlens.services.aggregate import parse_event, run_aggregate, run_backfill, status

from tests.unit.aggregate.aggregate_lakedata import (
    DAYS,
    FakeCatalog,
    FakeStateStore,
    LocalDirStore,
    deliver,
    put_staging,
    read_parquet,
    scenario,
    snapshot,
    trace,
)

NOW = datetime(2026, 5, 7, 6, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


class Lake:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.store = LocalDirStore(tmp / "bucket")
        self.state = FakeStateStore()
        self.catalog = FakeCatalog()

    def run(self, **kwargs):
        return run_aggregate(self.store, self.state, self.catalog, self.tmp / "work", now=NOW, **kwargs)

    def snapshot(self):
        return snapshot(self.store, self.tmp)


def _late_split(deliveries):
    """First half: the newest days' traces, some PR pages, the newest commits. Second half: everything else,
    i.e. late data for old days and later versions of PRs created on old days."""
    first, second = [], []
    for d in deliveries:
        table, partition, name, _ = d
        recent = partition.get("event_date", "") >= DAYS[3]
        page_early = name.endswith(("-0", "-2")) and table in ("github_pulls", "github_issue_events")
        (first if recent or page_early else second).append(d)
    return first, second


def test_incremental_with_late_data_equals_all_at_once(tmp_path: Path) -> None:
    # Given: the same deliveries, at once and in two halves (the second full of late data for old days)
    deliveries = scenario()
    once, halves = Lake(tmp_path / "once"), Lake(tmp_path / "halves")
    deliver(once.store, once.state, tmp_path, deliveries)
    first, second = _late_split(deliveries)
    assert first and second

    # When
    once.run()
    deliver(halves.store, halves.state, tmp_path, first)
    halves.run()
    between = halves.snapshot()
    deliver(halves.store, halves.state, tmp_path, second)
    summary = halves.run()

    # Then: same final tables; the late run recomputed old days; no mark left
    assert halves.snapshot() == once.snapshot()
    assert between != once.snapshot()
    assert set(summary["days"]) >= set(DAYS[:3])
    assert not any(halves.state.dirty(t) for t in service.DIRTY_TABLES)
    assert halves.catalog.partitions == once.catalog.partitions
    assert {p[0] for p in once.catalog.partitions["daily_session_metrics"]} == set(DAYS)


def test_redelivering_processed_input_changes_nothing(tmp_path: Path) -> None:
    # Given: a processed lake
    lake = Lake(tmp_path)
    deliveries = scenario()
    deliver(lake.store, lake.state, tmp_path, deliveries)
    lake.run()
    before = lake.snapshot()

    # When: nothing is dirty, then every object is redelivered (same names, marks touched again)
    idle = lake.run()
    deliver(lake.store, lake.state, tmp_path, deliveries)
    again = lake.run()

    # Then
    assert (idle["days_recomputed"], idle["objects_read"], idle["rows_written"]) == (0, 0, 0)
    assert again["days_recomputed"] == len(DAYS)
    assert lake.snapshot() == before


def test_daily_session_metrics_is_one_object_per_day_holding_every_repo(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    deliver(lake.store, lake.state, tmp_path, scenario())
    lake.run()
    keys = sorted(o.key for o in lake.store.list("daily_session_metrics/"))
    assert keys == [f"daily_session_metrics/event_date={d}/data.parquet" for d in DAYS]
    rows = read_parquet(lake.store.root / keys[0])
    assert [r["repo"] for r in rows] == ["acme/api", "acme/web"]


def test_redelivery_moving_rows_to_another_day_removes_them_from_the_old_day(tmp_path: Path) -> None:
    # Given: one source with rows on day 1 only, aggregated
    lake = Lake(tmp_path)
    old = {"event_date": DAYS[0], "repo": "acme/api"}
    put_staging(lake.store, lake.state, tmp_path, "traces", old, "src", [trace(record_id="1", ts=datetime(2026, 5, 1))])
    lake.run()
    assert lake.store.head("daily_session_metrics/event_date=2026-05-01/data.parquet")

    # When: normalize redelivers it with the timestamp corrected to day 2 (overwrites, deletes the stale output)
    new = {"event_date": DAYS[1], "repo": "acme/api"}
    put_staging(lake.store, lake.state, tmp_path, "traces", new, "src", [trace(record_id="1", ts=datetime(2026, 5, 2))])
    lake.store.delete([object_key("traces", old, "src")])
    lake.state.mark_dirty("traces", [(DAYS[0], "acme/api")])
    lake.run()

    # Then: day 1 has no rows, so no object; day 2 has the row once
    assert lake.store.head("daily_session_metrics/event_date=2026-05-01/data.parquet") is None
    (row,) = read_parquet(lake.store.root / "daily_session_metrics/event_date=2026-05-02/data.parquet")
    assert row["request_count"] == 1


def test_mark_touched_during_run_stays_dirty_and_next_run_catches_up(tmp_path: Path, monkeypatch) -> None:
    # Given: a lake where a new traces object lands (and is marked) while aggregate is running
    lake, reference = Lake(tmp_path / "a"), Lake(tmp_path / "b")
    deliveries = scenario()
    late = ("traces", {"event_date": DAYS[0], "repo": "acme/api"}, "late", [trace(record_id="late", latency_ms=1.0)])
    deliver(lake.store, lake.state, tmp_path, deliveries)
    deliver(reference.store, reference.state, tmp_path, [*deliveries, late])
    reference.run()
    real_session_days = service._recompute_session_days

    def with_concurrent_write(lake_view, days):
        result = real_session_days(lake_view, days)
        deliver(lake.store, lake.state, tmp_path, [late])  # after the day was read: this run misses it
        return result

    monkeypatch.setattr(service, "_recompute_session_days", with_concurrent_write)

    # When
    first = lake.run()
    monkeypatch.setattr(service, "_recompute_session_days", real_session_days)

    # Then: the touched mark survived, the next run recomputes that day and converges
    assert first["dirty_kept"] == 1
    assert [(m.event_date, m.repo) for m in lake.state.dirty("traces")] == [(DAYS[0], "acme/api")]
    second = lake.run()
    assert second["days"] == [DAYS[0]]
    assert lake.snapshot() == reference.snapshot()


def test_failed_clear_remarks_partition_for_the_next_run() -> None:
    # Given: a mark read by this run, then cleared by an overlapping run
    state = FakeStateStore()
    state.mark_dirty("traces", [(DAYS[0], "acme/api")])
    (mark,) = state.dirty("traces")
    assert state.clear_dirty(mark)

    # When: our run's clear fails (our overwrite may be the older one)
    cleared, kept = service._clear_marks(state, [mark])

    # Then: it is dirty again
    assert (cleared, kept) == (0, 1)
    assert [m.event_date for m in state.dirty("traces")] == [DAYS[0]]


def test_backfill_recomputes_range_regardless_of_marks(tmp_path: Path) -> None:
    # Given: a processed lake whose day objects were lost, with no dirty marks
    lake = Lake(tmp_path)
    deliver(lake.store, lake.state, tmp_path, scenario())
    lake.run()
    before = lake.snapshot()
    lake.store.delete(
        [o.key for o in lake.store.list("daily_") if o.key >= "daily_session_metrics/event_date=2026-05-02"]
    )
    lake.store.delete([o.key for o in lake.store.list("daily_github_metrics/") if o.key[31:41] <= DAYS[-1]])

    # When
    summary = run_backfill(lake.store, lake.state, lake.catalog, tmp_path / "w", DAYS[0], DAYS[-1], now=NOW)

    # Then
    assert summary["mode"] == "backfill" and summary["days_recomputed"] == len(DAYS)
    assert lake.snapshot() == before


def test_backfill_clears_only_the_marks_it_covers(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    deliver(lake.store, lake.state, tmp_path, scenario())
    lake.run(backfill=(DAYS[0], DAYS[1]))
    assert {m.event_date for m in lake.state.dirty("traces")} == set(DAYS[2:])
    assert lake.state.dirty("github_pulls") == []


def test_checkpoint_accumulates_and_survives_a_conflicting_writer(tmp_path: Path, monkeypatch) -> None:
    # Given: two runs, and an overlapping run that moves the checkpoint between our read and our write
    lake = Lake(tmp_path)
    deliver(lake.store, lake.state, tmp_path, scenario())
    first = lake.run()
    real_put = lake.state.put_checkpoint
    calls = {"n": 0}

    def racing_put(job, scope, value, expected_version):
        calls["n"] += 1
        if calls["n"] == 1:
            current = lake.state.get_checkpoint(job, scope)
            real_put(job, scope, {**current["value"], "runs": current["value"]["runs"] + 1}, current["version"])
        return real_put(job, scope, value, expected_version)

    monkeypatch.setattr(lake.state, "put_checkpoint", racing_put)

    # When
    lake.state.mark_dirty("traces", [(DAYS[0], "acme/api")])
    lake.run()

    # Then: both the other run's increment and ours are kept, and the version moved forward
    item = lake.state.get_checkpoint("aggregate", "last_run")
    assert item["value"]["runs"] == 3 and item["version"] == 3
    assert item["value"]["last_run"]["days_recomputed"] == 1
    assert item["value"]["days_recomputed_total"] == first["days_recomputed"] + 1


def test_checkpoint_gives_up_after_repeated_conflicts(monkeypatch) -> None:
    state = FakeStateStore()

    def always_conflict(*args, **kwargs):
        raise CheckpointConflict("x")

    monkeypatch.setattr(state, "put_checkpoint", always_conflict)
    with pytest.raises(CheckpointConflict):
        service._write_checkpoint(
            state, {"run_at": "2026-01-01T00:00:00+00:00", "days_recomputed": 0, "rows_written": 0}
        )


def test_status_reports_last_run_partitions_and_backlog(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    deliver(lake.store, lake.state, tmp_path, scenario())
    run = lake.run()
    lake.state.mark_dirty("traces", [(DAYS[0], "acme/api"), (DAYS[1], "acme/api")])

    report = status(lake.state, lake.store)

    assert report["last_run_at"] == NOW.isoformat(timespec="seconds")
    assert report["days_recomputed"] == run["days_recomputed"] and report["rows_written"] == run["rows_written"] > 0
    assert report["partitions"]["daily_session_metrics"] == len(DAYS)
    assert report["partitions"]["pull_requests"] == 2
    assert report["dirty_backlog"]["traces"] == 2 and report["dirty_backlog_total"] == 2
    # objects per partition: derived partitions are one object each; staging ones one per source object
    assert report["objects_per_partition"]["daily_session_metrics"] == {"max": 1, "mean": 1.0}
    traces: dict[str, int] = {}
    for obj in lake.store.list("traces/"):
        prefix = obj.key.rsplit("/", 1)[0]
        traces[prefix] = traces.get(prefix, 0) + 1
    expected = {"max": max(traces.values()), "mean": round(sum(traces.values()) / len(traces), 2)}
    assert report["objects_per_partition"]["traces"] == expected and expected["max"] > 1
    assert report["objects_per_partition"]["usage_records"] == {"max": 0, "mean": 0.0}
    json.dumps(report)


@pytest.mark.parametrize(
    ("name", "expected"), [("scheduled.json", None), ("backfill.json", ("2026-01-01", "2026-01-31"))]
)
def test_parse_event_sample_events(name: str, expected) -> None:
    event = json.loads((ROOT / "events" / "aggregate" / name).read_text())
    assert parse_event(event) == expected


@pytest.mark.parametrize(
    "event",
    [
        {"job": "correlate"},
        {"job": "aggregate", "backfill": {"start": "2026-02-01", "end": "2026-01-01"}},
        {"job": "aggregate", "backfill": {"start": "yesterday", "end": "2026-01-01"}},
    ],
)
def test_parse_event_rejects_bad_events(event) -> None:
    with pytest.raises(ValueError):
        parse_event(event)


def test_dirty_partition_of_unknown_day_is_tolerated(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.state.mark_dirty("traces", [(DAYS[0], "acme/none")])
    summary = lake.run()
    assert summary["days_recomputed"] == 1 and summary["rows_written"] == 0
    assert lake.state.dirty("traces") == []
    assert isinstance(lake.state.dirty("traces"), list) and DirtyPartition  # the port type is what dirty() yields


def test_malformed_dirty_mark_is_cleared_without_work(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.state.mark_dirty("traces", [("", "acme/api")])
    summary = lake.run()
    assert summary["days_recomputed"] == 0 and lake.state.dirty("traces") == []
