"""Use case: turn raw objects into lake objects, exactly once in effect, never a record counted twice.

Order of effects per raw object, chosen so a crash at any point converges on retry and a reader between any two
writes sees each record at most once (a record moving to another partition may be missing for a moment, never
doubled):
1. record the intent: the lake keys this attempt may write, with no ETag, so that a crash leaves the next
   attempt (whatever version of the object it reads) every key to clean up, and never a false "duplicate";
2. delete the outputs an earlier version wrote that this one does not;
3. write the outputs, ordered so that a record leaves its old object before it appears in its new one
   (plan_writes; a cycle of moves is broken by deleting one object first);
4. register new partitions in Glue and mark the touched partitions dirty for aggregate (an object's marks in one
   transaction);
5. record the object as processed (its ETag), which is what makes a redelivery a no-op.

The objects of one SQS batch share the state calls of each step (one read of their processed records, one write
of their intents, one registration per table, one write of their processed records): each object's steps still
come in this order, since a step starts only once the step before has been done for every object of the batch.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodlens.errors import ObjectNotFound
from prodlens.lake import object_key, parse_partition, source_id
from prodlens.models import NormalizeOutput, SourceObject, TableFile
from prodlens.monitoring import TraceArrivals
from prodlens.normalize import Limits
from prodlens.normalize.core import INPUT_PREFIXES, SMALL_OBJECT_BYTES, normalize_objects
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


@dataclass
class _Normalized:
    """One raw object normalized and about to be published: what steps 1-5 of the module docstring need."""

    key: str
    prior: dict[str, Any] | None
    etag: str
    output: NormalizeOutput
    targets: dict[str, TableFile]  # lake key -> local file
    stale: list[str] = field(default_factory=list)

    @property
    def written(self) -> list[str]:
        return sorted(self.targets)

    def intent(self) -> dict[str, Any]:
        """The processed record while the attempt is in flight: outputs so far, every key it may write, no ETag
        or counts (no "duplicate", no rows yet)."""
        outputs = (self.prior or {}).get("outputs", [])
        recorded = set(outputs) | set((self.prior or {}).get("pending", []))
        return {"outputs": sorted(outputs), "pending": sorted(recorded | set(self.targets))}

    def processed(self) -> dict[str, Any]:
        return {
            "etag": self.etag,
            "outputs": self.written,
            "counts": self.output.counts.as_dict(),
            "format": self.output.source_format or "",
        }

    def marks(self) -> dict[str, set[tuple[str, str]]]:
        """The partitions this object's writes and deletes touched, per table (the dirty marks it owes)."""
        touched: dict[str, set[tuple[str, str]]] = {}
        for lake_key in [*self.written, *self.stale]:
            table = _table_of(lake_key)
            if TABLES[table].partition_keys:
                touched.setdefault(table, set()).add(_dirty_partition(table, parse_partition(table, lake_key)))
        return touched

    def partitions(self) -> dict[str, list[dict[str, str]]]:
        """The partitions this object wrote, per table (registered in the catalog)."""
        found: dict[str, list[dict[str, str]]] = {}
        for lake_key in self.written:
            table = _table_of(lake_key)
            if TABLES[table].partition_keys:
                found.setdefault(table, []).append(parse_partition(table, lake_key))
        return found


def _write_outputs(item: _Normalized, deps: NormalizeDeps, workdir: Path) -> None:
    """Steps 2-3 of the module docstring for one source (its intent is recorded): stale deletes, then the puts in
    dependency order. Sets item.stale."""
    recorded = set((item.prior or {}).get("outputs", [])) | set((item.prior or {}).get("pending", []))
    item.stale = sorted(recorded - set(item.targets))
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
    # The record ids of the new objects matter only against records the source's objects hold now: a first
    # delivery (nothing recorded) moves no record, whatever they hold.
    ids = {k: _record_ids(f.table, f.path) if current else frozenset() for k, f in item.targets.items()}
    for action, keys in plan_writes(ids, current, item.stale, existing):
        if action == "delete":
            deps.lake.delete(keys)
        else:
            deps.lake.upload(item.targets[keys[0]].path, keys[0])


def _finish(items: list[_Normalized], deps: NormalizeDeps) -> None:
    """Step 4-5 of the module docstring for sources whose outputs are written: Glue registration (one call per
    table for all of them), the dirty marks, then the processed records. An object's marks are touched together
    (one transaction) when they are several (a record may have moved between them); the marks of objects that
    each touched one partition are merged, one update per distinct partition, after all their writes."""
    partitions: dict[str, list[dict[str, str]]] = {}
    for item in items:
        for table, found in item.partitions().items():
            partitions.setdefault(table, []).extend(found)
    for table in sorted(partitions):
        deps.catalog.register_partitions(table, partitions[table])
    single: set[tuple[str, tuple[str, str]]] = set()
    for item in items:
        marks = item.marks()
        if sum(len(found) for found in marks.values()) == 1:
            single |= {(table, partition) for table, found in marks.items() for partition in found}
            continue
        for table, found in marks.items():
            deps.state.mark_dirty(table, found)
    for table, partition in sorted(single):
        deps.state.mark_dirty(table, [partition])
    if len(items) == 1:
        deps.state.put_processed(items[0].key, items[0].processed())
    elif items:
        deps.state.put_processed_many({item.key: item.processed() for item in items})


def _publish(items: list[_Normalized], deps: NormalizeDeps, workdir: Path, results: dict[str, Any]) -> None:
    """Steps 1-5 of the module docstring for normalized sources, each state step one call for all of them. Should a
    shared call fail, the sources it was for go through the steps again one by one, so that an error stays the
    error of the source that meets it; a failing source's result is its exception."""
    if len(items) > 1:
        try:
            deps.state.put_processed_many({item.key: item.intent() for item in items})
        except Exception:  # noqa: BLE001 - each source on its own
            logger.warning("batched intents failed: each object on its own", objects=len(items), exc_info=True)
            for item in items:
                _publish_alone(item, deps, workdir, results)
            return
    written = []
    for item in items:
        try:
            if len(items) == 1:
                deps.state.put_processed(item.key, item.intent())
            _write_outputs(item, deps, workdir)
        except Exception as exc:  # noqa: BLE001 - this source's error only
            results[item.key] = exc
            continue
        written.append(item)
    error = _error_of(lambda: _finish(written, deps))
    if error is not None and len(written) > 1:
        logger.warning("batched catalog or state writes failed: each object on its own", objects=len(written))
        for item in written:
            own = _error_of(lambda item=item: _finish([item], deps))  # type: ignore[misc]
            results[item.key] = own if own is not None else _summary(item)
        return
    for item in written:
        results[item.key] = error if error is not None else _summary(item)


def _error_of(step: Callable[[], None]) -> Exception | None:
    try:
        step()
    except Exception as exc:  # noqa: BLE001 - returned to the caller, which reports it as the object's failure
        return exc
    return None


def _publish_alone(item: _Normalized, deps: NormalizeDeps, workdir: Path, results: dict[str, Any]) -> None:
    def steps() -> None:
        deps.state.put_processed(item.key, item.intent())
        _write_outputs(item, deps, workdir)
        _finish([item], deps)

    error = _error_of(steps)
    results[item.key] = error if error is not None else _summary(item)


def _summary(item: _Normalized) -> dict[str, Any]:
    counts = item.output.counts.as_dict()
    for metric, value in (
        ("RowsWritten", counts["rows"]),
        ("DeadLetters", counts["dead_letters"]),
        ("RecordsSkipped", counts["skipped"]),
    ):
        metrics.add_metric(name=metric, unit="Count", value=value)
    metrics.add_metric(name="ObjectsNormalized", unit="Count", value=1)
    logger.info(
        "normalized object",
        source_key=item.key,
        source_format=item.output.source_format,
        **counts,
        outputs=len(item.targets),
        stale_deleted=len(item.stale),
    )
    return {
        "key": item.key,
        "status": "normalized",
        "format": item.output.source_format,
        "counts": counts,
        "outputs": len(item.targets),
        "skipped_reason": item.output.skipped_reason,
    }


def _vanished(key: str) -> dict[str, Any]:
    # Deleted after the event was sent: there is nothing left to read, and nothing was lost by us.
    logger.warning("raw object vanished before it was read", source_key=key)
    return {"key": key, "status": "missing"}


def _duplicate(key: str, prior: dict[str, Any]) -> dict[str, Any]:
    metrics.add_metric(name="DuplicateDeliveries", unit="Count", value=1)
    return {"key": key, "status": "duplicate", "counts": prior.get("counts", {})}


def _priors(keys: list[str], deps: NormalizeDeps, results: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """The processed records of `keys`: one read for all of them, else one each (a key whose read fails gets its
    error as result)."""
    if len(keys) > 1:
        try:
            return deps.state.get_processed_many(keys)
        except Exception:  # noqa: BLE001 - each key on its own
            logger.warning("batched read of processed records failed: each object on its own", exc_info=True)
    priors = {}
    for key in keys:
        try:
            priors[key] = deps.state.get_processed(key)
        except Exception as exc:  # noqa: BLE001 - this key's error only
            results[key] = exc
    return priors


# A raw object larger than this is normalized and published before the next one is read (its outputs may be
# large: the objects of a batch are not all kept on local disk at once); smaller ones are normalized together.
ALONE_BYTES = SMALL_OBJECT_BYTES


def normalize_raw_objects(keys: list[str], deps: NormalizeDeps) -> dict[str, Any]:
    """Normalize raw objects `keys` (URL-decoded; an SQS batch's). Returns, per key, its summary or the exception
    that stopped it: an infrastructure error fails only the objects it is met for, whose records the queue then
    delivers again.

    A redelivery is recognised from the ETag alone: the object is read with a conditional GET that returns nothing
    when its ETag is the one recorded as processed. Small objects (LiteLLM's one per request) are normalized
    together (normalize.normalize_objects), and the state writes of the batch are batched too: one read of the
    processed records, one write of the intents, one catalog registration per table, one processed-records write."""
    results: dict[str, Any] = {}
    inputs = []
    for key in dict.fromkeys(keys):
        if key.startswith(INPUT_PREFIXES):
            inputs.append(key)
        else:
            results[key] = {"key": key, "status": "ignored"}
    priors = _priors(inputs, deps, results)
    with tempfile.TemporaryDirectory(prefix="prodlens-") as tmp:
        workdir = Path(tmp)
        (workdir / "raw").mkdir()
        small: list[tuple[str, SourceObject]] = []
        for n, key in enumerate(k for k in inputs if k in priors):
            try:
                source = _fetch(key, priors[key], deps, workdir / "raw" / str(n), results)
            except Exception as exc:  # noqa: BLE001 - this key's error only
                results[key] = exc
                continue
            if source is None:
                continue
            if source.path.stat().st_size > ALONE_BYTES:
                _normalize_and_publish([(key, source)], priors, deps, workdir / "alone" / str(n), results)
                shutil.rmtree(workdir / "alone" / str(n), ignore_errors=True)
                source.path.unlink(missing_ok=True)
            else:
                small.append((key, source))
        if small:
            _normalize_and_publish(small, priors, deps, workdir / "small", results)
    return results


def _fetch(
    key: str, prior: dict[str, Any] | None, deps: NormalizeDeps, raw_path: Path, results: dict[str, Any]
) -> SourceObject | None:
    """The raw object as a local file, unless it vanished or its ETag is the one recorded as processed (then its
    result is set and None returned)."""
    processed_etag = (prior or {}).get("etag") or None
    try:
        metadata = deps.raw.download(key, raw_path, unless_etag=processed_etag)
    except ObjectNotFound:
        results[key] = _vanished(key)
        return None
    if metadata is None:
        results[key] = _duplicate(key, prior or {})
        return None
    etag = metadata.pop("etag", "")  # the version actually read
    if prior and processed_etag == etag:  # a store that cannot answer the condition
        raw_path.unlink(missing_ok=True)
        results[key] = _duplicate(key, prior)
        return None
    stored = metadata.pop("last_modified", None)
    return SourceObject(key, raw_path, metadata, etag, datetime.fromisoformat(stored) if stored else None)


def _normalize_and_publish(
    objects: list[tuple[str, SourceObject]],
    priors: dict[str, dict[str, Any] | None],
    deps: NormalizeDeps,
    workdir: Path,
    results: dict[str, Any],
) -> None:
    outputs = normalize_objects([source for _, source in objects], workdir / "out", deps.limits)
    items = []
    for (key, source), output in zip(objects, outputs, strict=True):
        if isinstance(output, Exception):
            results[key] = output
            continue
        name = source_id(key)
        targets = {object_key(f.table, f.partition, name): f for f in output.files}
        items.append(_Normalized(key, priors[key], source.etag, output, targets))
    _publish(items, deps, workdir, results)


def normalize_raw_object(key: str, deps: NormalizeDeps) -> dict[str, Any]:
    """Normalize raw object `key` (already URL-decoded). Returns a summary; infrastructure errors propagate."""
    result = normalize_raw_objects([key], deps)[key]
    if isinstance(result, Exception):
        raise result
    return result


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
