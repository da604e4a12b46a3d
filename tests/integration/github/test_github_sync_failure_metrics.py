"""What the GitHub-sync alarm watches: a revoked token fails every repo in GithubReposFailed, a missing token
fails the invocation (Lambda Errors), and a healthy run reports 0."""

from __future__ import annotations

import json

import boto3
import pytest
from prodlens.errors import ConfigurationError

from tests.integration.github.conftest import SECRET_NAME
from tests.unit.github.fake_github import Fault

pytestmark = pytest.mark.integration

EVENT = {"job": "github_sync", "scheduled_time": "2026-03-16T06:00:00Z"}
UNAUTHORIZED = b'{"message": "Bad credentials"}'


def _metric(capsys, name: str) -> list[float]:
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return [v for blob in blobs if name in blob for v in blob[name]]


def test_revoked_token_counts_every_repository_as_failed(handler, lambda_context, github, capsys):
    # Given GitHub answers 401 to every first request of both repositories (the token was revoked)
    for repo in ("acme/api", "acme/web"):
        for endpoint in ("pulls", "commits", "issues/events"):
            github.faults.append(Fault(f"/repos/{repo}/{endpoint}", status=401, body=UNAUTHORIZED, times=5))

    # When the schedule fires
    result = handler(EVENT, lambda_context)

    # Then the run reports both repositories as errors, and GithubReposFailed (the alarm's metric) says 2
    assert {r["status"] for r in result["repos"]} == {"error"}
    assert _metric(capsys, "GithubReposFailed") == [2.0]


def test_healthy_run_reports_no_failed_repository(handler, lambda_context, capsys):
    handler(EVENT, lambda_context)
    assert _metric(capsys, "GithubReposFailed") == [0.0]


def test_token_secret_without_a_token_fails_the_invocation(handler, lambda_context):
    # Given the secret was overwritten without a token
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=SECRET_NAME, SecretString=json.dumps({"note": "rotated"})
    )
    # Then the invocation fails (Lambda's Errors metric, retries, then JobFailureQueue): never a silent success
    with pytest.raises(ConfigurationError):
        handler(EVENT, lambda_context)
