"""Domain: the derived tables, computed from local partition files into local Parquet files (no I/O beyond the disk).

Each function recomputes its outputs from *all* the partitions it is given, so calling it again on the
same inputs gives the same files (the service's idempotency rests on this).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb

from prodlens.aggregate import queries
from prodlens.aggregate.engine import PartitionFile, connect, load_table, write_parquet
from prodlens.lake import object_key
from prodlens.models import TableFile
from prodlens.normalize.formats import TRACE_TOOLS
from prodlens.people import Identity
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
    TRACES,
    USAGE_RECORDS,
    Table,
)

OUTPUT_NAME = "data"  # every derived partition is one object: <table>/<partition>/data.parquet


def _out(out_dir: Path, table: str, partition: dict[str, str]) -> Path:
    return out_dir / object_key(table, partition, OUTPUT_NAME)


def _write_days(
    con: duckdb.DuckDBPyConnection,
    source: str,
    table: Table,
    days: Iterable[str],
    out_dir: Path,
    order_by: tuple[str, ...] = ("repo",),
) -> list[TableFile]:
    present = {row[0] for row in con.execute(f"SELECT DISTINCT event_date FROM {source}").fetchall()}
    files = []
    for day in sorted(set(days) & present):
        path = _out(out_dir, table.name, {"event_date": day})
        rows = write_parquet(con, source, table, path, "event_date = $day", {"day": day}, order_by=order_by)
        files.append(TableFile(table.name, {"event_date": day}, path, rows))
    return files


def _load_people(con: duckdb.DuckDBPyConnection, people: Sequence[Identity]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE people (identity VARCHAR, person VARCHAR, team VARCHAR)")
    if people:
        con.executemany("INSERT INTO people VALUES (?, ?, ?)", [(p.identity, p.person, p.team) for p in people])


def _daily_table(
    output: Table,
    query: str,
    inputs: Sequence[tuple[str, Table, Sequence[PartitionFile]]],
    days: Iterable[str],
    out_dir: Path,
    order_by: tuple[str, ...] = ("repo",),
    people: Sequence[Identity] | None = None,
    params: dict[str, list[str]] | None = None,
) -> list[TableFile]:
    """One per-day derived table: load each (temp table name, table, files) input (and the people table when
    given), run `query` with $days (and `params`), and write one file per requested day that has a row."""
    day_list = sorted(set(days))
    con = connect(out_dir / ".spill")
    try:
        for name, table, files in inputs:
            load_table(con, name, table, files)
        if people is not None:
            _load_people(con, people)
        values = {"days": day_list, **(params or {})}
        con.execute(f"CREATE TEMP TABLE result AS {query}", {k: v for k, v in values.items() if f"${k}" in query})
        return _write_days(con, "result", output, day_list, out_dir, order_by=order_by)
    finally:
        con.close()


def daily_session_metrics(traces: Sequence[PartitionFile], days: Iterable[str], out_dir: Path) -> list[TableFile]:
    """daily_session_metrics for `days` from every traces partition file of those days (all repos).

    One output file per day that has at least one trace; a requested day without traces gets no file
    (the caller removes that day's previous object).
    """
    inputs = [("traces", TRACES, traces)]
    return _daily_table(DAILY_SESSION_METRICS, queries.DAILY_SESSION_METRICS, inputs, days, out_dir)


def daily_branch_sessions(traces: Sequence[PartitionFile], days: Iterable[str], out_dir: Path) -> list[TableFile]:
    """daily_branch_sessions for `days` from every traces partition file of those days: one file per day with a
    trace that names a git branch."""
    inputs = [("traces", TRACES, traces)]
    order = ("repo", "git_branch", "source_format", "session_id")
    return _daily_table(DAILY_BRANCH_SESSIONS, queries.DAILY_BRANCH_SESSIONS, inputs, days, out_dir, order_by=order)


def pull_requests(
    pulls: Sequence[PartitionFile],
    issue_events: Sequence[PartitionFile],
    pull_commits: Sequence[PartitionFile],
    out_dir: Path,
) -> list[TableFile]:
    """The canonical pull_requests partition of every repo in the staging files (one file per repo with a PR)."""
    con = connect(out_dir / ".spill")
    try:
        load_table(con, "github_pulls", GITHUB_PULLS, pulls)
        load_table(con, "github_issue_events", GITHUB_ISSUE_EVENTS, issue_events)
        load_table(con, "github_pull_commits", GITHUB_PULL_COMMITS, pull_commits)
        con.execute(f"CREATE TEMP TABLE result AS {queries.PULL_REQUESTS}")
        return _write_partitions(con, PULL_REQUESTS, out_dir, order_by=("pr_number",))
    finally:
        con.close()


def commits(staging: Sequence[PartitionFile], out_dir: Path) -> list[TableFile]:
    """The canonical commits partitions (event_date, repo) present in the staging files: one row per sha."""
    con = connect(out_dir / ".spill")
    try:
        load_table(con, "github_commits", GITHUB_COMMITS, staging)
        con.execute(f"CREATE TEMP TABLE result AS {queries.COMMITS}")
        return _write_partitions(con, COMMITS, out_dir, order_by=("sha",))
    finally:
        con.close()


def _write_partitions(
    con: duckdb.DuckDBPyConnection, table: Table, out_dir: Path, order_by: Sequence[str]
) -> list[TableFile]:
    keys = list(table.partition_keys)
    key_list = ", ".join(keys)
    groups = con.execute(f"SELECT {key_list}, count(*) FROM result GROUP BY ALL ORDER BY ALL").fetchall()
    where = " AND ".join(f"{k} = ${k}" for k in keys)
    files = []
    for *values, rows in groups:
        partition = dict(zip(keys, values, strict=True))
        path = _out(out_dir, table.name, partition)
        write_parquet(con, "result", table, path, where, partition, order_by=order_by)
        files.append(TableFile(table.name, partition, path, rows))
    return files


def changed_pr_days(old: Sequence[PartitionFile], new: Sequence[PartitionFile], out_dir: Path) -> set[str]:
    """UTC days whose daily_github_metrics can differ between two versions of pull_requests partitions.

    out_dir only hosts DuckDB's spill files.
    """
    con = connect(out_dir / ".spill")
    try:
        load_table(con, "old_pull_requests", PULL_REQUESTS, old)
        load_table(con, "new_pull_requests", PULL_REQUESTS, new)
        return {row[0] for row in con.execute(queries.CHANGED_PR_DAYS).fetchall()}
    finally:
        con.close()


def daily_github_metrics(
    commit_files: Sequence[PartitionFile],
    pull_request_files: Sequence[PartitionFile],
    days: Iterable[str],
    out_dir: Path,
) -> list[TableFile]:
    """daily_github_metrics for `days` from the commits partitions of those days and all pull_requests partitions.

    One output file per day with any activity (a commit, an opened or a merged PR).
    """
    inputs = [("commits", COMMITS, commit_files), ("pull_requests", PULL_REQUESTS, pull_request_files)]
    return _daily_table(DAILY_GITHUB_METRICS, queries.DAILY_GITHUB_METRICS, inputs, days, out_dir)


def developer_daily_usage(
    usage: Sequence[PartitionFile], days: Iterable[str], out_dir: Path, people: Sequence[Identity] = ()
) -> list[TableFile]:
    """developer_daily_usage for `days` from the usage_records partitions of those days and of the day before
    each (the baseline of cumulative metric series), attributed through `people`. One file per day with a row."""
    inputs = [("usage_records", USAGE_RECORDS, usage)]
    query, order = queries.DEVELOPER_DAILY_USAGE, ("tool", "developer_id")
    return _daily_table(DEVELOPER_DAILY_USAGE, query, inputs, days, out_dir, order_by=order, people=people)


def ai_commits(staging: Sequence[PartitionFile], out_dir: Path) -> list[TableFile]:
    """The ai_commits partition of every repo in the staging files: one row per (repo, sha)."""
    con = connect(out_dir / ".spill")
    try:
        load_table(con, "ai_commit_records", AI_COMMIT_RECORDS, staging)
        con.execute(f"CREATE TEMP TABLE result AS {queries.AI_COMMITS}")
        return _write_partitions(con, AI_COMMITS, out_dir, order_by=("sha",))
    finally:
        con.close()


def daily_developer_metrics(
    traces: Sequence[PartitionFile],
    usage: Sequence[PartitionFile],
    commit_files: Sequence[PartitionFile],
    pull_request_files: Sequence[PartitionFile],
    days: Iterable[str],
    out_dir: Path,
    people: Sequence[Identity] = (),
) -> list[TableFile]:
    """daily_developer_metrics for `days` from those days' traces, developer_daily_usage and commits, and every
    pull_requests partition; a trace's tool from the trace format registry. One output file per day with a person."""
    inputs = [
        ("traces", TRACES, traces),
        ("developer_daily_usage", DEVELOPER_DAILY_USAGE, usage),
        ("commits", COMMITS, commit_files),
        ("pull_requests", PULL_REQUESTS, pull_request_files),
    ]
    formats = sorted(TRACE_TOOLS)
    tools = {"trace_formats": formats, "trace_tools": [TRACE_TOOLS[f] for f in formats]}
    query, order = queries.DAILY_DEVELOPER_METRICS, ("person",)
    return _daily_table(DAILY_DEVELOPER_METRICS, query, inputs, days, out_dir, order, people, tools)
