from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from tests.unit.github.fake_github import TOKEN, FakeGithub

RAW_BUCKET = "prodlens-raw-test"
STATE_TABLE = "prodlens-state-test"
SECRET_NAME = "prodlens/github"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "ProdLens",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def raw_bucket(aws):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=RAW_BUCKET)
    return s3


class _CfnLoader(yaml.SafeLoader):
    """Loads template.yaml, tolerating CloudFormation short-form tags (!Ref, !Sub, ...)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def state_table_properties() -> dict:
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    return template["Resources"]["StateTable"]["Properties"]


@pytest.fixture
def state_table(aws):
    # The key schema comes from template.yaml, so the tests follow the deployed table.
    props = state_table_properties()
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName=STATE_TABLE,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


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
