"""The usage fetchers' state on DynamoDB (moto): checkpoints only move forward, page state round-trips, and the
fetcher runs on it as on the local state file."""

from __future__ import annotations

from datetime import date

import pytest
from prodlens.adapters.usage_state import DynamoUsageSyncState
from prodlens.errors import CheckpointConflict

from tests.conftest import STATE_TABLE

pytestmark = pytest.mark.integration


def test_usage_checkpoint_only_moves_forward_in_the_documented_layout(state_table):
    state = DynamoUsageSyncState(STATE_TABLE, client=state_table)
    state.put_checkpoint("claude_code/acme", "2026-03-01")

    with pytest.raises(CheckpointConflict):
        state.put_checkpoint("claude_code/acme", "2026-02-28")
    with pytest.raises(CheckpointConflict):
        state.put_checkpoint("claude_code/acme", "2026-03-01")
    state.put_checkpoint("claude_code/acme", "2026-03-02")

    assert state.get_checkpoint("claude_code/acme") == "2026-03-02"
    assert state.get_checkpoint("copilot/acme") is None
    item = state_table.get_item(
        TableName=STATE_TABLE, Key={"pk": {"S": "checkpoint#usage_sync"}, "sk": {"S": "claude_code/acme"}}
    )["Item"]
    assert item["value"] == {"S": "2026-03-02"} and item["version"] == {"N": "2"} and "updated_at" in item


def test_page_state_round_trips_per_scope_and_url(state_table):
    state = DynamoUsageSyncState(STATE_TABLE, client=state_table)
    url = "https://api.anthropic.com/v1/organizations/usage_report/claude_code?starting_at=2026-03-01&limit=1000"
    assert state.get_page("claude_code/acme", url) is None

    state.put_page("claude_code/acme", url, {"etag": '"abc"', "has_more": True, "next_page": "page_2"})
    state.put_page("claude_code/acme", url, {"etag": '"def"', "has_more": False, "next_page": None})

    assert state.get_page("claude_code/acme", url) == {"etag": '"def"', "has_more": False, "next_page": None}
    assert state.get_page("claude_code/other", url) is None


def test_the_claude_code_fetcher_runs_on_dynamodb_state_and_writes_raw_objects(state_table, vendors, clock):
    import boto3
    from prodlens.adapters.raw_pages import S3PageSink
    from prodlens.vendors.claude_code import sync_claude_code
    from prodlens.vendors.client import claude_code_client

    from tests.integration.vendors.fake_vendors import ADMIN_KEY

    # Given a raw bucket, the state table and two days of analytics
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="prodlens-raw-vendors")
    for day in ("2026-03-07", "2026-03-09"):
        vendors.add_claude_day(day)
    state = DynamoUsageSyncState(STATE_TABLE, client=state_table)
    sink = S3PageSink("prodlens-raw-vendors", client=s3)

    # When the fetcher runs twice with the Lambda's adapters
    def run() -> dict:
        client = claude_code_client(ADMIN_KEY, vendors.url, clock=clock)
        return sync_claude_code(client, "acme", sink, state, oldest=date(2026, 3, 7)).as_dict()

    first = run()
    second = run()

    # Then the pages are raw objects under usage/claude_code/, the checkpoint is in DynamoDB, and the second run
    # only re-pulls the checkpoint day (the data can lag) without moving back
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="prodlens-raw-vendors")["Contents"])
    assert keys and all(k.startswith("usage/claude_code/acme/2026-03-0") for k in keys)
    assert {k.split("/")[3] for k in keys} == {"2026-03-07", "2026-03-08", "2026-03-09"}
    assert first["status"] == "ok" and state.get_checkpoint("claude_code/acme") == first["checkpoint"] == "2026-03-09"
    assert second["days"] == ["2026-03-09"] and state.get_checkpoint("claude_code/acme") == "2026-03-09"
