"""Aggregate cost follows the change: a year-long lake, then one new day, then a full-year backfill.

    .venv/bin/python bench/bench_aggregate.py                 # ~1M trace rows over 365 days, 3 repos
    BENCH_QUICK=1 .venv/bin/python bench/bench_aggregate.py   # CI: 30 days, ~30k rows
    BENCH_BACKEND=moto ...                                    # S3 under moto (S3ObjectStore) instead of a local dir

The lake goes through the ObjectStore port (a local directory by default, counting GETs like the S3
adapter). Staging objects are written as normalize writes them: one object per source per (day, repo),
each partition marked dirty. Prints, for each phase: S3 GETs, objects and partitions read, days
recomputed, rows written, wall and CPU seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "prodlens"))

import duckdb  # noqa: E402
from prodlens.errors import CheckpointConflict, ObjectNotFound  # noqa: E402
from prodlens.lake import object_key, source_id  # noqa: E402
from prodlens.ports import DirtyPartition, StoredObject  # noqa: E402
from prodlens.schema import GITHUB_COMMITS, GITHUB_PULLS  # noqa: E402
from prodlens.services.aggregate import run_aggregate  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
DAYS = 30 if QUICK else 365
ROWS_PER_DAY = 1000 if QUICK else 2740  # x 365 days ~ 1M rows
REPOS = ["acme/api", "acme/web", "acme/infra"]
SOURCES_PER_PARTITION = 3  # raw objects per (day, repo): the small files normalize leaves behind
START = date(2025, 1, 1)


class LocalDirStore:
    """ObjectStore over a local directory; counts GETs."""

    def __init__(self, root: Path) -> None:
        self.root, self.bucket, self.get_count = root, "lake", 0

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix.rpartition("/")[0]
        if base.is_dir():
            for path in sorted(base.rglob("*.parquet")):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield StoredObject(key, path.stat().st_size, "")

    def download(self, key: str, path: Path) -> dict[str, str]:
        if not (self.root / key).is_file():
            raise ObjectNotFound(key)
        self.get_count += 1
        shutil.copyfile(self.root / key, path)
        return {}

    def head(self, key: str) -> StoredObject | None:
        p = self.root / key
        return StoredObject(key, p.stat().st_size, "") if p.is_file() else None

    def upload(self, path: Path, key: str) -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self.root / key)

    def put_bytes(self, key: str, body: bytes, content_type: str = "") -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(body)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)


class MemoryState:
    """StateStore in memory (the DynamoDB adapter's semantics; its latency is not what this measures)."""

    def __init__(self) -> None:
        self.marks: dict[tuple[str, str, str], int] = {}
        self.checkpoints: dict[tuple[str, str], dict[str, Any]] = {}

    def mark_dirty(self, table: str, partitions: Iterable[tuple[str, str]]) -> None:
        for d, r in set(partitions):
            self.marks[(table, d, r)] = self.marks.get((table, d, r), 0) + 1

    def dirty(self, table: str) -> list[DirtyPartition]:
        return [DirtyPartition(t, d, r, v) for (t, d, r), v in self.marks.items() if t == table]

    def clear_dirty(self, p: DirtyPartition) -> bool:
        if self.marks.get((p.table, p.event_date, p.repo)) != p.version:
            return False
        del self.marks[(p.table, p.event_date, p.repo)]
        return True

    def get_checkpoint(self, job: str, scope: str) -> dict[str, Any] | None:
        return self.checkpoints.get((job, scope))

    def put_checkpoint(self, job: str, scope: str, value: dict[str, Any], expected_version: int | None) -> int:
        current = self.checkpoints.get((job, scope))
        if (current or {}).get("version") != expected_version:
            raise CheckpointConflict(job)
        self.checkpoints[(job, scope)] = {"value": value, "version": (expected_version or 0) + 1}
        return (expected_version or 0) + 1


class NullCatalog:
    def register_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        return len(list(partitions))

    def deregister_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        return len(list(partitions))


def _write_traces(con: duckdb.DuckDBPyConnection, tmp: Path, first_day: int, days: int, rows_per_day: int) -> Path:
    """Synthetic traces for `days` days, written by DuckDB partitioned by (day, repo, source)."""
    out = tmp / f"gen-{first_day}"
    con.execute(f"""
        COPY (
            SELECT
                (DATE '{START}' + CAST(d AS INTEGER))::VARCHAR AS day, (i % {len(REPOS)}) AS repo_idx,
                (i // {len(REPOS)}) % {SOURCES_PER_PARTITION} AS src,
                md5(d::VARCHAR || '-' || i::VARCHAR) AS record_id, 'seed' AS source_format, 'bench' AS source_key,
                'session-' || (hash(d, i // 7) % 400)::VARCHAR AS session_id,
                'dev-' || (hash(i) % 40)::VARCHAR AS developer_id, 'claude-sonnet-4-5' AS model,
                (DATE '{START}' + CAST(d AS INTEGER))::TIMESTAMP + INTERVAL (i % 86400) SECOND AS ts,
                (hash(i, 1) % 5000)::BIGINT AS tokens_in, (hash(i, 2) % 2000)::BIGINT AS tokens_out,
                (hash(i, 3) % 9000)::BIGINT AS cache_read_tokens, (hash(i, 4) % 300)::BIGINT AS cache_write_tokens,
                0::BIGINT AS total_tokens,
                CASE WHEN i % 11 = 0 THEN NULL ELSE (hash(i, 5) % 900000) / 100.0 END AS latency_ms,
                200 AS status_code, i % 50 = 0 AS is_error,
                CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN true ELSE false END AS accepted_flag,
                (hash(i, 6) % 40)::INTEGER AS accepted_lines, 0.5 AS diff_ratio,
                (hash(i, 7) % 10000) / 1e5 AS cost_usd, 'priced' AS cost_source
            FROM range({first_day}, {first_day + days}) AS r(d), range({rows_per_day}) AS s(i)
        ) TO '{out}' (FORMAT parquet, PARTITION_BY (day, repo_idx, src))
    """)
    return out


def _load_generated(store: Any, state: MemoryState, gen: Path, tag: str = "") -> int:
    objects = 0
    marks: set[tuple[str, str]] = set()
    for path in gen.rglob("*.parquet"):
        parts = dict(p.split("=", 1) for p in path.relative_to(gen).parts[:-1])
        day, repo = parts["day"], REPOS[int(parts["repo_idx"])]
        key = object_key(
            "traces", {"event_date": day, "repo": repo}, source_id(f"traces/{tag}{day}/{repo}/{parts['src']}")
        )
        store.upload(path, key)
        marks.add((day, repo))
        objects += 1
    state.mark_dirty("traces", marks)
    return objects


def _write_github(con: duckdb.DuckDBPyConnection, store: Any, state: MemoryState, tmp: Path, days: int) -> None:
    """A PR opened and merged every other day per repo (12 pages per repo) and a commits page per (day, repo)."""
    for r, repo in enumerate(REPOS):
        for page in range(12):
            path = tmp / f"pulls-{r}-{page}.parquet"
            con.execute(f"""
                COPY (SELECT n AS pr_id, n AS pr_number, 'closed' AS state, 'dev' AS author,
                             DATE '{START}' + CAST(n * 2 % {days} AS INTEGER) + INTERVAL 3 HOUR AS created_at,
                             DATE '{START}' + CAST(n * 2 % {days} AS INTEGER) + INTERVAL 30 HOUR AS updated_at,
                             DATE '{START}' + CAST(n * 2 % {days} AS INTEGER) + INTERVAL 30 HOUR AS closed_at,
                             DATE '{START}' + CAST(n * 2 % {days} AS INTEGER) + INTERVAL 30 HOUR AS merged_at,
                             'page' AS source_key
                      FROM range({page}, {days // 2}, 12) AS t(n)) TO '{path}' (FORMAT parquet)""")
            store.upload(path, object_key(GITHUB_PULLS.name, {"repo": repo}, source_id(f"{repo}/pulls/{page}")))
        state.mark_dirty(GITHUB_PULLS.name, [("", repo)])
        for d in range(days):
            day = (START + timedelta(days=d)).isoformat()
            path = tmp / f"commits-{r}-{d}.parquet"
            con.execute(f"""
                COPY (SELECT md5('{repo}' || '{day}' || k::VARCHAR) AS sha, 'dev' AS author,
                             DATE '{day}' + INTERVAL (k) HOUR AS author_date,
                             DATE '{day}' + INTERVAL (k) HOUR AS committer_date,
                             'page' AS source_key FROM range(5) AS t(k)) TO '{path}' (FORMAT parquet)""")
            partition = {"event_date": day, "repo": repo}
            store.upload(path, object_key(GITHUB_COMMITS.name, partition, source_id(f"{repo}/commits/{day}")))
            state.mark_dirty(GITHUB_COMMITS.name, [(day, repo)])


def _phase(name: str, store: Any, state: MemoryState, workdir: Path, **kwargs: Any) -> dict[str, Any]:
    store.get_count = 0
    wall, cpu = time.perf_counter(), time.process_time()
    summary = run_aggregate(store, state, NullCatalog(), workdir, now=datetime.now(UTC), **kwargs)
    result = {
        "phase": name,
        "s3_gets": store.get_count,
        "objects_read": summary["objects_read"],
        "partitions_read": summary["partitions_read"],
        "days_recomputed": summary["days_recomputed"],
        "rows_written": summary["rows_written"],
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
    }
    print(json.dumps(result))
    return result


def _store(root: Path) -> Any:
    if os.environ.get("BENCH_BACKEND") != "moto":
        return LocalDirStore(root)
    import boto3
    from moto import mock_aws
    from prodlens.adapters.s3_store import S3ObjectStore

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    mock = mock_aws()
    mock.start()
    boto3.client("s3").create_bucket(Bucket="bench-lake")
    return S3ObjectStore("bench-lake")


def main() -> int:
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ProdLens")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from prodlens.observability import logger

    logger.setLevel("WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-aggregate-") as tmp_name:
        tmp = Path(tmp_name)
        store, state = _store(tmp / "lake"), MemoryState()
        con = duckdb.connect()
        t0 = time.perf_counter()
        objects = _load_generated(store, state, _write_traces(con, tmp, 0, DAYS, ROWS_PER_DAY))
        _write_github(con, store, state, tmp, DAYS)
        print(
            json.dumps(
                {
                    "lake": "built",
                    "days": DAYS,
                    "trace_rows": DAYS * ROWS_PER_DAY,
                    "trace_objects": objects,
                    "backend": os.environ.get("BENCH_BACKEND", "local"),
                    "build_s": round(time.perf_counter() - t0, 1),
                }
            )
        )

        _phase("initial (every partition dirty)", store, state, tmp / "work")
        _phase("idle (nothing dirty)", store, state, tmp / "work")
        _load_generated(store, state, _write_traces(con, tmp, DAYS, 1, ROWS_PER_DAY))
        one = _phase("one new day of traces", store, state, tmp / "work")
        _load_generated(store, state, _write_traces(con, tmp, DAYS // 2, 1, 50), tag="late/")
        _phase("late data for one old day", store, state, tmp / "work")
        end = (START + timedelta(days=DAYS)).isoformat()
        full = _phase(
            "backfill: full recompute of the year", store, state, tmp / "work", backfill=(START.isoformat(), end)
        )
        print(
            json.dumps(
                {
                    "one_day_vs_full": {
                        "gets": f"{one['s3_gets']} vs {full['s3_gets']}",
                        "cpu_s": f"{one['cpu_s']} vs {full['cpu_s']}",
                    }
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
