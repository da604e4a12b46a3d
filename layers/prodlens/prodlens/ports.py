"""The small interfaces the services need from storage. Adapters implement them with boto3 (prodlens.adapters)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str


class ObjectStore(Protocol):
    """One S3 bucket."""

    bucket: str

    def list(self, prefix: str) -> Iterator[StoredObject]: ...

    def download(self, key: str, path: Path, unless_etag: str | None = None) -> dict[str, str] | None:
        """Copy the object to `path`; return its user metadata plus `etag` and `last_modified` (ISO, UTC).
        With `unless_etag`: None, nothing copied, when that is the object's ETag. Raises ObjectNotFound."""
        ...

    def head(self, key: str) -> StoredObject | None: ...

    def upload(self, path: Path, key: str) -> None: ...

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None: ...

    def delete(self, keys: Iterable[str]) -> None: ...


@dataclass(frozen=True)
class DirtyPartition:
    table: str
    event_date: str  # '' when the table is not partitioned by day
    repo: str
    version: int


class StateStore(Protocol):
    """The DynamoDB state table: processed objects, dirty partitions, checkpoints, caches."""

    def get_processed(self, source_key: str) -> dict[str, Any] | None: ...

    def put_processed(self, source_key: str, record: dict[str, Any]) -> None: ...

    def get_processed_many(self, source_keys: list[str]) -> dict[str, dict[str, Any] | None]:
        """get_processed for several objects, in as few calls as the store allows (None: never seen)."""
        ...

    def put_processed_many(self, records: dict[str, dict[str, Any]]) -> None:
        """put_processed for several objects, in as few calls as the store allows."""
        ...

    def mark_dirty(self, table: str, partitions: Iterable[tuple[str, str]]) -> None:
        """Record (event_date, repo) partitions of `table` that changed and need re-aggregation."""
        ...

    def dirty(self, table: str) -> list[DirtyPartition]: ...

    def clear_dirty(self, partition: DirtyPartition) -> bool:
        """Remove the dirty mark only if nobody touched it since it was read (version unchanged)."""
        ...

    def get_checkpoint(self, job: str, scope: str) -> dict[str, Any] | None: ...

    def put_checkpoint(self, job: str, scope: str, value: dict[str, Any], expected_version: int | None) -> int:
        """Conditional write; returns the new version. Raises CheckpointConflict when expected_version is stale."""
        ...

    def get_item(self, pk: str, sk: str) -> dict[str, Any] | None: ...

    def put_item(self, pk: str, sk: str, attributes: dict[str, Any]) -> None: ...


class Catalog(Protocol):
    """The Glue catalog: partitions are registered so Athena sees new data, and removed once they hold none."""

    def register_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        """Create missing partitions (existing ones are left alone); returns how many were created."""
        ...

    def deregister_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        """Delete these partitions from the catalog (missing ones are ignored); returns how many were deleted."""
        ...
