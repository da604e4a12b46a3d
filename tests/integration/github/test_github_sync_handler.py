"""The github_sync handler on moto (S3, DynamoDB, Secrets Manager) against the loopback GitHub."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from prodlens.normalize.github import parse_github_page

from tests.integration.github.conftest import RAW_BUCKET
from tests.unit.github.fake_github import MESSAGE_MARKER, Fault

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).resolve().parents[3] / "events" / "github_sync"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def raw_rows(s3) -> dict[str, dict[str, Counter]]:
    """repo -> table -> Counter of record ids, over every listing page in the raw bucket (see raw_pull_commits)."""
    out: dict[str, dict[str, Counter]] = {}
    ident = {"github_pulls": "pr_id", "github_commits": "sha", "github_issue_events": "event_id"}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=RAW_BUCKET, Prefix="github/"):
        for item in page.get("Contents", []):
            if item["Key"].split("/")[3] == "pull_commits":
                continue
            body = s3.get_object(Bucket=RAW_BUCKET, Key=item["Key"])["Body"].read()
            parsed = parse_github_page(item["Key"], body)
            assert parsed.dead_letters == []
            counter = out.setdefault(parsed.repo, {}).setdefault(parsed.table, Counter())
            counter.update(row[ident[parsed.table]] for row in parsed.rows)
    return out


def raw_pull_commits(s3) -> dict[str, dict[int, Counter]]:
    """repo -> PR number -> Counter of the shas on its pull_commits pages; no page may hold a commit message."""
    out: dict[str, dict[int, Counter]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=RAW_BUCKET, Prefix="github/"):
        for item in page.get("Contents", []):
            _, owner, name, kind, *rest = item["Key"].split("/")
            if kind != "pull_commits":
                continue
            body = s3.get_object(Bucket=RAW_BUCKET, Key=item["Key"])["Body"].read()
            assert MESSAGE_MARKER.encode() not in body
            records = json.loads(body)
            assert all("message" not in r["commit"] and "prodlens_ai_coauthors" in r for r in records)
            counter = out.setdefault(f"{owner}/{name}", {}).setdefault(int(rest[0]), Counter())
            counter.update(r["sha"] for r in records)
    return out


def expected_pull_commits(github, slug: str) -> dict[int, Counter]:
    return {n: Counter(c["sha"] for c in commits) for n, commits in github.repos[slug].pull_commits.items()}


def expected(github, slug: str) -> dict[str, Counter]:
    data = github.repos[slug]
    return {
        "github_pulls": Counter(p["id"] for p in data.pulls.values()),
        "github_commits": Counter(c["sha"] for c in data.commits),
        "github_issue_events": Counter(e["id"] for e in data.events),
    }


def test_handler_scheduled_run_twice_stores_each_record_once_then_only_304s(
    handler, lambda_context, github, raw_bucket
):
    # Given the scheduled event and two configured repositories
    event = load_event("scheduled.json")

    # When the schedule fires twice
    first = handler(event, lambda_context)
    mark = len(github.log)
    second = handler(event, lambda_context)

    # Then every record of both repositories is in the raw bucket exactly once
    assert first["status"] == "ok"
    assert [r["repo"] for r in first["repos"]] == ["acme/api", "acme/web"]
    rows = raw_rows(raw_bucket)
    assert rows["acme/api"] == expected(github, "acme/api")
    assert rows["acme/web"] == expected(github, "acme/web")
    # And every pull request's commits, without their messages
    pull_commits = raw_pull_commits(raw_bucket)
    assert pull_commits == {slug: expected_pull_commits(github, slug) for slug in ("acme/api", "acme/web")}
    # And the second run is answered by 304s only and writes nothing
    assert {r.status for r in github.requests_since(mark)} == {304}
    assert len(github.requests_since(mark)) == 6
    assert second["pages_written"] == 0 and second["not_modified"] == 6


def test_handler_one_failing_repo_does_not_fail_the_others(handler, lambda_context, github, raw_bucket):
    # Given the event overrides the repositories with one that does not exist
    event = {**load_event("scheduled_repos_override.json"), "repos": ["acme/gone", "acme/web"]}

    # When
    result = handler(event, lambda_context)

    # Then the missing one reports errors and the other is synced
    statuses = {r["repo"]: r["status"] for r in result["repos"]}
    assert statuses == {"acme/gone": "error", "acme/web": "ok"}
    assert result["status"] == "partial"
    assert "acme/api" not in raw_rows(raw_bucket)


def test_handler_rate_limit_past_the_budget_reports_and_next_run_completes(handler, lambda_context, github, raw_bucket):
    # Given acme/api's commits hit the primary rate limit resetting after the invocation ends
    github.faults.append(
        Fault(
            "/repos/acme/api/commits",
            status=403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"},
        )
    )
    lambda_context.remaining_ms = 60_000

    # When the first run meets it
    first = handler(load_event("scheduled.json"), lambda_context)

    # Then it stops cleanly: acme/api is rate-limited, acme/web is not attempted against the limit
    statuses = {r["repo"]: r["status"] for r in first["repos"]}
    assert statuses == {"acme/api": "rate_limited", "acme/web": "rate_limited"}
    assert first["repos"][1]["requests"] == 0

    # When the limit has passed and the next run starts
    second = handler(load_event("scheduled.json"), lambda_context)

    # Then everything is stored, exactly once
    assert second["status"] == "ok"
    rows = raw_rows(raw_bucket)
    assert rows["acme/api"] == expected(github, "acme/api")
    assert rows["acme/web"] == expected(github, "acme/web")
    assert raw_pull_commits(raw_bucket) == {
        slug: expected_pull_commits(github, slug) for slug in ("acme/api", "acme/web")
    }


def test_handler_emits_metrics(handler, lambda_context, capsys):
    # When
    handler(load_event("scheduled.json"), lambda_context)

    # Then one EMF line carries the sync metrics: 12 listing pages, and one page of commits per pull request (7 + 4)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf and emf[-1]["GithubPagesWritten"] == [12.0 + 11] and emf[-1]["GithubNotModified"] == [0.0]


def test_handler_without_repositories_does_nothing_and_reads_no_secret(handler, lambda_context, monkeypatch, github):
    # Given the template's default: no repositories, and no secret to read
    monkeypatch.setenv("GITHUB_REPOS", "")
    monkeypatch.setenv("GITHUB_TOKEN_SECRET", "does-not-exist")

    # When
    result = handler(load_event("scheduled.json"), lambda_context)

    # Then
    assert result["status"] == "ok" and result["repos"] == []
    assert github.log == []
