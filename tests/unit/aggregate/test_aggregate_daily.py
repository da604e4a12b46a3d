"""The aggregate domain against an independent computation (python/numpy over the same rows)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from prodlens.aggregate import (
    PartitionFile,
    changed_pr_days,
    commits,
    daily_branch_sessions,
    daily_github_metrics,
    daily_session_metrics,
    pull_requests,
)
from prodlens.schema import (
    COMMITS,
    DAILY_GITHUB_METRICS,
    DAILY_SESSION_METRICS,
    GITHUB_COMMITS,
    GITHUB_ISSUE_EVENTS,
    GITHUB_PULL_COMMITS,
    GITHUB_PULLS,
    PULL_REQUESTS,
    TRACES,
)

from tests.unit.aggregate.aggregate_lakedata import read_parquet, trace, write_parquet

REPOS = ["acme/api", "acme/web", "o'brien/x=y"]


def _random_traces(rng: random.Random, day: str, repo: str, n: int) -> list[dict]:
    base = datetime.fromisoformat(day)
    rows = []
    for i in range(n):
        tin, tout, cr, cw = (rng.randint(0, 5000) for _ in range(4))
        rows.append(
            trace(
                record_id=f"{day}-{repo}-{i}-{rng.random()}",
                session_id=rng.choice([None, "s1", "s2", "s3", f"s-{i % 7}"]),
                developer_id=rng.choice([None, "alice", "bob", "carol"]),
                ts=base + timedelta(seconds=rng.randint(0, 86399)),
                tokens_in=tin,
                tokens_out=tout,
                cache_read_tokens=cr,
                cache_write_tokens=cw,
                total_tokens=tin + tout + cr + cw,
                latency_ms=rng.choice([None, rng.uniform(1, 9000), float(rng.randint(1, 50))]),
                is_error=rng.choice([True, False, False, None]),
                accepted_flag=rng.choice([None, True, False]),
                accepted_lines=rng.choice([None, rng.randint(0, 40)]),
                cost_usd=rng.choice([None, rng.uniform(0, 0.2)]),
            )
        )
    return rows


def _expected_session_row(rows: list[dict]) -> dict:
    lat = [r["latency_ms"] for r in rows if r["latency_ms"] is not None]
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    return {
        "request_count": len(rows),
        "session_count": len({r["session_id"] for r in rows if r["session_id"] is not None}),
        "developer_count": len({r["developer_id"] for r in rows if r["developer_id"] is not None}),
        **{
            c: sum(r[c] or 0 for r in rows)
            for c in ("tokens_in", "tokens_out", "cache_read_tokens", "cache_write_tokens", "total_tokens")
        },
        "accepted_count": sum(1 for r in rows if r["accepted_flag"] is True),
        "decided_count": sum(1 for r in rows if r["accepted_flag"] is not None),
        "error_count": sum(1 for r in rows if r["is_error"] is True),
        "median_latency_ms": float(np.percentile(lat, 50)) if lat else None,
        "p95_latency_ms": float(np.percentile(lat, 95)) if lat else None,
        "cost_usd": sum(costs) if costs else None,
        "accepted_lines": sum(r["accepted_lines"] or 0 for r in rows),
    }


def _assert_row_matches(actual: dict, expected: dict) -> None:
    for column, value in expected.items():
        if isinstance(value, float):
            assert actual[column] == pytest.approx(value, rel=1e-9, abs=1e-9), column
        else:
            assert actual[column] == value, column


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_daily_session_metrics_random_rows_match_numpy(tmp_path: Path, seed: int) -> None:
    # Given: three days x three repos, each partition split over up to three source files
    rng = random.Random(seed)
    files, by_key = [], {}
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        for repo in REPOS:
            rows = _random_traces(rng, day, repo, rng.randint(1, 60))
            by_key[(day, repo)] = rows
            cut = sorted(rng.sample(range(len(rows) + 1), 2))
            for j, part in enumerate((rows[: cut[0]], rows[cut[0] : cut[1]], rows[cut[1] :])):
                if part:
                    path = write_parquet(tmp_path / "in" / f"{day}-{repo.replace('/', '_')}-{j}.parquet", TRACES, part)
                    files.append(PartitionFile(path, {"event_date": day, "repo": repo}))

    # When: two of the three days are requested
    out = daily_session_metrics(files, ["2026-03-01", "2026-03-03"], tmp_path / "out")

    # Then: one object per requested day holding every repo, equal to the numpy computation
    assert sorted(o.partition["event_date"] for o in out) == ["2026-03-01", "2026-03-03"]
    for output in out:
        rows = read_parquet(output.path)
        assert [r["repo"] for r in rows] == sorted(REPOS)
        assert list(rows[0]) == DAILY_SESSION_METRICS.column_names
        assert output.rows == len(rows)
        for row in rows:
            _assert_row_matches(row, _expected_session_row(by_key[(output.partition["event_date"], row["repo"])]))


@pytest.mark.parametrize(
    "latencies",
    [[5.0], [1.0, 2.0], [1.0, 2.0, 3.0, 4.0, 10.0, 7.5], [0.5 * i * i for i in range(1, 38)], [3.0, 3.0, 3.0, 1e6]],
)
def test_latency_quantiles_are_numpy_linear_interpolation(tmp_path: Path, latencies: list[float]) -> None:
    # Given: a partition whose latencies include nulls (ignored)
    rows = [trace(record_id=str(i), latency_ms=v) for i, v in enumerate(latencies)] + [
        trace(record_id="n", latency_ms=None)
    ]
    path = write_parquet(tmp_path / "t.parquet", TRACES, rows)

    # When
    (out,) = daily_session_metrics(
        [PartitionFile(path, {"event_date": "2026-01-01", "repo": "a/b"})], ["2026-01-01"], tmp_path
    )

    # Then
    (row,) = read_parquet(out.path)
    assert row["median_latency_ms"] == pytest.approx(float(np.percentile(latencies, 50)), rel=1e-12)
    assert row["p95_latency_ms"] == pytest.approx(float(np.percentile(latencies, 95)), rel=1e-12)


def test_daily_session_metrics_no_latency_gives_null_quantiles(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "t.parquet", TRACES, [trace(record_id="1"), trace(record_id="2")])
    (out,) = daily_session_metrics(
        [PartitionFile(path, {"event_date": "2026-01-01", "repo": "a/b"})], ["2026-01-01"], tmp_path
    )
    (row,) = read_parquet(out.path)
    assert row["median_latency_ms"] is None and row["p95_latency_ms"] is None
    assert row["cost_usd"] is None and row["accepted_lines"] == 0 and row["session_count"] == 0


def test_daily_session_metrics_day_without_traces_writes_nothing(tmp_path: Path) -> None:
    assert daily_session_metrics([], ["2026-01-01"], tmp_path) == []


def test_old_schema_traces_object_reads_through_current_definition(tmp_path: Path) -> None:
    # Given: an object written before cache_write_tokens, diff_ratio and cost_source existed, next to a current one
    old = write_parquet(
        tmp_path / "old.parquet",
        TRACES,
        [trace(record_id="o1", session_id="s1", tokens_in=10, total_tokens=10, latency_ms=100.0, cost_usd=0.5)],
        drop=("cache_write_tokens", "diff_ratio", "cost_source"),
    )
    new = write_parquet(
        tmp_path / "new.parquet",
        TRACES,
        [trace(record_id="n1", session_id="s2", tokens_in=1, cache_write_tokens=7, total_tokens=8, latency_ms=300.0)],
    )
    assert "cache_write_tokens" not in read_parquet(old)[0]
    part = {"event_date": "2026-02-02", "repo": "acme/api"}

    # When: only the old object, then both
    (only_old,) = daily_session_metrics([PartitionFile(old, part)], ["2026-02-02"], tmp_path / "a")
    (both,) = daily_session_metrics(
        [PartitionFile(old, part), PartitionFile(new, part)], ["2026-02-02"], tmp_path / "b"
    )

    # Then: the missing column reads as NULL (summed as 0), everything else aggregates normally
    (row,) = read_parquet(only_old.path)
    assert (row["request_count"], row["cache_write_tokens"], row["tokens_in"], row["cost_usd"]) == (1, 0, 10, 0.5)
    (row,) = read_parquet(both.path)
    assert (row["request_count"], row["session_count"], row["cache_write_tokens"], row["total_tokens"]) == (2, 2, 7, 18)
    assert row["median_latency_ms"] == 200.0


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _pull(
    number: int,
    updated: str,
    *,
    created: str = "2026-01-01T10:00:00",
    merged: str | None = None,
    state: str = "open",
    source: str = "p1",
    pr_id: int | None = None,
) -> dict:
    return {
        "pr_id": pr_id or 1000 + number,
        "pr_number": number,
        "state": state,
        "author": "dev",
        "created_at": _ts(created),
        "updated_at": _ts(updated),
        "closed_at": _ts(merged) if merged else None,
        "merged_at": _ts(merged) if merged else None,
        "source_key": source,
    }


def test_pull_requests_latest_version_wins_and_reopens_count_once(tmp_path: Path) -> None:
    # Given: PR 1 seen three times (pages in any order), PR 2 once; reopened events repeated across pages
    page_a = [_pull(1, "2026-01-01T11:00:00"), _pull(2, "2026-01-02T09:00:00", created="2026-01-02T08:00:00")]
    page_b = [_pull(1, "2026-01-03T12:00:00", merged="2026-01-03T12:00:00", state="closed", source="p2")]
    page_c = [_pull(1, "2026-01-02T12:00:00", source="p3")]
    events = [
        {
            "event_id": 7,
            "event": "reopened",
            "pr_number": 1,
            "created_at": _ts("2026-01-02T00:00:00"),
            "source_key": "e1",
        },
        {
            "event_id": 8,
            "event": "closed",
            "pr_number": 1,
            "created_at": _ts("2026-01-02T00:00:00"),
            "source_key": "e1",
        },
        {
            "event_id": 9,
            "event": "reopened",
            "pr_number": 99,
            "created_at": _ts("2026-01-02T00:00:00"),
            "source_key": "e1",
        },
    ]
    part = {"repo": "acme/api"}
    pulls = [
        PartitionFile(write_parquet(tmp_path / f"{n}.parquet", GITHUB_PULLS, rows), part)
        for n, rows in (("a", page_a), ("b", page_b), ("c", page_c))
    ]
    ev = [PartitionFile(write_parquet(tmp_path / f"e{n}.parquet", GITHUB_ISSUE_EVENTS, events), part) for n in (1, 2)]

    # When: built from the files in two different orders
    (first,) = pull_requests(pulls, ev, [], tmp_path / "o1")
    (second,) = pull_requests(list(reversed(pulls)), ev, [], tmp_path / "o2")
    assert first.partition == {"repo": "acme/api"} and first.rows == 2

    # Then
    rows = read_parquet(first.path)
    assert rows == read_parquet(second.path)
    assert list(rows[0]) == PULL_REQUESTS.column_names
    by_number = {r["pr_number"]: r for r in rows}
    assert set(by_number) == {1, 2}
    assert by_number[1]["merged_at"] == _ts("2026-01-03T12:00:00") and by_number[1]["reopened_count"] == 1
    assert by_number[2]["reopened_count"] == 0


def test_commits_one_row_per_sha(tmp_path: Path) -> None:
    c = {
        "sha": "abc",
        "author": "a",
        "author_date": _ts("2026-01-05T03:00:00"),
        "committer_date": _ts("2026-01-05T04:00:00"),
        "source_key": "k1",
    }
    d = {**c, "sha": "def", "source_key": "k2"}
    part = {"event_date": "2026-01-05", "repo": "acme/api"}
    files = [
        PartitionFile(write_parquet(tmp_path / "1.parquet", GITHUB_COMMITS, [c, d]), part),
        PartitionFile(write_parquet(tmp_path / "2.parquet", GITHUB_COMMITS, [{**c, "source_key": "k9"}]), part),
    ]
    (out,) = commits(files, tmp_path / "o")
    assert out.partition == part
    rows = read_parquet(out.path)
    assert sorted(r["sha"] for r in rows) == ["abc", "def"] and list(rows[0]) == COMMITS.column_names
    assert commits([], tmp_path / "o") == []


def test_daily_github_metrics_match_python(tmp_path: Path) -> None:
    # Given: random PRs over two repos and some commits
    rng = random.Random(5)
    start = datetime(2026, 4, 1)
    prs = {repo: [] for repo in REPOS[:2]}
    for repo in prs:
        for n in range(1, 40):
            created = start + timedelta(minutes=rng.randint(0, 6 * 1440))
            merged = created + timedelta(minutes=rng.randint(1, 3 * 1440)) if rng.random() < 0.6 else None
            prs[repo].append(
                {
                    "pr_id": n,
                    "pr_number": n,
                    "state": "closed" if merged else "open",
                    "author": "x",
                    "created_at": created,
                    "updated_at": merged or created,
                    "closed_at": merged,
                    "merged_at": merged,
                    "reopened_count": rng.choice([0, 0, 1, 2]),
                }
            )
    pr_files = [
        PartitionFile(write_parquet(tmp_path / f"pr{i}.parquet", PULL_REQUESTS, rows), {"repo": repo})
        for i, (repo, rows) in enumerate(prs.items())
    ]
    commit_rows = {("2026-04-02", "acme/api"): ["a", "b", "c"], ("2026-04-03", "acme/web"): ["d"]}
    commit_files = [
        PartitionFile(
            write_parquet(
                tmp_path / f"c{day}{repo[-3:]}.parquet",
                COMMITS,
                [{"sha": s, "author_date": _ts(day + "T01:00:00")} for s in shas],
            ),
            {"event_date": day, "repo": repo},
        )
        for (day, repo), shas in commit_rows.items()
    ]
    days = [(start + timedelta(days=i)).date().isoformat() for i in range(10)]

    # When
    out = daily_github_metrics(commit_files, pr_files, days, tmp_path / "o")

    # Then
    got = {(o.partition["event_date"], r["repo"]): r for o in out for r in read_parquet(o.path)}
    expected = {}
    for day in days:
        for repo, rows in prs.items():
            opened = [p for p in rows if p["created_at"].date().isoformat() == day]
            merged = [p for p in rows if p["merged_at"] and p["merged_at"].date().isoformat() == day]
            ncommits = len(commit_rows.get((day, repo), []))
            if not (opened or merged or ncommits):
                continue
            hours = [(p["merged_at"] - p["created_at"]).total_seconds() / 3600 for p in merged]
            expected[(day, repo)] = {
                "commit_count": ncommits,
                "opened_pr_count": len(opened),
                "merged_pr_count": len(merged),
                "reopened_pr_count": sum(1 for p in merged if p["reopened_count"] >= 1),
                "avg_merge_hours": float(np.mean(hours)) if hours else None,
                "median_merge_hours": float(np.median(hours)) if hours else None,
            }
    assert set(got) == set(expected)
    for key, exp in expected.items():
        _assert_row_matches(got[key], exp)
    assert list(next(iter(got.values()))) == DAILY_GITHUB_METRICS.column_names


def test_changed_pr_days_are_created_and_merged_days_of_changed_rows(tmp_path: Path) -> None:
    base = {
        "pr_id": 1,
        "pr_number": 1,
        "state": "open",
        "author": "x",
        "created_at": _ts("2026-01-01T10:00:00"),
        "updated_at": _ts("2026-01-01T10:00:00"),
        "closed_at": None,
        "merged_at": None,
        "reopened_count": 0,
    }
    same = {**base, "pr_id": 2, "pr_number": 2, "created_at": _ts("2026-01-09T10:00:00")}
    merged = {
        **base,
        "updated_at": _ts("2026-01-04T10:00:00"),
        "merged_at": _ts("2026-01-04T10:00:00"),
        "state": "closed",
    }
    part = {"repo": "a/b"}
    old = [PartitionFile(write_parquet(tmp_path / "old.parquet", PULL_REQUESTS, [base, same]), part)]
    new = [PartitionFile(write_parquet(tmp_path / "new.parquet", PULL_REQUESTS, [merged, same]), part)]
    assert changed_pr_days(old, new, tmp_path) == {"2026-01-01", "2026-01-04"}
    assert changed_pr_days(old, old, tmp_path) == set()
    assert changed_pr_days([], new, tmp_path) == {"2026-01-01", "2026-01-04", "2026-01-09"}


def test_pull_requests_collect_every_commit_ever_listed_and_the_ai_tools_of_their_trailers(tmp_path: Path) -> None:
    # Given PR 1 (branch feature/x) whose commits were listed twice (a force-push dropped sha a from the second
    # listing), and PR 2 with no commits page
    part = {"repo": "acme/api"}
    pull = {**_pull(1, "2026-01-02T10:00:00"), "head_ref": "feature/x", "base_ref": "main"}
    pulls = [
        PartitionFile(
            write_parquet(tmp_path / "p.parquet", GITHUB_PULLS, [pull, _pull(2, "2026-01-02T09:00:00")]), part
        )
    ]
    first_listing = [
        {"pr_number": 1, "sha": "a" * 40, "ai_coauthors": ["claude_code"], "source_key": "c1"},
        {"pr_number": 1, "sha": "b" * 40, "ai_coauthors": [], "source_key": "c1"},
    ]
    second_listing = [
        {"pr_number": 1, "sha": "b" * 40, "ai_coauthors": [], "source_key": "c2"},
        {"pr_number": 1, "sha": "c" * 40, "ai_coauthors": ["copilot", "claude_code"], "source_key": "c2"},
    ]
    listings = [
        PartitionFile(write_parquet(tmp_path / f"{n}.parquet", GITHUB_PULL_COMMITS, rows), part)
        for n, rows in (("c1", first_listing), ("c2", second_listing))
    ]

    # When
    (built,) = pull_requests(pulls, [], listings, tmp_path / "o")

    # Then
    by_number = {r["pr_number"]: r for r in read_parquet(built.path)}
    assert by_number[1]["commit_shas"] == ["a" * 40, "b" * 40, "c" * 40]
    assert by_number[1]["ai_coauthors"] == ["claude_code", "copilot"]
    assert (by_number[1]["head_ref"], by_number[1]["base_ref"]) == ("feature/x", "main")
    assert by_number[2]["commit_shas"] == [] and by_number[2]["ai_coauthors"] == []


def test_daily_branch_sessions_one_row_per_session_and_branch_with_its_span_and_cost(tmp_path: Path) -> None:
    # Given a Claude Code session that worked on two branches, a trace without a branch, and one of an unknown repo
    def t(ts: str, branch: str | None, cost: float, repo: str = "acme/api") -> dict:
        return trace(
            ts=_ts(ts),
            git_branch=branch,
            session_id="s1",
            source_format="claude_code",
            cost_usd=cost,
            event_date=ts[:10],
            repo=repo,
        )

    rows = [
        t("2026-01-05T09:00:00", "feature/x", 0.25),
        t("2026-01-05T11:30:00", "feature/x", 0.5),
        t("2026-01-05T12:00:00", "fix/y", 1.0),
        t("2026-01-05T13:00:00", None, 9.0),
        t("2026-01-05T14:00:00", "feature/x", 9.0, repo="unknown"),
    ]
    files = [
        PartitionFile(
            write_parquet(
                tmp_path / f"{repo.replace('/', '_')}.parquet", TRACES, [r for r in rows if r["repo"] == repo]
            ),
            {"event_date": "2026-01-05", "repo": repo},
        )
        for repo in ("acme/api", "unknown")
    ]

    # When
    (out,) = daily_branch_sessions(files, ["2026-01-05"], tmp_path / "o")

    # Then
    got = read_parquet(out.path)
    assert [(r["git_branch"], r["requests"], r["cost_usd"], r["first_ts"], r["last_ts"]) for r in got] == [
        ("feature/x", 2, 0.75, _ts("2026-01-05T09:00:00"), _ts("2026-01-05T11:30:00")),
        ("fix/y", 1, 1.0, _ts("2026-01-05T12:00:00"), _ts("2026-01-05T12:00:00")),
    ]
    assert {(r["repo"], r["session_id"], r["source_format"]) for r in got} == {("acme/api", "s1", "claude_code")}
