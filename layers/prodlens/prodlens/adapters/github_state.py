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
from typing import TYPE_CHECKING, Any

from prodlens.adapters.state_table import DynamoStateStore, now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHECKPOINT_JOB = "github_sync"


class DynamoGithubSyncState:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self._store = DynamoStateStore(table, client)

    def get_etag(self, repo: str, url: str) -> str | None:
        item = self._store.get_item(f"etag#{repo}", url)
        return item.get("etag") if item else None

    def put_etag(self, repo: str, url: str, etag: str, last_modified: str | None = None) -> None:
        attributes = {"etag": etag, "updated_at": now_iso()}
        if last_modified:
            attributes["last_modified"] = last_modified
        self._store.put_item(f"etag#{repo}", url, attributes)

    def get_checkpoint(self, repo: str, endpoint: str) -> str | None:
        item = self._store.get_item(f"checkpoint#{CHECKPOINT_JOB}", f"{repo}#{endpoint}")
        return item.get("value") if item else None

    def put_checkpoint(self, repo: str, endpoint: str, value: str) -> None:
        """Move the checkpoint to `value`; CheckpointConflict if it is already there or further."""
        self._store.advance(f"checkpoint#{CHECKPOINT_JOB}", f"{repo}#{endpoint}", value)

    def get_resume(self, repo: str, endpoint: str) -> dict[str, Any] | None:
        item = self._store.get_item(f"checkpoint#{CHECKPOINT_JOB}", f"{repo}#{endpoint}#resume")
        return json.loads(item["value"]) if item and "value" in item else None

    def put_resume(self, repo: str, endpoint: str, value: dict[str, Any] | None) -> None:
        pk, sk = f"checkpoint#{CHECKPOINT_JOB}", f"{repo}#{endpoint}#resume"
        if value is None:
            self._store.delete_item(pk, sk)
        else:
            self._store.put_item(pk, sk, {"value": json.dumps(value, sort_keys=True), "updated_at": now_iso()})
