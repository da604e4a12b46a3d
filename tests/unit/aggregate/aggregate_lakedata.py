"""Test helpers for aggregate: staging Parquet written directly with DuckDB, and in-memory port fakes."""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from prodlens.errors import CheckpointConflict, ObjectNotFound
from prodlens.lake import object_key
from prodlens.ports import DirtyPartition, StoredObject
from prodlens.schema import TABLES, Table

TRACE_DEFAULTS: dict[str, Any] = {
    "record_id": None,
    "source_format": "seed",
    "source_key": "traces/x.jsonl",
    "session_id": None,
    "developer_id": None,
    "model": "m",
    "ts": None,
    "tokens_in": 0,
    "tokens_out": 0,
    "cache_read_tokens": 0,
    "cache_write_tokens": 0,
    "total_tokens": 0,
    "latency_ms": None,
    "status_code": 200,
    "is_error": False,
    "accepted_flag": None,
    "accepted_lines": None,
    "diff_ratio": None,
    "cost_usd": None,
    "cost_source": "unpriced",
    "git_branch": None,
}


def write_parquet(path: Path, table: Table, rows: Sequence[dict[str, Any]], drop: Iterable[str] = ()) -> Path:
    """Write `rows` as a Parquet file of `table`'s data columns (minus `drop`, to imitate an older schema)."""
    dropped = set(drop)
    columns = {k: v for k, v in table.duckdb_columns().items() if k not in dropped}
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _writer()
    con.execute("CREATE OR REPLACE TEMP TABLE t (" + ", ".join(f'"{k}" {v}' for k, v in columns.items()) + ")")
    if rows:
        con.executemany(
            f"INSERT INTO t VALUES ({', '.join('?' * len(columns))})", [[r.get(c) for c in columns] for r in rows]
        )
    quoted = str(path).replace("'", "''")
    con.execute(f"COPY t TO '{quoted}' (FORMAT parquet)")
    return path


_WRITER: list[duckdb.DuckDBPyConnection] = []


def _writer() -> duckdb.DuckDBPyConnection:
    """One shared connection for writing test files (a connection costs ~10 ms; tests write hundreds of files)."""
    if not _WRITER:
        _WRITER.append(duckdb.connect())
        _WRITER[0].execute("SET threads = 1")
    return _WRITER[0]


def read_parquet(path: Path) -> list[dict[str, Any]]:
    cur = _writer().execute("SELECT * FROM read_parquet(?, hive_partitioning = false)", [str(path)])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def trace(**values: Any) -> dict[str, Any]:
    row = {**TRACE_DEFAULTS, **values}
    if row["record_id"] is None:
        row["record_id"] = hashlib.sha1(repr(sorted(values.items(), key=str)).encode()).hexdigest()
    return row


class LocalDirStore:
    """ObjectStore over a local directory (keys are relative paths); counts GETs like the S3 adapter."""

    def __init__(self, root: Path, bucket: str = "lake") -> None:
        self.root = root
        self.bucket = bucket
        self.get_count = 0
        root.mkdir(parents=True, exist_ok=True)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix.rpartition("/")[0]
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield StoredObject(key, path.stat().st_size, str(path.stat().st_mtime_ns))

    def download(self, key: str, path: Path, unless_etag: str | None = None) -> dict[str, str] | None:
        src = self.root / key
        if not src.is_file():
            raise ObjectNotFound(key)
        if unless_etag is not None and self.head(key).etag == unless_etag:  # type: ignore[union-attr]
            return None
        self.get_count += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)
        return {}

    def head(self, key: str) -> StoredObject | None:
        src = self.root / key
        if not src.is_file():
            return None
        return StoredObject(key, src.stat().st_size, hashlib.md5(src.read_bytes()).hexdigest())  # noqa: S324 - as S3

    def upload(self, path: Path, key: str) -> None:
        dst = self.root / key
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(dst)  # atomic like an S3 PUT

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        dst = self.root / key
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(body)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)


class FakeStateStore:
    """In-memory StateStore with the DynamoDB adapter's conditional semantics."""

    def __init__(self) -> None:
        self.dirty_items: dict[tuple[str, str, str], int] = {}
        self.checkpoints: dict[tuple[str, str], dict[str, Any]] = {}
        self.processed: dict[str, dict[str, Any]] = {}
        self.on_dirty_read: Any = None  # hook: runs after dirty() returns, to simulate a concurrent touch

    def get_processed(self, source_key: str) -> dict[str, Any] | None:
        return self.processed.get(source_key)

    def put_processed(self, source_key: str, record: dict[str, Any]) -> None:
        self.processed[source_key] = record

    def get_processed_many(self, source_keys: list[str]) -> dict[str, dict[str, Any] | None]:
        return {key: self.processed.get(key) for key in source_keys}

    def put_processed_many(self, records: dict[str, dict[str, Any]]) -> None:
        self.processed.update(records)

    def mark_dirty(self, table: str, partitions: Iterable[tuple[str, str]]) -> None:
        for event_date, repo in set(partitions):
            key = (table, event_date, repo)
            self.dirty_items[key] = self.dirty_items.get(key, 0) + 1

    def dirty(self, table: str) -> list[DirtyPartition]:
        marks = [DirtyPartition(t, d, r, v) for (t, d, r), v in sorted(self.dirty_items.items()) if t == table]
        return marks

    def clear_dirty(self, partition: DirtyPartition) -> bool:
        key = (partition.table, partition.event_date, partition.repo)
        if self.dirty_items.get(key) != partition.version:
            return False
        del self.dirty_items[key]
        return True

    def get_checkpoint(self, job: str, scope: str) -> dict[str, Any] | None:
        return self.checkpoints.get((job, scope))

    def put_checkpoint(self, job: str, scope: str, value: dict[str, Any], expected_version: int | None) -> int:
        current = self.checkpoints.get((job, scope))
        if (current["version"] if current else None) != expected_version:
            raise CheckpointConflict(f"{job}/{scope}")
        version = (expected_version or 0) + 1
        self.checkpoints[(job, scope)] = {"value": value, "version": version, "updated_at": datetime.now().isoformat()}
        return version


class FakeCatalog:
    def __init__(self) -> None:
        self.partitions: dict[str, set[tuple[str, ...]]] = {}

    def register_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        keys = TABLES[table].partition_keys
        known = self.partitions.setdefault(table, set())
        new = {tuple(p[k] for k in keys) for p in partitions} - known
        known |= new
        return len(new)

    def deregister_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        keys = TABLES[table].partition_keys
        known = self.partitions.setdefault(table, set())
        gone = {tuple(p[k] for k in keys) for p in partitions} & known
        known -= gone
        return len(gone)


def put_staging(
    store: Any,
    state: Any,
    tmp: Path,
    table: str,
    partition: dict[str, str],
    name: str,
    rows: Sequence[dict[str, Any]],
    drop: Iterable[str] = (),
) -> str:
    """What normalize does for one source object: write `<name>.parquet` into the partition, then mark it dirty."""
    key = object_key(table, partition, name)
    local = write_parquet(tmp / "staging" / key, TABLES[table], rows, drop)
    store.upload(local, key)
    state.mark_dirty(table, [(partition.get("event_date", ""), partition["repo"])])
    return key


DERIVED = ("daily_session_metrics", "daily_github_metrics", "pull_requests", "commits")
DAYS = [f"2026-05-0{i}" for i in range(1, 7)]
REPOS = ("acme/api", "acme/web")

# (table, partition, object name, rows): one staging object as normalize writes it.
Delivery = tuple[str, dict[str, str], str, list[dict[str, Any]]]


def _dt(day: str, minutes: int) -> datetime:
    return datetime.fromisoformat(day) + timedelta(minutes=minutes)


def scenario(seed: int = 7) -> list[Delivery]:
    """Staging deliveries as normalize would write them, oldest first."""
    rng = random.Random(seed)
    out: list[Delivery] = []
    for day in DAYS:
        for repo in REPOS:
            out += _trace_deliveries(rng, day, repo)
    for repo in REPOS:
        out += _pull_deliveries(rng, repo)
        out += _event_deliveries(repo)
        for day in DAYS:
            out += _commit_deliveries(rng, day, repo)
    return out


def _trace_deliveries(rng: random.Random, day: str, repo: str) -> list[Delivery]:
    out: list[Delivery] = []
    for source in range(rng.randint(1, 3)):
        rows = [_random_trace(rng, day, f"{day}{repo}{source}{i}", i) for i in range(rng.randint(1, 25))]
        out.append(("traces", {"event_date": day, "repo": repo}, f"src-{day}-{repo[-3:]}-{source}", rows))
    return out


def _random_trace(rng: random.Random, day: str, record_id: str, i: int) -> dict[str, Any]:
    tin, tout = rng.randint(0, 900), rng.randint(0, 300)
    return trace(
        record_id=record_id,
        session_id=rng.choice(["s1", "s2", None, f"s{i}"]),
        developer_id=rng.choice(["ann", "bo", None]),
        ts=_dt(day, rng.randint(0, 1439)),
        tokens_in=tin,
        tokens_out=tout,
        total_tokens=tin + tout,
        latency_ms=rng.choice([None, rng.uniform(10, 5000)]),
        accepted_flag=rng.choice([None, True, False]),
        accepted_lines=rng.randint(0, 9),
        cost_usd=rng.uniform(0, 0.1),
        is_error=rng.random() < 0.1,
    )


def _pull_deliveries(rng: random.Random, repo: str) -> list[Delivery]:
    """Eleven PRs, most of them merged later (a second version), shuffled over four pages."""
    versions = []
    for n in range(1, 12):
        created = _dt(rng.choice(DAYS), rng.randint(0, 1439))
        versions.append(
            {
                "pr_id": n,
                "pr_number": n,
                "state": "open",
                "author": "ann",
                "created_at": created,
                "updated_at": created,
                "closed_at": None,
                "merged_at": None,
                "source_key": "p",
            }
        )
        if rng.random() < 0.7:
            merged = created + timedelta(minutes=rng.randint(5, 3000))
            versions.append(
                {**versions[-1], "state": "closed", "updated_at": merged, "closed_at": merged, "merged_at": merged}
            )
    rng.shuffle(versions)
    return [("github_pulls", {"repo": repo}, f"pulls-{repo[-3:]}-{page}", versions[page::4]) for page in range(4)]


def _event_deliveries(repo: str) -> list[Delivery]:
    """Reopen events in two overlapping objects (one event delivered twice)."""
    events = [
        {"event_id": 100 + n, "event": "reopened", "pr_number": n, "created_at": _dt(DAYS[0], n), "source_key": "e"}
        for n in range(1, 12, 3)
    ]
    return [
        ("github_issue_events", {"repo": repo}, f"events-{repo[-3:]}-0", events[:2]),
        ("github_issue_events", {"repo": repo}, f"events-{repo[-3:]}-1", events[1:]),
    ]


def _commit_deliveries(rng: random.Random, day: str, repo: str) -> list[Delivery]:
    """A day's commits, the first of them delivered again in a second object."""
    shas = [f"{repo[-3:]}{day}{k}" for k in range(rng.randint(0, 4))]
    rows = [
        {"sha": s, "author": "bo", "author_date": _dt(day, 60), "committer_date": _dt(day, 61), "source_key": "c"}
        for s in shas
    ]
    if not rows:
        return []
    partition = {"event_date": day, "repo": repo}
    return [
        ("github_commits", partition, f"commits-{repo[-3:]}-{day}-a", rows),
        ("github_commits", partition, f"commits-{repo[-3:]}-{day}-b", rows[:1]),
    ]


def deliver(store: Any, state: Any, tmp: Path, deliveries: Sequence[Delivery]) -> None:
    for table, partition, name, rows in deliveries:
        put_staging(store, state, tmp, table, partition, name, rows)


def snapshot(store: Any, tmp: Path) -> dict[str, list[tuple]]:
    """Every derived object's rows, keyed by object key (rows sorted, so object layout is what is compared)."""
    result = {}
    for table in DERIVED:
        for obj in store.list(f"{table}/"):
            local = tmp / "snap" / obj.key
            local.parent.mkdir(parents=True, exist_ok=True)
            store.download(obj.key, local)
            result[obj.key] = sorted(tuple(r.values()) for r in read_parquet(local))
    return result
