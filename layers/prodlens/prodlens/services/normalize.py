"""Use case: turn one raw object into lake objects, exactly once in effect, never a record counted twice.

Order of effects, chosen so a crash at any point converges on retry and a reader between any two writes sees
each record at most once (a record moving to another partition may be missing for a moment, never doubled):
1. record the intent: the lake keys this attempt may write, with no ETag, so that a crash leaves the next
   attempt (whatever version of the object it reads) every key to clean up, and never a false "duplicate";
2. delete the outputs an earlier version wrote that this one does not;
3. write the outputs, ordered so that a record leaves its old object before it appears in its new one
   (plan_writes; a cycle of moves is broken by deleting one object first);
4. register new partitions in Glue and mark the touched partitions dirty for aggregate (one transaction);
5. record the object as processed (its ETag), which is what makes a redelivery a no-op.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodlens.errors import ObjectNotFound
from prodlens.lake import object_key, parse_partition, source_id
from prodlens.models import SourceObject, TableFile
from prodlens.monitoring import TraceArrivals
from prodlens.normalize import Limits, normalize_object
from prodlens.normalize.core import INPUT_PREFIXES
from prodlens.normalize.writer import record_ids
from prodlens.observability import logger, metrics
from prodlens.ports import Catalog, ObjectStore, StateStore
from prodlens.schema import TABLES, TRACES, USAGE_RECORDS
from prodlens.services.monitoring import emit_trace_gap

# The column that names a record across versions of its source, per table whose records can move between
# partitions on a re-upload (a trace's day follows its timestamp). Other tables: one object per source partition.
RECORD_IDS = {TRACES.name: "record_id", USAGE_RECORDS.name: "record_id"}


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
    """A dirty mark's (event_date, repo): `repo` holds the table's other partition key (usage_records: the tool)."""
    other = [k for k in TABLES[table].partition_keys if k != "event_date"]
    return partition.get("event_date", ""), partition[other[0]] if other else ""


def plan_writes(
    targets: dict[str, frozenset[str]], current: dict[str, frozenset[str]], stale: list[str], existing: set[str]
) -> list[tuple[str, list[str]]]:
    """The order of one source's lake writes: ("delete", keys) and ("put", [key]) steps.

    targets: the record ids each output key will hold; current: the record ids each of the source's keys holds
    now (absent = none); stale: keys to remove; existing: keys that exist already (overwritten before new keys
    are created). Every put that adds a record comes after the write that takes it out of its current object,
    so a reader between two steps sees each record at most once. Moves that form a cycle (one record from K1
    to K2, another from K2 to K1) are broken by deleting one of the objects first: its records are missing
    until it is rewritten, never doubled. Ids are unique within targets and within current (normalize dedups
    each source).
    """
    steps: list[tuple[str, list[str]]] = [("delete", sorted(stale))] if stale else []
    holder = {rid: lake_key for lake_key in targets for rid in current.get(lake_key, frozenset())}
    before: dict[str, set[str]] = {}  # key -> the keys that must lose a record before it gains it
    for lake_key, ids in targets.items():
        arriving = ids - current.get(lake_key, frozenset())
        before[lake_key] = {holder[rid] for rid in arriving if holder.get(rid, lake_key) != lake_key}
    pending = sorted(targets, key=lambda k: (k not in existing, k))
    while pending:
        waiting = set(pending)
        ready = next((k for k in pending if not before[k] & waiting), None)
        if ready is not None:
            steps.append(("put", [ready]))
            pending.remove(ready)
            continue
        victim = min(set().union(*(before[k] & waiting for k in pending)))
        steps.append(("delete", [victim]))
        for blocked in before.values():
            blocked.discard(victim)
    return steps


def _record_ids(table: str, path: Path) -> frozenset[str]:
    column = RECORD_IDS.get(table)
    return record_ids(path, column) if column else frozenset()


def _publish(
    key: str, prior: dict[str, Any] | None, targets: dict[str, TableFile], deps: NormalizeDeps, workdir: Path
) -> list[str]:
    """Steps 1-3 of the module docstring for one source; returns the stale keys it deleted."""
    recorded = set((prior or {}).get("outputs", [])) | set((prior or {}).get("pending", []))
    # The intent: the keys this attempt may write, without ETag or counts (no "duplicate", no rows yet).
    deps.state.put_processed(
        key, {"outputs": sorted((prior or {}).get("outputs", [])), "pending": sorted(recorded | set(targets))}
    )
    stale = sorted(recorded - set(targets))
    current: dict[str, frozenset[str]] = {}
    existing = set()
    for lake_key in sorted(recorded):
        table = _table_of(lake_key)
        if table not in RECORD_IDS:
            existing.add(lake_key)
            continue
        path = workdir / "current" / f"{len(current)}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            deps.lake.download(lake_key, path)
        except ObjectNotFound:
            continue  # never written (a crash before it), or already deleted
        existing.add(lake_key)
        current[lake_key] = _record_ids(table, path)
    ids = {lake_key: _record_ids(f.table, f.path) for lake_key, f in targets.items()}
    for action, keys in plan_writes(ids, current, stale, existing):
        if action == "delete":
            deps.lake.delete(keys)
        else:
            deps.lake.upload(targets[keys[0]].path, keys[0])
    return stale


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
        stored = metadata.pop("last_modified", None)
        source = SourceObject(key, raw_path, metadata, etag, datetime.fromisoformat(stored) if stored else None)
        output = normalize_object(source, workdir / "out", deps.limits)

        name = source_id(key)
        targets = {object_key(f.table, f.partition, name): f for f in output.files}
        stale = _publish(key, prior, targets, deps, workdir)
        written = {lake_key: f.table for lake_key, f in targets.items()}

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


def unprocessed_objects(
    deps: NormalizeDeps, seen: Callable[[str, dict[str, Any] | None], None] | None = None
) -> Iterator[str]:
    """Raw input objects whose current ETag has not been processed (missed or failed notifications).

    `seen(key, processed_record_or_None)` is called for every listed object (the sweep's trace-gap metric).
    """
    for prefix in INPUT_PREFIXES:
        for obj in deps.raw.list(prefix):
            prior = deps.state.get_processed(obj.key)
            if seen is not None:
                seen(obj.key, prior)
            if not prior or prior.get("etag") != obj.etag:
                yield obj.key


def sweep(deps: NormalizeDeps, has_time_left: Callable[[], bool], now: datetime | None = None) -> dict[str, Any]:
    """The scheduled safety net: normalize what the queue never delivered, while time remains.

    It also emits the trace-gap metrics (services.monitoring), from the processed-object records it reads anyway.
    """
    now = now or datetime.now(UTC)
    arrivals = TraceArrivals()
    done, pending = [], 0
    for key in unprocessed_objects(deps, arrivals.see):
        if not has_time_left():
            pending += 1
            continue
        result = normalize_raw_object(key, deps)
        arrivals.see_normalized(key, result, now)
        done.append(result)
    metrics.add_metric(name="SweepObjects", unit="Count", value=len(done))
    gap = emit_trace_gap(arrivals.newest, now)
    return {
        "mode": "sweep",
        "normalized": len(done),
        "left_for_next_run": pending,
        "trace_gap": gap,
        "results": done,
    }
