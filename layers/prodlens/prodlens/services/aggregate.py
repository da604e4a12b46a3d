"""Use case: recompute the derived tables for the partitions that changed since the last run.

Inputs are the staging partitions normalize writes (traces, github_pulls, github_issue_events,
github_pull_commits, github_commits). Normalize writes an object first and then marks its (table, event_date,
repo) dirty, so the dirty marks are the work list and the source of truth for "what still needs recomputing". A run:

1. reads the dirty marks (and their versions);
2. rebuilds pull_requests for every dirty GitHub repo and commits for every dirty commits partition,
   and finds the days whose daily_github_metrics can have changed (by comparing the stored pull_requests
   with the rebuilt ones, which are published only after those days: a crash in between must leave the
   next run the same difference to find);
3. recomputes every affected day *from all that day's partitions* and overwrites the day's one object
   (a PUT is atomic: a reader sees the old day or the new day, never a mix);
4. registers new partitions in Glue, and deregisters the partitions it looked at (dirty staging partitions,
   derived partitions it removed) that hold no object any more, race-safely (_deregister_empty);
5. clears each mark only if its version is still the one it read. A mark touched during the run keeps
   its new version and stays dirty. A clear that fails re-marks the partition: the failure means another
   run or a new write interleaved with ours, and our overwrite may be the older one, so the next run
   recomputes it again (an extra recomputation, never a lost one);
6. merges this run into the `aggregate` checkpoint with a conditional write (retried on conflict), so
   overlapping runs cannot move it backwards or drop each other's counts. The checkpoint is for operators;
   correctness never depends on it.

Backfill recomputes every day of a range (and rebuilds every repo's pull_requests) regardless of marks,
listing the partitions under each day's prefix.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from prodlens import aggregate as domain
from prodlens.aggregate import PartitionFile
from prodlens.errors import CheckpointConflict, ObjectNotFound
from prodlens.lake import object_key, parse_partition, partition_prefix, table_prefix
from prodlens.models import TableFile
from prodlens.observability import logger, metrics
from prodlens.people import PEOPLE_KEY, Identity, parse_people
from prodlens.ports import Catalog, DirtyPartition, ObjectStore, StateStore
from prodlens.schema import (
    AI_COMMIT_RECORDS,
    AI_COMMITS,
    COMMITS,
    DAILY_BRANCH_SESSIONS,
    DAILY_DEVELOPER_METRICS,
    DAILY_GITHUB_METRICS,
    DAILY_SESSION_METRICS,
    DEVELOPER_DAILY_USAGE,
    GITHUB_COMMITS,
    GITHUB_ISSUE_EVENTS,
    GITHUB_PULL_COMMITS,
    GITHUB_PULLS,
    PULL_REQUESTS,
    TABLES,
    TRACES,
    USAGE_RECORDS,
)
from prodlens.services.monitoring import emit_recent_daily_costs

JOB = "aggregate"
CHECKPOINT_SCOPE = "last_run"
PEOPLE_SCOPE = "people"  # the version of config/people.json the usage tables were last attributed with
DIRTY_TABLES = (
    TRACES.name,
    GITHUB_PULLS.name,
    GITHUB_ISSUE_EVENTS.name,
    GITHUB_PULL_COMMITS.name,
    GITHUB_COMMITS.name,
    USAGE_RECORDS.name,
    AI_COMMIT_RECORDS.name,
)
DAYS_PER_BATCH = 31  # session days computed per DuckDB pass: bounds /tmp use on a year-long backfill
CHECKPOINT_ATTEMPTS = 8
MAX_DAYS_LISTED = 30  # days named in the checkpoint item (the count is always exact)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}") from e


def date_range(start: str, end: str) -> list[str]:
    """Every day from start to end, both included."""
    first, last = parse_day(start), parse_day(end)
    if last < first:
        raise ValueError(f"backfill end {end} is before start {start}")
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _next_day(day: str) -> str:
    return (parse_day(day) + timedelta(days=1)).isoformat()


def _previous_day(day: str) -> str:
    return (parse_day(day) - timedelta(days=1)).isoformat()


def _is_day(text: str) -> bool:
    """A mark names a real day (a malformed mark is cleared without work rather than blocking the backlog)."""
    try:
        parse_day(text)
    except ValueError:
        logger.warning("dirty mark without a valid day", event_date=text)
        return False
    return True


@dataclass
class _Plan:
    session_days: set[str] = field(default_factory=set)
    github_repos: set[str] = field(default_factory=set)
    commit_partitions: set[tuple[str, str]] = field(default_factory=set)
    github_days: set[str] = field(default_factory=set)
    usage_days: set[str] = field(default_factory=set)
    ai_commit_repos: set[str] = field(default_factory=set)
    marks: list[DirtyPartition] = field(default_factory=list)  # cleared at the end of a successful run


class _Lake:
    """The run's view of the lake: downloads each object at most once into workdir and keeps the counts."""

    def __init__(self, store: ObjectStore, workdir: Path) -> None:
        self.store = store
        self.inputs = workdir / "in"
        self.outputs = workdir / "out"
        self.local: dict[str, Path] = {}
        self.objects_read = 0
        self.partitions_read: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.rows_written = 0
        self.objects_written = 0
        self.registered: dict[str, list[dict[str, str]]] = {}
        self.removed: dict[str, list[dict[str, str]]] = {}  # derived partitions left without rows

    def partition_files(self, table: str, partition: dict[str, str]) -> list[PartitionFile]:
        """Every object of one partition, downloaded."""
        return self.prefix_files(table, partition_prefix(table, partition))

    def prefix_files(self, table: str, prefix: str) -> list[PartitionFile]:
        """Every Parquet object of `table` under `prefix` (a partition or a day), downloaded."""
        files = []
        for obj in self.store.list(prefix):
            if not obj.key.endswith(".parquet"):
                continue
            partition = parse_partition(table, obj.key)
            path = self.fetch(obj.key)
            if path is None:
                continue  # deleted between list and get (a redelivery replacing its outputs): not part of the day
            self.partitions_read.add((table, tuple(sorted(partition.items()))))
            files.append(PartitionFile(path, partition))
        return files

    def fetch(self, key: str) -> Path | None:
        if key in self.local:
            return self.local[key]
        path = self.inputs / key
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.store.download(key, path)
        except ObjectNotFound:
            return None
        self.objects_read += 1
        self.local[key] = path
        return path

    def publish(self, output: TableFile, *, keep: bool = True) -> str:
        """Upload one derived partition object (overwrite) and remember the partition for the catalog.

        keep: later steps of this run read the object from the local file (no GET); otherwise it is deleted.
        """
        key = object_key(output.table, output.partition, domain.OUTPUT_NAME)
        self.store.upload(output.path, key)
        if keep:
            self.local[key] = output.path
        else:
            self.local.pop(key, None)
            output.path.unlink(missing_ok=True)
        self.rows_written += output.rows
        self.objects_written += 1
        self.registered.setdefault(output.table, []).append(output.partition)
        return key

    def remove(self, table: str, partition: dict[str, str]) -> None:
        """The partition has no rows any more: delete its derived object (if any)."""
        key = object_key(table, partition, domain.OUTPUT_NAME)
        self.local.pop(key, None)
        if self.store.head(key) is not None:
            self.store.delete([key])
        self.removed.setdefault(table, []).append(partition)  # even if already gone: a crash may have come between

    def is_empty(self, table: str, partition: dict[str, str]) -> bool:
        """No object under the partition's prefix (one LIST page at most)."""
        return next(iter(self.store.list(partition_prefix(table, partition))), None) is None

    def forget_inputs(self, days: int) -> None:
        """Free /tmp between day batches of a run over more than one batch of `days` (Lambda reuses /tmp across
        invocations). A run of one batch keeps them: daily_developer_metrics reads the same traces and commits."""
        if days <= DAYS_PER_BATCH:
            return
        for key, path in list(self.local.items()):
            if path.is_relative_to(self.inputs):
                path.unlink(missing_ok=True)
                del self.local[key]

    def repos(self, table: str) -> set[str]:
        return {parse_partition(table, o.key)["repo"] for o in self.store.list(table_prefix(table))}

    def days(self, table: str) -> set[str]:
        return {parse_partition(table, o.key)["event_date"] for o in self.store.list(table_prefix(table))}

    def day_partitions(self, table: str, day: str) -> set[tuple[str, str]]:
        prefix = f"{table_prefix(table)}event_date={day}/"
        return {(day, parse_partition(table, o.key)["repo"]) for o in self.store.list(prefix)}


_PR_STAGING = (GITHUB_PULLS.name, GITHUB_ISSUE_EVENTS.name, GITHUB_PULL_COMMITS.name)  # pull_requests' inputs


def _plan(lake: _Lake, marks: dict[str, list[DirtyPartition]], backfill: tuple[str, str] | None) -> _Plan:
    plan = _Plan()
    if backfill is None:
        plan.marks = [m for table in DIRTY_TABLES for m in marks[table]]
        plan.session_days = {m.event_date for m in marks[TRACES.name] if _is_day(m.event_date)}
        plan.github_repos = {m.repo for table in _PR_STAGING for m in marks[table]}
        plan.commit_partitions = {(m.event_date, m.repo) for m in marks[GITHUB_COMMITS.name] if _is_day(m.event_date)}
        # A usage day changed, and so did the next day: a cumulative series' first point there is counted from
        # its last point of the day before (developer_daily_usage).
        usage = {m.event_date for m in marks[USAGE_RECORDS.name] if _is_day(m.event_date)}
        plan.usage_days = usage | {_next_day(day) for day in usage}
        plan.ai_commit_repos = {m.repo for m in marks[AI_COMMIT_RECORDS.name]}
        return plan
    days = date_range(*backfill)
    in_range = set(days)
    plan.session_days = in_range
    plan.github_days = set(in_range)
    plan.usage_days = set(in_range)
    plan.ai_commit_repos = lake.repos(AI_COMMIT_RECORDS.name)
    plan.github_repos = set().union(*(lake.repos(table) for table in _PR_STAGING))
    for day in days:
        plan.commit_partitions |= lake.day_partitions(GITHUB_COMMITS.name, day)
    # Marks the backfill fully covers are cleared too (same version rule); the others stay for the schedule.
    dated = marks[TRACES.name] + marks[GITHUB_COMMITS.name] + marks[USAGE_RECORDS.name]
    plan.marks = [m for m in dated if m.event_date in in_range]
    plan.marks += [m for table in (*_PR_STAGING, AI_COMMIT_RECORDS.name) for m in marks[table]]
    return plan


@dataclass
class _PullRequests:
    """pull_requests rebuilt for some repos, not yet published."""

    repos: set[str] = field(default_factory=set)  # the rebuilt repos
    built: list[TableFile] = field(default_factory=list)
    changed_days: set[str] = field(default_factory=set)  # days whose GitHub metrics can have changed


def _rebuild_pull_requests(lake: _Lake, repos: set[str]) -> _PullRequests:
    """Rebuild pull_requests for `repos` and find the days whose GitHub metrics can have changed.

    Nothing is published here: see _publish_pull_requests for why the days come first.
    """
    if not repos:
        return _PullRequests()
    old, pulls, events, pull_commits = [], [], [], []
    for repo in sorted(repos):
        partition = {"repo": repo}
        old += lake.partition_files(PULL_REQUESTS.name, partition)
        pulls += lake.partition_files(GITHUB_PULLS.name, partition)
        events += lake.partition_files(GITHUB_ISSUE_EVENTS.name, partition)
        pull_commits += lake.partition_files(GITHUB_PULL_COMMITS.name, partition)
    built = domain.pull_requests(pulls, events, pull_commits, lake.outputs)
    days = domain.changed_pr_days(old, [PartitionFile(b.path, b.partition) for b in built], lake.outputs)
    return _PullRequests(set(repos), built, days)


def _publish_pull_requests(lake: _Lake, rebuilt: _PullRequests) -> None:
    """Replace the rebuilt repos' pull_requests objects, *after* the daily_github_metrics of the changed days.

    The changed days are found by comparing the stored objects with the rebuilt ones. Published first, a run
    dying before those days were written would leave the next run nothing to compare (stored == rebuilt):
    the days would never be recomputed. Published last, the stored objects stay the old ones until every
    changed day is written, so a retry finds the same days again.
    """
    for output in rebuilt.built:
        lake.publish(output)
    for repo in sorted(rebuilt.repos - {b.partition["repo"] for b in rebuilt.built}):
        lake.remove(PULL_REQUESTS.name, {"repo": repo})


def _rebuild_commits(lake: _Lake, partitions: set[tuple[str, str]]) -> None:
    staging = []
    for day, repo in sorted(partitions):
        staging += lake.partition_files(GITHUB_COMMITS.name, {"event_date": day, "repo": repo})
    built = domain.commits(staging, lake.outputs)
    for output in built:
        lake.publish(output)
    for day, repo in sorted(partitions - {(b.partition["event_date"], b.partition["repo"]) for b in built}):
        lake.remove(COMMITS.name, {"event_date": day, "repo": repo})


def _recompute_github_days(lake: _Lake, days: set[str], rebuilt: _PullRequests) -> list[TableFile]:
    """daily_github_metrics of `days`, with the rebuilt (still unpublished) pull_requests of rebuilt.repos."""
    if not days:
        return []
    commit_files = _day_files(lake, COMMITS.name, days)
    outputs = domain.daily_github_metrics(commit_files, _current_pull_requests(lake, rebuilt), days, lake.outputs)
    _publish_days(lake, DAILY_GITHUB_METRICS.name, days, outputs)
    return outputs


def _day_files(lake: _Lake, table: str, days: Iterable[str]) -> list[PartitionFile]:
    """Every object of `table` (partitioned by event_date first) for `days`."""
    prefix = table_prefix(table)
    return [f for day in sorted(days) for f in lake.prefix_files(table, f"{prefix}event_date={day}/")]


def _current_pull_requests(lake: _Lake, rebuilt: _PullRequests) -> list[PartitionFile]:
    """Every pull_requests partition as this run leaves it: the rebuilt (still unpublished) ones, the others stored."""
    stored = lake.prefix_files(PULL_REQUESTS.name, table_prefix(PULL_REQUESTS.name))
    files = [f for f in stored if f.partition["repo"] not in rebuilt.repos]
    return files + [PartitionFile(b.path, b.partition) for b in rebuilt.built]


def _recompute_developer_days(
    lake: _Lake, days: set[str], rebuilt: _PullRequests, people: list[Identity]
) -> list[TableFile]:
    """daily_developer_metrics of `days`: traces, developer_daily_usage (already written by this run) and commits of
    those days, and the pull requests as this run leaves them (before they are published: see
    _publish_pull_requests)."""
    written: list[TableFile] = []
    ordered = sorted(days)
    for start in range(0, len(ordered), DAYS_PER_BATCH):
        batch = ordered[start : start + DAYS_PER_BATCH]
        outputs = domain.daily_developer_metrics(
            _day_files(lake, TRACES.name, batch),
            _day_files(lake, DEVELOPER_DAILY_USAGE.name, batch),
            _day_files(lake, COMMITS.name, batch),
            _current_pull_requests(lake, rebuilt),
            batch,
            lake.outputs,
            people,
        )
        _publish_days(lake, DAILY_DEVELOPER_METRICS.name, set(batch), outputs)
        written += outputs
        lake.forget_inputs(len(ordered))
    return written


def _recompute_session_days(lake: _Lake, days: set[str]) -> list[TableFile]:
    written: list[TableFile] = []
    ordered = sorted(days)
    for start in range(0, len(ordered), DAYS_PER_BATCH):
        batch = ordered[start : start + DAYS_PER_BATCH]
        traces = _day_files(lake, TRACES.name, batch)
        outputs = domain.daily_session_metrics(traces, batch, lake.outputs)
        _publish_days(lake, DAILY_SESSION_METRICS.name, set(batch), outputs)
        _publish_days(
            lake, DAILY_BRANCH_SESSIONS.name, set(batch), domain.daily_branch_sessions(traces, batch, lake.outputs)
        )
        written += outputs
        lake.forget_inputs(len(ordered))
    return written


@dataclass(frozen=True)
class _People:
    """config/people.json as this run read it: its identities and its version (ETag; "" when there is none)."""

    identities: list[Identity]
    version: str
    changed: bool  # not the version the usage tables were last attributed with: re-attribute every day


def _read_people(config: ObjectStore | None, state: StateStore, workdir: Path) -> _People:
    stored = ((state.get_checkpoint(JOB, PEOPLE_SCOPE) or {}).get("value") or {}).get("version", "")
    head = config.head(PEOPLE_KEY) if config is not None else None
    if head is None:
        return _People([], "", stored != "")
    path = workdir / "people.json"
    config.download(PEOPLE_KEY, path)  # type: ignore[union-attr]
    return _People(parse_people(path.read_bytes()), head.etag, stored != head.etag)


def _record_people(state: StateStore, people: _People) -> None:
    item = state.get_checkpoint(JOB, PEOPLE_SCOPE)
    version = (item or {}).get("version")
    try:
        state.put_checkpoint(JOB, PEOPLE_SCOPE, {"version": people.version}, int(version) if version else None)
    except CheckpointConflict:  # an overlapping run recorded it; ours re-attributed with the same or older file
        logger.info("people version recorded by an overlapping run")


def _recompute_usage_days(lake: _Lake, days: set[str], people: list[Identity]) -> list[TableFile]:
    """developer_daily_usage of `days`, each from its usage_records and those of the day before."""
    written: list[TableFile] = []
    ordered = sorted(days)
    for start in range(0, len(ordered), DAYS_PER_BATCH):
        batch = ordered[start : start + DAYS_PER_BATCH]
        read = set(batch) | {_previous_day(day) for day in batch}
        usage = _day_files(lake, USAGE_RECORDS.name, read)
        outputs = domain.developer_daily_usage(usage, batch, lake.outputs, people)
        _publish_days(lake, DEVELOPER_DAILY_USAGE.name, set(batch), outputs)
        written += outputs
        lake.forget_inputs(len(ordered))
    return written


def _rebuild_ai_commits(lake: _Lake, repos: set[str]) -> list[TableFile]:
    staging = [f for repo in sorted(repos) for f in lake.partition_files(AI_COMMIT_RECORDS.name, {"repo": repo})]
    built = domain.ai_commits(staging, lake.outputs) if staging else []
    for output in built:
        lake.publish(output, keep=False)
    for repo in sorted(repos - {b.partition["repo"] for b in built}):
        lake.remove(AI_COMMITS.name, {"repo": repo})
    return built


def _publish_days(lake: _Lake, table: str, days: set[str], outputs: list[TableFile]) -> None:
    for output in outputs:
        lake.publish(output, keep=False)
    for day in sorted(days - {o.partition["event_date"] for o in outputs}):
        lake.remove(table, {"event_date": day})


def _mark_partition(mark: DirtyPartition) -> dict[str, str] | None:
    """The staging partition a dirty mark names (None for a malformed mark); the mark's `repo` holds the
    table's partition key other than event_date (the tool, for usage_records)."""
    keys = TABLES[mark.table].partition_keys
    values = {"event_date": mark.event_date, **{k: mark.repo for k in keys if k != "event_date"}}
    if not mark.repo or ("event_date" in keys and not _is_day(mark.event_date)):
        return None
    return {k: values[k] for k in keys}


def _deregister_empty(lake: _Lake, catalog: Catalog, plan: _Plan) -> int:
    """Remove from the catalog the partitions this run looked at that hold no object; returns how many.

    Candidates: the dirty staging partitions (a redelivery may have moved every row out of one) and the derived
    partitions this run removed. Race-safe against a writer that puts an object and then registers its partition
    (normalize, an overlapping aggregate run): an empty partition is deregistered, then listed again, and
    registered again if it was filled in between. A writer that registered before the deletion had put its
    object before the second listing, which sees it; one that registers after the deletion re-creates the
    partition itself. Either way a partition with objects stays registered.
    """
    candidates: dict[str, dict[tuple[tuple[str, str], ...], dict[str, str]]] = {}
    for mark in plan.marks:
        partition = _mark_partition(mark)
        if partition is not None:
            candidates.setdefault(mark.table, {})[tuple(sorted(partition.items()))] = partition
    for table, partitions in lake.removed.items():
        for partition in partitions:
            candidates.setdefault(table, {})[tuple(sorted(partition.items()))] = partition
    deregistered = 0
    for table in sorted(candidates):
        empty = [p for _, p in sorted(candidates[table].items()) if lake.is_empty(table, p)]
        if not empty:
            continue
        deregistered += catalog.deregister_partitions(table, empty)
        refilled = [p for p in empty if not lake.is_empty(table, p)]
        if refilled:
            logger.info("partition filled while it was deregistered; registered again", table=table, n=len(refilled))
            catalog.register_partitions(table, refilled)
    return deregistered


def _clear_marks(state: StateStore, marks: Iterable[DirtyPartition]) -> tuple[int, int]:
    cleared = kept = 0
    for mark in marks:
        if state.clear_dirty(mark):
            cleared += 1
        else:
            # Touched or cleared by someone else since we read it: make sure a later run recomputes it.
            state.mark_dirty(mark.table, [(mark.event_date, mark.repo)])
            kept += 1
    return cleared, kept


def _write_checkpoint(state: StateStore, run: dict[str, Any]) -> dict[str, Any]:
    """Merge this run into the checkpoint item; conditional on the version read, retried on conflict."""
    for _ in range(CHECKPOINT_ATTEMPTS):
        item = state.get_checkpoint(JOB, CHECKPOINT_SCOPE)
        current = (item or {}).get("value") or {}
        version = (item or {}).get("version")
        last_run_at = max(filter(None, [current.get("last_run_at"), run["run_at"]]))
        value = {
            "last_run_at": last_run_at,
            # An overlapping run that started later keeps its place as "last run": the time never goes back.
            "last_run": run if run["run_at"] >= (current.get("last_run_at") or "") else current.get("last_run"),
            "runs": int(current.get("runs", 0)) + 1,
            "days_recomputed_total": int(current.get("days_recomputed_total", 0)) + run["days_recomputed"],
            "rows_written_total": int(current.get("rows_written_total", 0)) + run["rows_written"],
        }
        try:
            state.put_checkpoint(JOB, CHECKPOINT_SCOPE, value, int(version) if version is not None else None)
            return value
        except CheckpointConflict:
            logger.info("checkpoint moved by an overlapping run; merging again", expected_version=version)
    raise CheckpointConflict(f"checkpoint {JOB}/{CHECKPOINT_SCOPE}: {CHECKPOINT_ATTEMPTS} conflicting writes in a row")


def run_aggregate(
    store: ObjectStore,
    state: StateStore,
    catalog: Catalog,
    workdir: Path,
    *,
    backfill: tuple[str, str] | None = None,
    now: datetime,
    config: ObjectStore | None = None,
) -> dict[str, Any]:
    """Recompute the derived tables for the dirty partitions (or every day of `backfill`); returns a summary.

    `config` is the raw bucket, where config/people.json lives: when it changed since the usage tables were last
    built, every usage day is rebuilt (re-attributed) in this run. An invalid file fails the run
    (InvalidPeopleConfig) before anything is written."""
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    workdir.mkdir(parents=True, exist_ok=True)
    lake = _Lake(store, workdir)
    people = _read_people(config, state, workdir)
    marks = {table: state.dirty(table) for table in DIRTY_TABLES}
    plan = _plan(lake, marks, backfill)
    if people.changed:
        plan.usage_days |= lake.days(USAGE_RECORDS.name)
    logger.info(
        "aggregate plan",
        mode="backfill" if backfill else "incremental",
        dirty={t: len(m) for t, m in marks.items()},
        session_days=len(plan.session_days),
        github_repos=len(plan.github_repos),
        commit_partitions=len(plan.commit_partitions),
        usage_days=len(plan.usage_days),
        ai_commit_repos=len(plan.ai_commit_repos),
    )
    try:
        rebuilt = _rebuild_pull_requests(lake, plan.github_repos)
        plan.github_days |= rebuilt.changed_days
        _rebuild_commits(lake, plan.commit_partitions)
        plan.github_days |= {day for day, _ in plan.commit_partitions}
        github_outputs = _recompute_github_days(lake, plan.github_days, rebuilt)
        session_outputs = _recompute_session_days(lake, plan.session_days)
        usage_outputs = _recompute_usage_days(lake, plan.usage_days, people.identities)
        ai_commit_outputs = _rebuild_ai_commits(lake, plan.ai_commit_repos)
        developer_days = plan.session_days | plan.github_days | plan.usage_days
        if people.changed:  # re-attribute every day that has data
            developer_days |= lake.days(DAILY_SESSION_METRICS.name) | lake.days(DAILY_GITHUB_METRICS.name)
        developer_outputs = _recompute_developer_days(lake, developer_days, rebuilt, people.identities)
        _publish_pull_requests(lake, rebuilt)
        created = {table: catalog.register_partitions(table, parts) for table, parts in lake.registered.items()}
        deregistered = _deregister_empty(lake, catalog, plan)
    finally:
        shutil.rmtree(workdir / "in", ignore_errors=True)
        shutil.rmtree(workdir / "out", ignore_errors=True)
    cleared, kept = _clear_marks(state, plan.marks)
    if people.changed:
        _record_people(state, people)

    days = sorted(plan.session_days | plan.github_days | plan.usage_days)
    run = {
        "mode": "backfill" if backfill else "incremental",
        "backfill": list(backfill) if backfill else None,
        "run_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "days_recomputed": len(days),
        "days": days[:MAX_DAYS_LISTED],
        "session_days": len(plan.session_days),
        "session_rows": sum(o.rows for o in session_outputs),
        "github_days": len(plan.github_days),
        "github_rows": sum(o.rows for o in github_outputs),
        "pull_request_repos": len(plan.github_repos),
        "commit_partitions": len(plan.commit_partitions),
        "usage_days": len(plan.usage_days),
        "usage_rows": sum(o.rows for o in usage_outputs),
        "people_reattributed": people.changed,
        "developer_days": len(developer_days),
        "developer_rows": sum(o.rows for o in developer_outputs),
        "ai_commit_repos": len(plan.ai_commit_repos),
        "ai_commit_rows": sum(o.rows for o in ai_commit_outputs),
        "rows_written": lake.rows_written,
        "objects_written": lake.objects_written,
        "objects_read": lake.objects_read,
        "partitions_read": len(lake.partitions_read),
        "partitions_registered": created,
        "partitions_deregistered": deregistered,
        "dirty_cleared": cleared,
        "dirty_kept": kept,
        "wall_seconds": round(time.perf_counter() - started_wall, 3),
        "cpu_seconds": round(time.process_time() - started_cpu, 3),
    }
    checkpoint = _write_checkpoint(state, run)
    metrics.add_metric(name="DaysRecomputed", unit=MetricUnit.Count, value=run["days_recomputed"])
    # Not RowsWritten: that name (same namespace and service dimension) is normalize's, in the dead-letter share.
    metrics.add_metric(name="DerivedRowsWritten", unit=MetricUnit.Count, value=run["rows_written"])
    metrics.add_metric(name="PartitionsRead", unit=MetricUnit.Count, value=run["partitions_read"])
    metrics.add_metric(name="ObjectsRead", unit=MetricUnit.Count, value=run["objects_read"])
    logger.info("aggregate finished", **{k: v for k, v in run.items() if k != "days"})
    daily_cost = emit_recent_daily_costs(store, workdir, now)  # the cost alarm's metrics (services.monitoring)
    return {
        **run,
        "checkpoint": {"runs": checkpoint["runs"], "last_run_at": checkpoint["last_run_at"]},
        "daily_cost": daily_cost,
    }


def run_backfill(
    store: ObjectStore,
    state: StateStore,
    catalog: Catalog,
    workdir: Path,
    start: str,
    end: str,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Recompute every day from start to end (YYYY-MM-DD, both included)."""
    date_range(start, end)  # validate before touching anything
    return run_aggregate(store, state, catalog, workdir, backfill=(start, end), now=now or datetime.now(UTC))


def parse_event(event: dict[str, Any]) -> tuple[str, str] | None:
    """The backfill range of an aggregate event, or None for the scheduled (incremental) run."""
    job = event.get("job", JOB)
    if job != JOB:
        raise ValueError(f"not an aggregate event: job={job!r}")
    backfill = event.get("backfill")
    if not backfill:
        return None
    start, end = str(backfill["start"]), str(backfill["end"])
    date_range(start, end)
    return start, end


def status(state: StateStore, store: ObjectStore) -> dict[str, Any]:
    """What `prodlens status` prints: the last run, partitions per lake table, the objects in a partition (max and
    mean: what Athena opens to read one), and the dirty backlog."""
    item = state.get_checkpoint(JOB, CHECKPOINT_SCOPE) or {}
    value = item.get("value") or {}
    last = value.get("last_run") or {}
    partitions: dict[str, int] = {}
    per_partition: dict[str, dict[str, float]] = {}
    for name, table in TABLES.items():
        objects: dict[tuple, int] = {}
        for obj in store.list(table_prefix(name)):
            if not obj.key.endswith(".parquet"):
                continue
            try:
                partition = tuple(sorted(parse_partition(name, obj.key).items())) if table.partition_keys else ()
            except ValueError:
                continue
            objects[partition] = objects.get(partition, 0) + 1
        partitions[name] = len(objects)
        # What Athena opens to read one partition: many small objects per partition cost time and requests.
        counts = list(objects.values())
        per_partition[name] = {
            "max": max(counts, default=0),
            "mean": round(sum(counts) / len(counts), 2) if counts else 0.0,
        }
    backlog = {table: len(state.dirty(table)) for table in DIRTY_TABLES}
    return {
        "last_run_at": value.get("last_run_at"),
        "last_run_mode": last.get("mode"),
        "days_recomputed": last.get("days_recomputed", 0),
        "rows_written": last.get("rows_written", 0),
        "runs": value.get("runs", 0),
        "days_recomputed_total": value.get("days_recomputed_total", 0),
        "rows_written_total": value.get("rows_written_total", 0),
        "checkpoint_version": item.get("version"),
        "partitions": partitions,
        "objects_per_partition": per_partition,
        "dirty_backlog": backlog,
        "dirty_backlog_total": sum(backlog.values()),
    }
