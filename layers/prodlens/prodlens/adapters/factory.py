"""Adapters built once per execution environment (Lambda reuses them across invocations)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from prodlens.adapters.glue_catalog import GlueCatalog
from prodlens.adapters.s3_store import S3ObjectStore
from prodlens.adapters.state_table import DynamoStateStore
from prodlens.config import Settings


@dataclass(frozen=True)
class LakeAdapters:
    raw: S3ObjectStore
    lake: S3ObjectStore
    state: DynamoStateStore
    catalog: GlueCatalog


@lru_cache(maxsize=4)
def lake_adapters(settings: Settings) -> LakeAdapters:
    return LakeAdapters(
        raw=S3ObjectStore(settings.raw_bucket),
        lake=S3ObjectStore(settings.lake_bucket),
        state=DynamoStateStore(settings.state_table),
        catalog=GlueCatalog(settings.glue_database),
    )
