"""Value objects passed between the domain, the services and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class SourceObject:
    """A raw object to normalize: its key in the raw zone, a local copy of its bytes, and its S3 user metadata."""

    key: str
    path: Path
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str = ""
    last_modified: datetime | None = None  # when the object was stored (UTC): orders reports that replace others


@dataclass(frozen=True)
class TableFile:
    """A Parquet file written locally for one partition of one lake table (partition columns are not in the file)."""

    table: str
    partition: dict[str, str]
    path: Path
    rows: int


@dataclass
class Counts:
    """The accounting rule of the contract: rows + dead_letters + skipped == read, for every source object."""

    read: int = 0
    rows: int = 0
    dead_letters: int = 0
    skipped: int = 0

    @property
    def balanced(self) -> bool:
        return self.rows + self.dead_letters + self.skipped == self.read

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "rows": self.rows, "dead_letters": self.dead_letters, "skipped": self.skipped}


@dataclass
class NormalizeOutput:
    """What normalizing one source object produced."""

    source_key: str
    source_format: str | None
    counts: Counts
    files: list[TableFile]
    skipped_reason: str | None = None  # set when the whole object is skipped (e.g. LiteLLM audit logs)
