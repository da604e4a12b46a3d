"""daily_developer_metrics: one person's day across tools and sources, one source per tool, delivery by author."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from prodlens.aggregate import PartitionFile, daily_developer_metrics
from prodlens.people import Identity
from prodlens.schema import COMMITS, DEVELOPER_DAILY_USAGE, PULL_REQUESTS, TRACES, USAGE_MEASURES

from tests.unit.aggregate.aggregate_lakedata import trace, write_parquet

DAY = "2026-05-04"
PEOPLE = [
    Identity("alice@acme.dev", "alice", "platform"),
    Identity("alice", "alice", "platform"),
    Identity("alice-gh", "alice", "platform"),
    Identity("bob@acme.dev", "bob", "product"),
]


def _usage(developer: str, tool: str, person: str | None, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(name for name, _ in USAGE_MEASURES)
    row.update(tool=tool, source_format=f"{tool}_report", developer_id=developer, person=person, team=None, **values)
    return row


def _build(tmp: Path, traces, usage, commits, pulls) -> dict[str, dict[str, Any]]:
    def part(table, rows, partition):
        return [PartitionFile(write_parquet(tmp / f"{table.name}.parquet", table, rows), partition)]

    outputs = daily_developer_metrics(
        part(TRACES, traces, {"event_date": DAY, "repo": "acme/api"}),
        part(DEVELOPER_DAILY_USAGE, usage, {"event_date": DAY}),
        part(COMMITS, commits, {"event_date": DAY, "repo": "acme/api"}),
        part(PULL_REQUESTS, pulls, {"repo": "acme/api"}),
        [DAY],
        tmp / "out",
        PEOPLE,
    )
    (output,) = outputs
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{output.path}')")
    return {row[0]: dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()}


def test_one_source_per_tool_identities_merged_and_delivery_by_author(tmp_path):
    at = datetime(2026, 5, 4, 10)
    traces = [
        # alice's Claude Code requests, seen in her transcripts (traces) AND in the vendor's analytics report
        trace(ts=at, source_format="claude_code", developer_id="Alice@acme.dev", session_id="s1", cost_usd=1.0),
        trace(ts=at, source_format="claude_code", developer_id="alice@acme.dev", session_id="s1", cost_usd=2.0),
        # and LiteLLM proxy requests, which no vendor report covers
        trace(ts=at, source_format="litellm", developer_id="alice", session_id="p1", cost_usd=0.5, accepted_lines=4),
        # a developer nobody mapped is their own person
        trace(ts=at, source_format="seed", developer_id="zoe@else.dev", session_id=None, cost_usd=None),
    ]
    usage = [
        _usage("alice@acme.dev", "claude_code", "alice", sessions=3, accepted_lines=100, cost_usd=7.5),
        _usage("alice-gh", "copilot", "alice", accepted_lines=20),
        _usage("*", "copilot", None, accepted_lines=999),  # organization total: nobody's
        _usage("bob@acme.dev", "cursor", "bob", accepted_lines=30, sessions=None),
    ]
    commits = [
        {"sha": "a" * 40, "author": "alice-gh", "author_date": at, "committer_date": at},
        {"sha": "b" * 40, "author": "bob@acme.dev", "author_date": at, "committer_date": at},
        {"sha": "c" * 40, "author": "Alice", "author_date": at, "committer_date": at},
    ]
    pulls = [
        {"pr_id": 1, "pr_number": 1, "state": "closed", "author": "alice-gh", "created_at": datetime(2026, 5, 1),
         "updated_at": at, "closed_at": at, "merged_at": at, "reopened_count": 0},
        {"pr_id": 2, "pr_number": 2, "state": "open", "author": "bob", "created_at": at, "updated_at": at,
         "closed_at": None, "merged_at": None, "reopened_count": 0},
    ]  # fmt: skip

    rows = _build(tmp_path, traces, usage, commits, pulls)

    alice = rows["alice"]
    assert alice["team"] == "platform"
    assert alice["requests"] == 3  # every trace counts as a request
    # claude_code: the vendor's report (3 sessions, 100 lines, $7.50), not the transcripts ($3, 1 session)
    # litellm: its traces (1 session, 4 lines, $0.50); copilot: its report (20 lines, no sessions measured)
    assert alice["sessions"] == 3 + 1
    assert alice["ai_accepted_lines"] == 100 + 4 + 20
    assert alice["cost_usd"] == 7.5 + 0.5
    assert alice["tools"] == ["claude_code", "copilot", "litellm"]
    assert (alice["commits_authored"], alice["prs_merged"], alice["prs_opened"]) == (2, 1, 0)

    bob = rows["bob"]  # "bob" as PR author is bob's own name: a person is one of their identities
    assert (bob["team"], bob["requests"], bob["ai_accepted_lines"], bob["sessions"]) == ("product", 0, 30, None)
    assert (bob["commits_authored"], bob["prs_opened"], bob["tools"]) == (1, 1, ["cursor"])

    zoe = rows["zoe@else.dev"]
    assert (zoe["team"], zoe["requests"], zoe["tools"], zoe["cost_usd"]) == (None, 1, ["seed"], None)
    assert "*" not in rows
