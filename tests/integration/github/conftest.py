from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import pytest

from tests.conftest import STATE_TABLE
from tests.unit.github.fake_github import TOKEN, FakeGithub

RAW_BUCKET = "prodlens-raw-test"
SECRET_NAME = "prodlens/github"


@pytest.fixture
def raw_bucket(aws):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=RAW_BUCKET)
    return s3


@pytest.fixture
def github():
    server = FakeGithub().start()
    server.add_repo("acme/api")
    server.add_repo("acme/web", n_pulls=4, n_commits=2, n_events=1)
    yield server
    server.stop()
    assert server.violations == [], "a request reached the server without the token and GitHub headers"


@pytest.fixture
def token_secret(aws):
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=SECRET_NAME, SecretString=json.dumps({"token": TOKEN})
    )
    return SECRET_NAME


@dataclass
class FakeContext:
    remaining_ms: int = 300_000
    function_name: str = "github_sync"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:github_sync"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def handler(monkeypatch, raw_bucket, state_table, token_secret, github):
    """The github_sync handler configured for the fake GitHub; caches cleared before and after."""
    from aws_lambda_powertools.utilities.parameters import base

    monkeypatch.setenv("RAW_BUCKET", RAW_BUCKET)
    monkeypatch.setenv("STATE_TABLE", STATE_TABLE)
    monkeypatch.setenv("GITHUB_REPOS", "acme/api,Acme/Web")
    monkeypatch.setenv("GITHUB_TOKEN_SECRET", token_secret)
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    from functions.github_sync import app

    def reset():
        app._settings.cache_clear()
        app._adapters.cache_clear()
        base.clear_caches()
        base.DEFAULT_PROVIDERS.clear()

    reset()
    yield app.lambda_handler
    reset()
