"""GitHub delivery faults on the embedded stack: the github_sync function against the loopback GitHub, then
normalize (S3 -> SQS -> Lambda) and aggregate, compared with a fresh sync of the same repository."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import boto3
from aws_lambda_powertools.utilities.parameters import base
from prodlens.lake_engine import LocalEngine
from prodlens.local.stack import LOCAL_REGION, LocalStack, running

from tests.unit.github.fake_github import START, TOKEN, FakeGithub

REPO = "acme/api"


def _stack_parameters(github: FakeGithub) -> dict[str, str]:
    return {"GitHubRepos": REPO, "GitHubApiUrl": github.url}


def _with_token(stack: LocalStack) -> None:
    base.clear_caches()
    base.DEFAULT_PROVIDERS.clear()
    boto3.client("secretsmanager", region_name=LOCAL_REGION).create_secret(
        Name=stack.template.parameters["GitHubTokenSecretName"], SecretString=json.dumps({"token": TOKEN})
    )


def _sync_and_aggregate(stack: LocalStack) -> dict:
    """One scheduled github_sync run, its pages delivered to normalize, then one aggregate run."""
    sync = stack.invoke("github_sync", stack.template.schedule_inputs("GitHubSyncFunction")[0])
    delivery = stack.drain_queue()
    assert delivery["failed"] == 0, delivery
    stack.invoke("aggregate", stack.template.schedule_inputs("AggregateFunction")[0])
    return sync


def _tables(stack: LocalStack, root: Path) -> dict[str, list[dict]]:
    stack.dump(root)
    engine = LocalEngine(root / "lake", threads=1)
    try:
        return {
            "commits": engine.query_dicts("SELECT repo, sha, event_date FROM commits ORDER BY sha", dialect="duckdb"),
            "daily_github_metrics": engine.query_dicts(
                "SELECT * FROM daily_github_metrics ORDER BY event_date, repo", dialect="duckdb"
            ),
        }
    finally:
        engine.con.close()


def _merge_an_old_branch(github: FakeGithub) -> list[dict]:
    data = github.repos[REPO]
    newest = max(c["commit"]["committer"]["date"] for c in data.commits)
    return data.merge_old_branch(
        "month-old-feature",
        authored=START - timedelta(days=30),
        n_commits=5,
        merged=datetime.fromisoformat(newest) + timedelta(days=1),
    )


def test_a_merge_of_an_old_branch_after_the_checkpoint_counts_each_commit_once_on_its_own_day(tmp_path, ledger):
    github = FakeGithub().start()
    github.add_repo(REPO, n_pulls=4, n_commits=6, n_events=2)
    try:
        # Given a synced, normalized and aggregated repository
        with running(parameters=_stack_parameters(github)) as stack:
            _with_token(stack)
            stack.enable_notifications()
            _sync_and_aggregate(stack)
            # When a branch authored a month earlier is merged with a merge commit, and the schedule runs twice
            branch = _merge_an_old_branch(github)
            late = _sync_and_aggregate(stack)
            _sync_and_aggregate(stack)
            incremental = _tables(stack, tmp_path / "incremental")
        # And a fresh stack syncs the final repository in one run (no checkpoint: every commit is listed)
        with running(parameters=_stack_parameters(github)) as fresh:
            _with_token(fresh)
            fresh.enable_notifications()
            _sync_and_aggregate(fresh)
            reference = _tables(fresh, tmp_path / "reference")
    finally:
        base.clear_caches()
        base.DEFAULT_PROVIDERS.clear()
        github.stop()
    assert github.violations == []

    # Then the late run expanded the merge, and the incremental tables equal the fresh sync's
    assert late["repos"][0]["endpoints"]["commits"]["merges_expanded"] == 1
    assert incremental == reference
    # And each branch commit is counted exactly once, on the UTC day of its author date
    counted = Counter(row["sha"] for row in incremental["commits"])
    assert [counted[c["sha"]] for c in branch] == [1] * len(branch)
    assert counted == Counter({c["sha"]: 1 for c in github.repos[REPO].commits})
    per_day = Counter(c["commit"]["author"]["date"][:10] for c in branch)
    daily = {row["event_date"]: row["commit_count"] for row in incremental["daily_github_metrics"]}
    assert {day: daily.get(day) for day in per_day} == dict(per_day)
    ledger["late commits (old-branch merge) counted once"] += len(branch)
