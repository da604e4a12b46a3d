"""The normalize handler on the embedded stack: SQS-wrapped S3 events from events/, redelivery, re-upload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prodlens.local.stack import running

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.integration

SEED_LINE = (
    '{{"timestamp": "2026-09-0{day}T10:00:00Z", "attributes": {{"llm.model_name": "anthropic/claude-sonnet-4-5"}}, '
    '"usage": {{"input_tokens": 100, "output_tokens": 20}}, '
    '"metadata": {{"repo": "acme/api", "session_id": "s{day}"}}}}'
)


def load_event(name: str) -> dict:
    return json.loads((REPO / "events" / name).read_text())


def _lake_keys(stack) -> list[str]:
    return sorted(o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.lake_bucket).get("Contents", []))


def test_url_encoded_key_from_sqs_event_is_normalized():
    with running() as stack:
        # Given the object named (URL-encoded, with a space) by events/normalize/sqs_s3_put.json
        event = load_event("normalize/sqs_s3_put.json")
        key = "traces/seed/team a/litellm-traces.jsonl"
        stack.s3.put_object(Bucket=stack.raw_bucket, Key=key, Body="\n".join(SEED_LINE.format(day=d) for d in (1, 2)))
        # When the handler receives the event
        response = stack.invoke("normalize", event)
        # Then the record succeeded and both days' partitions exist under the Hive-escaped repo
        assert response == {"batchItemFailures": []}
        keys = _lake_keys(stack)
        assert any(k.startswith("traces/event_date=2026-09-01/repo=acme%2Fapi/") for k in keys)
        assert any(k.startswith("traces/event_date=2026-09-02/repo=acme%2Fapi/") for k in keys)
        processed = stack.ddb.get_item(TableName=stack.state_table,
                                       Key={"pk": {"S": f"object#{key}"}, "sk": {"S": "state"}})
        assert processed["Item"]["counts"]["M"]["rows"]["N"] == "2"


def test_s3_test_event_is_accepted_and_writes_nothing():
    with running() as stack:
        response = stack.invoke("normalize", load_event("normalize/sqs_s3_test_event.json"))
        assert response == {"batchItemFailures": []}
        assert _lake_keys(stack) == []


def test_missing_raw_object_is_not_a_failure_and_writes_nothing():
    with running() as stack:
        response = stack.invoke("normalize", load_event("normalize/sqs_s3_put.json"))
        assert response == {"batchItemFailures": []}
        assert _lake_keys(stack) == []


def test_redelivered_event_changes_nothing():
    with running() as stack:
        stack.s3.put_object(Bucket=stack.raw_bucket, Key="traces/seed/team a/litellm-traces.jsonl",
                            Body=SEED_LINE.format(day=1))
        event = load_event("normalize/sqs_s3_put.json")
        stack.invoke("normalize", event)
        first = {k: stack.s3.get_object(Bucket=stack.lake_bucket, Key=k)["ETag"] for k in _lake_keys(stack)}
        dirty_before = stack.ddb.scan(TableName=stack.state_table)["Items"]
        # When the same event arrives again
        stack.invoke("normalize", event)
        # Then no object was rewritten and no partition was marked dirty again
        assert {k: stack.s3.get_object(Bucket=stack.lake_bucket, Key=k)["ETag"] for k in _lake_keys(stack)} == first
        assert stack.ddb.scan(TableName=stack.state_table)["Items"] == dirty_before


def test_reupload_with_fewer_days_removes_the_stale_partition_output():
    with running() as stack:
        key = "traces/seed/team a/litellm-traces.jsonl"
        event = load_event("normalize/sqs_s3_put.json")
        stack.s3.put_object(Bucket=stack.raw_bucket, Key=key, Body="\n".join(SEED_LINE.format(day=d) for d in (1, 2)))
        stack.invoke("normalize", event)
        # When the object is replaced by a version holding only day 1
        stack.s3.put_object(Bucket=stack.raw_bucket, Key=key, Body=SEED_LINE.format(day=1))
        stack.invoke("normalize", event)
        # Then day 2's output of that source is gone, and day 2 is dirty so aggregate recomputes it
        traces = [k for k in _lake_keys(stack) if k.startswith("traces/")]
        assert len(traces) == 1 and "2026-09-01" in traces[0]
        dirty = stack.ddb.query(TableName=stack.state_table, KeyConditionExpression="pk = :p",
                                ExpressionAttributeValues={":p": {"S": "dirty#traces"}})["Items"]
        assert {i["sk"]["S"] for i in dirty} == {"2026-09-01#acme/api", "2026-09-02#acme/api"}


def test_partitions_are_registered_in_glue_for_athena():
    with running() as stack:
        stack.s3.put_object(Bucket=stack.raw_bucket, Key="traces/seed/team a/litellm-traces.jsonl",
                            Body=SEED_LINE.format(day=3))
        stack.invoke("normalize", load_event("normalize/sqs_s3_put.json"))
        partitions = stack.glue.get_partitions(DatabaseName=stack.database, TableName="traces")["Partitions"]
        assert [p["Values"] for p in partitions] == [["2026-09-03", "acme/api"]]
        assert partitions[0]["StorageDescriptor"]["Location"].endswith("/traces/event_date=2026-09-03/repo=acme%2Fapi/")


def test_sweep_normalizes_objects_whose_notification_was_missed():
    with running() as stack:
        # Given an object in the raw bucket that no notification announced
        stack.s3.put_object(Bucket=stack.raw_bucket, Key="traces/seed/missed.jsonl", Body=SEED_LINE.format(day=4))
        # When the scheduled sweep runs
        result = stack.invoke("normalize", load_event("normalize/scheduled_sweep.json"))
        # Then it was normalized, and a second sweep finds nothing left
        assert result["normalized"] == 1
        assert stack.invoke("normalize", load_event("normalize/scheduled_sweep.json"))["normalized"] == 0
