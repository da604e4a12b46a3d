"""The usage fetchers' checkpoints and page state on the DynamoDB state table (prodlens.vendors.sync.UsageSyncState).

| item | pk | sk | attributes |
|---|---|---|---|
| checkpoint (last full day) | `checkpoint#usage_sync` | `<source>/<label>` | value (YYYY-MM-DD), version, updated_at |
| the last 200 of a page URL | `page#<source>/<label>` | `<request url>` | value (JSON: etag, has_more, next_page) |

A checkpoint only moves forward (days are `YYYY-MM-DD`, so string order is day order); a write that is not
further than the stored value raises CheckpointConflict.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from prodlens.adapters.state_table import DynamoStateStore, now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHECKPOINT_JOB = "usage_sync"


class DynamoUsageSyncState:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self._store = DynamoStateStore(table, client)

    def get_checkpoint(self, scope: str) -> str | None:
        item = self._store.get_item(f"checkpoint#{CHECKPOINT_JOB}", scope)
        return item.get("value") if item else None

    def put_checkpoint(self, scope: str, value: str) -> None:
        """Move the checkpoint to `value`; CheckpointConflict if it is already there or further."""
        self._store.advance(f"checkpoint#{CHECKPOINT_JOB}", scope, value)

    def get_page(self, scope: str, url: str) -> dict[str, Any] | None:
        item = self._store.get_item(f"page#{scope}", url)
        return json.loads(item["value"]) if item and "value" in item else None

    def put_page(self, scope: str, url: str, value: dict[str, Any]) -> None:
        self._store.put_item(
            f"page#{scope}", url, {"value": json.dumps(value, sort_keys=True), "updated_at": now_iso()}
        )
