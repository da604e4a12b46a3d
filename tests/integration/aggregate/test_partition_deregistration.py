"""Stale partitions on the embedded stack: a partition left without objects leaves Glue (and the local catalog)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from prodlens.adapters.glue_catalog import GlueCatalog
from prodlens.local.stack import LocalStack, run_pipeline, running

pytestmark = pytest.mark.integration

KEY = "traces/claude/gone/session.jsonl"
REPO = "acme/gone"
OLD_DAY, NEW_DAY = "2026-12-01", "2026-12-02"


def _transcript(day: str) -> bytes:
    """Two Claude Code calls on `day`, named by (message.id, requestId): a new timestamp moves them."""
    return "\n".join(
        json.dumps(
            {
                "type": "assistant",
                "sessionId": "gone-session",
                "timestamp": f"{day}T09:0{i}:00.000Z",
                "requestId": f"req_gone_{i}",
                "message": {
                    "id": f"msg_gone_{i}",
                    "model": "claude-sonnet-4-5-20250929",
                    "usage": {"input_tokens": 3, "output_tokens": 5},
                },
            }
        )
        for i in range(2)
    ).encode()


def _deliver(stack: LocalStack, day: str) -> dict[str, Any]:
    stack.s3.put_object(
        Bucket=stack.raw_bucket, Key=KEY, Body=_transcript(day), Metadata={"repo": REPO, "developer": "dev@acme.dev"}
    )
    assert stack.drain_queue()["failed"] == 0
    return stack.invoke("aggregate", {"job": "aggregate"})


def _partitions(stack: LocalStack, table: str) -> set[tuple[str, ...]]:
    pages = stack.glue.get_paginator("get_partitions").paginate(DatabaseName=stack.database, TableName=table)
    return {tuple(p["Values"]) for page in pages for p in page["Partitions"]}


def test_redelivery_moving_every_row_then_next_run_removes_the_empty_partitions_from_glue():
    with running() as stack:
        # Given a transcript delivered on OLD_DAY and aggregated: its partitions are registered
        stack.enable_notifications()
        _deliver(stack, OLD_DAY)
        assert (OLD_DAY, REPO) in _partitions(stack, "traces")
        assert (OLD_DAY,) in _partitions(stack, "daily_session_metrics")
        # When it is re-uploaded with every row on NEW_DAY, and the next aggregate run comes
        result = _deliver(stack, NEW_DAY)
        # Then GetPartitions lists NEW_DAY's partitions and no longer OLD_DAY's (both objects are gone)
        assert _partitions(stack, "traces") == {(NEW_DAY, REPO)}
        assert _partitions(stack, "daily_session_metrics") == {(NEW_DAY,)}
        assert _partitions(stack, "daily_developer_metrics") == {(NEW_DAY,)}
        assert result["partitions_deregistered"] == 3  # traces, daily_session_metrics, daily_developer_metrics


def test_redelivery_moving_every_row_removes_the_partition_from_the_local_catalog(tmp_path: Path):
    # Given `prodlens pipeline` runs on one lake DIR: the transcript on OLD_DAY, then re-uploaded on NEW_DAY
    lake = tmp_path / "lake"
    for day in (OLD_DAY, NEW_DAY):
        inputs = tmp_path / f"in-{day}"
        (inputs / KEY).parent.mkdir(parents=True)
        (inputs / KEY).write_bytes(_transcript(day))
        (inputs / f"{KEY}.meta.json").write_text(json.dumps({"repo": REPO, "developer": "dev@acme.dev"}))
        run_pipeline(inputs, lake)
        # Then the local catalog (DIR/state/glue.json) lists exactly the partitions that hold objects
        catalog = json.loads((lake / "state" / "glue.json").read_text())
        assert [p["Values"] for p in catalog["traces"]] == [[day, REPO]]
        assert [p["Values"] for p in catalog["daily_session_metrics"]] == [[day]]
        assert not list((lake / "lake" / "traces").glob(f"event_date={OLD_DAY if day == NEW_DAY else NEW_DAY}/*/*"))


def test_partition_refilled_while_aggregate_deregisters_it_stays_registered():
    with running() as stack:
        # Given OLD_DAY's traces partition emptied by a redelivery, and marked dirty
        stack.enable_notifications()
        _deliver(stack, OLD_DAY)
        stack.s3.put_object(
            Bucket=stack.raw_bucket,
            Key=KEY,
            Body=_transcript(NEW_DAY),
            Metadata={"repo": REPO, "developer": "dev@acme.dev"},
        )
        assert stack.drain_queue()["failed"] == 0
        prefix = f"traces/event_date={OLD_DAY}/repo=acme%2Fgone/"
        assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.lake_bucket, Prefix=prefix)
        # ... and another writer that fills it again (PUT, then register, as normalize does) after aggregate
        # found it empty and before its BatchDeletePartition
        (source,) = [
            o["Key"]
            for o in stack.s3.list_objects_v2(Bucket=stack.lake_bucket, Prefix=f"traces/event_date={NEW_DAY}/")[
                "Contents"
            ]
        ]
        refilled = []

        def concurrent_writer(params: dict[str, Any], **kwargs: Any) -> None:
            if params.get("TableName") != "traces" or refilled:
                return
            stack.s3.copy_object(
                Bucket=stack.lake_bucket,
                Key=f"{prefix}other-source.parquet",
                CopySource={"Bucket": stack.lake_bucket, "Key": source},
            )
            GlueCatalog(stack.database, stack.glue).register_partitions(
                "traces", [{"event_date": OLD_DAY, "repo": REPO}]
            )
            refilled.append(True)

        session = boto3._get_default_session()  # noqa: SLF001 - clients the handler creates from now on
        session.events.register("before-parameter-build.glue.BatchDeletePartition", concurrent_writer)
        try:
            # When the aggregate run deregisters the partitions it found empty
            result = stack.invoke("aggregate", {"job": "aggregate"})
        finally:
            session.events.unregister("before-parameter-build.glue.BatchDeletePartition", concurrent_writer)
        # Then the refilled partition, which holds an object again, is registered (listed again, registered again)
        assert refilled and result["partitions_deregistered"] >= 1
        assert (OLD_DAY, REPO) in _partitions(stack, "traces")
