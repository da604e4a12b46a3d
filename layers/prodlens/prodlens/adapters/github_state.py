"""The fetcher's ETags and checkpoints on the DynamoDB state table (prodlens.github.sync.SyncState).

| item | pk | sk | attributes |
|---|---|---|---|
| ETag of a request URL | `etag#<owner>/<name>` | `<request url>` | etag, last_modified, updated_at |
| checkpoint | `checkpoint#github_sync` | `<owner>/<name>#<endpoint>` | value, version, updated_at |
| interrupted walk | `checkpoint#github_sync` | `<owner>/<name>#<endpoint>#resume` | value (JSON), updated_at |

Checkpoint values are UTC `YYYY-MM-DDTHH:MM:SSZ` timestamps (prodlens.github.sync.utc_cursor).

A checkpoint only moves forward: the write is conditional on the stored value being older (the values are
fixed-format UTC timestamps, so string order is time order), and a lost race raises CheckpointConflict.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from prodlens.adapters.aws_errors import translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHECKPOINT_JOB = "github_sync"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DynamoGithubSyncState:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self._ddb = client or boto3.client("dynamodb")

    def get_etag(self, repo: str, url: str) -> str | None:
        item = self._get(f"etag#{repo}", url)
        return item["etag"]["S"] if item and "etag" in item else None

    def put_etag(self, repo: str, url: str, etag: str, last_modified: str | None = None) -> None:
        item = {"pk": {"S": f"etag#{repo}"}, "sk": {"S": url}, "etag": {"S": etag}, "updated_at": {"S": _now()}}
        if last_modified:
            item["last_modified"] = {"S": last_modified}
        try:
            self._ddb.put_item(TableName=self.table, Item=item)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"put etag {repo} {url}") from e

    def get_checkpoint(self, repo: str, endpoint: str) -> str | None:
        item = self._get(f"checkpoint#{CHECKPOINT_JOB}", f"{repo}#{endpoint}")
        return item["value"]["S"] if item and "value" in item else None

    def put_checkpoint(self, repo: str, endpoint: str, value: str) -> None:
        """Move the checkpoint to `value`; CheckpointConflict if it is already there or further."""
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"checkpoint#{CHECKPOINT_JOB}"}, "sk": {"S": f"{repo}#{endpoint}"}},
                UpdateExpression="SET #value = :value, updated_at = :now ADD version :one",
                ConditionExpression="attribute_not_exists(#value) OR #value < :value",
                ExpressionAttributeNames={"#value": "value"},
                ExpressionAttributeValues={":value": {"S": value}, ":now": {"S": _now()}, ":one": {"N": "1"}},
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"advance checkpoint {repo}#{endpoint}") from e

    def get_resume(self, repo: str, endpoint: str) -> dict[str, Any] | None:
        item = self._get(f"checkpoint#{CHECKPOINT_JOB}", f"{repo}#{endpoint}#resume")
        return json.loads(item["value"]["S"]) if item and "value" in item else None

    def put_resume(self, repo: str, endpoint: str, value: dict[str, Any] | None) -> None:
        key = {"pk": {"S": f"checkpoint#{CHECKPOINT_JOB}"}, "sk": {"S": f"{repo}#{endpoint}#resume"}}
        try:
            if value is None:
                self._ddb.delete_item(TableName=self.table, Key=key)
            else:
                item = {**key, "value": {"S": json.dumps(value, sort_keys=True)}, "updated_at": {"S": _now()}}
                self._ddb.put_item(TableName=self.table, Item=item)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"put resume {repo}#{endpoint}") from e

    def _get(self, pk: str, sk: str) -> dict | None:
        try:
            response = self._ddb.get_item(
                TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"get {pk} {sk}") from e
        return response.get("Item")
