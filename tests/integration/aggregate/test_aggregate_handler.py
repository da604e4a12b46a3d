"""The aggregate handler on moto: S3 lake, DynamoDB marks and checkpoint, Glue partitions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from prodlens.adapters.s3_store import S3ObjectStore
from prodlens.adapters.state_table import DynamoStateStore
from prodlens.services.aggregate import DIRTY_TABLES, run_aggregate

from tests.conftest import REGION, ROOT, STATE_TABLE
from tests.integration.aggregate.conftest import GLUE_DATABASE, LAKE_BUCKET
from tests.unit.aggregate.aggregate_lakedata import (
    DAYS,
    FakeCatalog,
    FakeStateStore,
    LocalDirStore,
    deliver,
    put_staging,
    scenario,
    snapshot,
    trace,
)

pytestmark = pytest.mark.integration


def _event(name: str) -> dict:
    return json.loads((ROOT / "events" / "aggregate" / name).read_text())


def _reference(tmp: Path, deliveries) -> dict:
    """The same deliveries aggregated all at once over the in-memory ports."""
    store, state = LocalDirStore(tmp / "ref"), FakeStateStore()
    deliver(store, state, tmp, deliveries)
    run_aggregate(store, state, FakeCatalog(), tmp / "refwork", now=datetime(2026, 5, 7, tzinfo=UTC))
    return snapshot(store, tmp / "refsnap")


def _glue_partitions(table: str) -> set[tuple[str, ...]]:
    glue = boto3.client("glue", region_name=REGION)
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=GLUE_DATABASE, TableName=table)
    return {tuple(p["Values"]) for page in pages for p in page["Partitions"]}


def test_scheduled_runs_with_late_data_match_all_at_once(handler, tmp_path: Path) -> None:
    # Given: staging written by "normalize" in two halves, the second with late data for old days
    store, state = S3ObjectStore(LAKE_BUCKET), DynamoStateStore(STATE_TABLE)
    deliveries = scenario()
    late = [d for d in deliveries if d[1].get("event_date", "9") < DAYS[2] or d[2].endswith("-3")]
    early = [d for d in deliveries if d not in late]

    # When: a scheduled run after each half
    deliver(store, state, tmp_path, early)
    first = handler(_event("scheduled.json"))
    deliver(store, state, tmp_path, late)
    second = handler(_event("scheduled.json"))

    # Then: the lake equals the all-at-once reference, partitions are in Glue, marks are gone
    assert snapshot(store, tmp_path / "s") == _reference(tmp_path, deliveries)
    assert first["days_recomputed"] > 0 and second["days_recomputed"] > 0
    assert {p[0] for p in _glue_partitions("daily_session_metrics")} == set(DAYS)
    assert _glue_partitions("pull_requests") == {("acme/api",), ("acme/web",)}
    assert all(state.dirty(t) == [] for t in DIRTY_TABLES)

    item = state.get_checkpoint("aggregate", "last_run")
    assert item["version"] == 2 and item["value"]["runs"] == 2
    assert item["value"]["last_run"]["days_recomputed"] == second["days_recomputed"]


def test_one_late_object_reads_only_its_day(handler, tmp_path: Path) -> None:
    # Given: a processed lake
    store, state = S3ObjectStore(LAKE_BUCKET), DynamoStateStore(STATE_TABLE)
    deliver(store, state, tmp_path, scenario())
    handler(_event("scheduled.json"))

    # When: one more traces object lands on an old day
    day_objects = sum(1 for _ in store.list(f"traces/event_date={DAYS[1]}/"))
    put_staging(
        store,
        state,
        tmp_path,
        "traces",
        {"event_date": DAYS[1], "repo": "acme/api"},
        "late",
        [trace(record_id="late-1")],
    )
    summary = handler(_event("scheduled.json"))

    # Then: only that day's objects were read, once each: its traces (+1 for the new one), and for
    # daily_developer_metrics its commits and every repo's pull_requests; one day rewritten
    commit_objects = sum(1 for _ in store.list(f"commits/event_date={DAYS[1]}/"))
    pull_request_objects = sum(1 for _ in store.list("pull_requests/"))
    assert summary["days"] == [DAYS[1]]
    assert summary["objects_read"] == day_objects + 1 + commit_objects + pull_request_objects
    assert summary["developer_days"] == 1
    # acme/api and acme/web rows of that day, and that day's people
    assert summary["rows_written"] == 2 + summary["developer_rows"] and summary["developer_rows"] > 0


def test_backfill_event_recomputes_the_range(handler, tmp_path: Path) -> None:
    # Given: staging with every mark cleared by a run, then the day objects removed
    store, state = S3ObjectStore(LAKE_BUCKET), DynamoStateStore(STATE_TABLE)
    deliver(store, state, tmp_path, scenario())
    handler(_event("scheduled.json"))
    before = snapshot(store, tmp_path / "a")
    store.delete([o.key for o in store.list("daily_session_metrics/")])

    # When
    event = {**_event("backfill.json"), "backfill": {"start": DAYS[0], "end": DAYS[-1]}}
    summary = handler(event)

    # Then
    assert summary["mode"] == "backfill" and summary["session_days"] == len(DAYS)
    assert snapshot(store, tmp_path / "b") == before
