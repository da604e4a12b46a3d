"""Use case: turn one raw object into lake objects, exactly once in effect.

Order of effects, chosen so a crash at any point converges on retry:
1. write every output object (deterministic keys: a rewrite replaces, never duplicates),
2. delete outputs an earlier version of the same source wrote but this one did not,
3. register new partitions in Glue and mark the touched partitions dirty for aggregate,
4. record the object as processed (its ETag), which is what makes a redelivery a no-op.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodlens.errors import ObjectNotFound
from prodlens.lake import object_key, parse_partition, source_id
from prodlens.models import SourceObject
from prodlens.normalize import Limits, normalize_object
from prodlens.observability import logger, metrics
from prodlens.ports import Catalog, ObjectStore, StateStore
from prodlens.schema import TABLES

INPUT_PREFIXES = ("traces/", "github/")


@dataclass(frozen=True)
class NormalizeDeps:
    raw: ObjectStore
    lake: ObjectStore
    state: StateStore
    catalog: Catalog
    limits: Limits


def _table_of(key: str) -> str:
    return key.split("/", 1)[0]


def _dirty_partition(table: str, partition: dict[str, str]) -> tuple[str, str]:
    return partition.get("event_date", ""), partition.get("repo", "")


def _vanished(key: str) -> dict[str, Any]:
    # Deleted after the event was sent: there is nothing left to read, and nothing was lost by us.
    logger.warning("raw object vanished before it was read", source_key=key)
    return {"key": key, "status": "missing"}


def normalize_raw_object(key: str, deps: NormalizeDeps) -> dict[str, Any]:
    """Normalize raw object `key` (already URL-decoded). Returns a summary; infrastructure errors propagate."""
    if not key.startswith(INPUT_PREFIXES):
        return {"key": key, "status": "ignored"}
    # A redelivery is recognised from the ETag alone (a HEAD), before any byte of the object is read.
    current = deps.raw.head(key)
    if current is None:
        return _vanished(key)
    prior = deps.state.get_processed(key)
    if prior and prior.get("etag") == current.etag:
        metrics.add_metric(name="DuplicateDeliveries", unit="Count", value=1)
        return {"key": key, "status": "duplicate", "counts": prior.get("counts", {})}
    with tempfile.TemporaryDirectory(prefix="prodlens-") as tmp:
        workdir = Path(tmp)
        raw_path = workdir / "object"
        try:
            metadata = deps.raw.download(key, raw_path)
        except ObjectNotFound:
            return _vanished(key)
        etag = metadata.pop("etag", "")  # the version actually read, should it have changed since the HEAD

        output = normalize_object(SourceObject(key, raw_path, metadata, etag), workdir / "out", deps.limits)

        name = source_id(key)
        written: dict[str, str] = {}  # lake key -> table
        for table_file in output.files:
            lake_key = object_key(table_file.table, table_file.partition, name)
            deps.lake.upload(table_file.path, lake_key)
            written[lake_key] = table_file.table

    stale = [k for k in (prior or {}).get("outputs", []) if k not in written]
    if stale:
        deps.lake.delete(stale)

    touched: dict[str, set[tuple[str, str]]] = {}
    for lake_key in [*written, *stale]:
        table = _table_of(lake_key)
        if TABLES[table].partition_keys:
            touched.setdefault(table, set()).add(_dirty_partition(table, parse_partition(table, lake_key)))
    for table in sorted({_table_of(k) for k in written}):
        if TABLES[table].partition_keys:
            partitions = [parse_partition(table, k) for k in written if _table_of(k) == table]
            deps.catalog.register_partitions(table, partitions)
    for table, partitions in touched.items():
        deps.state.mark_dirty(table, partitions)

    counts = output.counts.as_dict()
    deps.state.put_processed(
        key, {"etag": etag, "outputs": sorted(written), "counts": counts, "format": output.source_format or ""}
    )
    for metric, value in (
        ("RowsWritten", counts["rows"]),
        ("DeadLetters", counts["dead_letters"]),
        ("RecordsSkipped", counts["skipped"]),
    ):
        metrics.add_metric(name=metric, unit="Count", value=value)
    metrics.add_metric(name="ObjectsNormalized", unit="Count", value=1)
    logger.info(
        "normalized object",
        source_key=key,
        source_format=output.source_format,
        **counts,
        outputs=len(written),
        stale_deleted=len(stale),
    )
    return {
        "key": key,
        "status": "normalized",
        "format": output.source_format,
        "counts": counts,
        "outputs": len(written),
        "skipped_reason": output.skipped_reason,
    }


def unprocessed_objects(deps: NormalizeDeps) -> Iterator[str]:
    """Raw input objects whose current ETag has not been processed (missed or failed notifications)."""
    for prefix in INPUT_PREFIXES:
        for obj in deps.raw.list(prefix):
            prior = deps.state.get_processed(obj.key)
            if not prior or prior.get("etag") != obj.etag:
                yield obj.key


def sweep(deps: NormalizeDeps, has_time_left: Callable[[], bool]) -> dict[str, Any]:
    """The scheduled safety net: normalize what the queue never delivered, while time remains."""
    done, pending = [], 0
    for key in unprocessed_objects(deps):
        if not has_time_left():
            pending += 1
            continue
        done.append(normalize_raw_object(key, deps))
    metrics.add_metric(name="SweepObjects", unit="Count", value=len(done))
    return {"mode": "sweep", "normalized": len(done), "left_for_next_run": pending, "results": done}
