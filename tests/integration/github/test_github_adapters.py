"""The AWS adapters of the fetcher on moto: DynamoDB state, S3 page sink, token secret."""

from __future__ import annotations

import json

import boto3
import pytest
from prodlens.adapters.github_state import DynamoGithubSyncState
from prodlens.adapters.raw_pages import S3PageSink
from prodlens.adapters.secrets import load_token, token_from_secret
from prodlens.errors import CheckpointConflict, ConfigurationError, StorageUnavailable
from prodlens.services.github_sync import GithubSyncSettings

from tests.conftest import STATE_TABLE
from tests.integration.github.conftest import RAW_BUCKET

pytestmark = pytest.mark.integration


def test_github_state_checkpoint_only_moves_forward(state_table):
    # Given a checkpoint at noon
    state = DynamoGithubSyncState(STATE_TABLE, client=state_table)
    state.put_checkpoint("acme/api", "pulls", "2026-03-01T12:00:00Z")

    # When an older or equal value is written
    with pytest.raises(CheckpointConflict):
        state.put_checkpoint("acme/api", "pulls", "2026-03-01T11:59:59Z")
    with pytest.raises(CheckpointConflict):
        state.put_checkpoint("acme/api", "pulls", "2026-03-01T12:00:00Z")
    state.put_checkpoint("acme/api", "pulls", "2026-03-01T12:00:01Z")

    # Then only the forward move took effect, in the documented item layout
    assert state.get_checkpoint("acme/api", "pulls") == "2026-03-01T12:00:01Z"
    assert state.get_checkpoint("acme/api", "commits") is None
    item = state_table.get_item(
        TableName=STATE_TABLE, Key={"pk": {"S": "checkpoint#github_sync"}, "sk": {"S": "acme/api#pulls"}}
    )["Item"]
    assert item["version"] == {"N": "2"} and "updated_at" in item


def test_github_state_etag_is_kept_per_repo_and_url(state_table):
    state = DynamoGithubSyncState(STATE_TABLE, client=state_table)
    url = "https://api.github.com/repos/acme/api/pulls?state=all&sort=updated&direction=desc&per_page=100"

    state.put_etag("acme/api", url, 'W/"abc"', "Mon, 02 Mar 2026 06:00:00 GMT")

    assert state.get_etag("acme/api", url) == 'W/"abc"'
    assert state.get_etag("acme/web", url) is None
    item = state_table.get_item(TableName=STATE_TABLE, Key={"pk": {"S": "etag#acme/api"}, "sk": {"S": url}})["Item"]
    assert item["last_modified"] == {"S": "Mon, 02 Mar 2026 06:00:00 GMT"}


def test_github_state_resume_roundtrip_and_clear(state_table):
    state = DynamoGithubSyncState(STATE_TABLE, client=state_table)
    marker = {"next_url": "https://api.github.com/repos/acme/api/commits?per_page=100&page=2", "newest": None}

    state.put_resume("acme/api", "commits", marker)
    assert state.get_resume("acme/api", "commits") == marker
    state.put_resume("acme/api", "commits", None)
    assert state.get_resume("acme/api", "commits") is None


def test_github_state_missing_table_raises_storage_unavailable(aws):
    state = DynamoGithubSyncState("no-such-table", client=boto3.client("dynamodb", region_name="us-east-1"))
    with pytest.raises(StorageUnavailable):
        state.get_etag("acme/api", "https://api.github.com/x")


def test_s3_page_sink_stores_bytes_unmodified(raw_bucket):
    # Given
    sink = S3PageSink(RAW_BUCKET, client=raw_bucket)
    body = b'[{"id": 1}]\n'

    # When
    sink.put("github/acme/api/pulls/abc.json", body)

    # Then it is stored byte for byte, as JSON
    stored = raw_bucket.get_object(Bucket=RAW_BUCKET, Key="github/acme/api/pulls/abc.json")
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "application/json"
    assert sink.written == 1


def test_s3_page_sink_missing_bucket_raises_storage_unavailable(aws):
    sink = S3PageSink("no-such-bucket", client=boto3.client("s3", region_name="us-east-1"))
    with pytest.raises(StorageUnavailable):
        sink.put("github/acme/api/pulls/abc.json", b"[]")


@pytest.mark.parametrize(
    "secret", ["ghp_plain", " ghp_plain\n", json.dumps({"token": "ghp_plain"}), {"token": "ghp_plain"}, b"ghp_plain"]
)
def test_token_from_secret_accepts_plain_and_json(secret):
    assert token_from_secret(secret) == "ghp_plain"


@pytest.mark.parametrize("secret", ["", "{}", '{"token": ""}', "{not json", {"other": "x"}])
def test_token_from_secret_without_token_raises_configuration_error(secret):
    with pytest.raises(ConfigurationError) as err:
        token_from_secret(secret)
    assert "ghp" not in str(err.value)


def test_load_token_reads_secrets_manager_through_powertools(aws):
    from aws_lambda_powertools.utilities.parameters import base

    base.DEFAULT_PROVIDERS.clear()
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="gh/plain", SecretString="ghp_x")
    try:
        assert load_token("gh/plain") == "ghp_x"
    finally:
        base.clear_caches()
        base.DEFAULT_PROVIDERS.clear()


def test_a_missing_secret_is_a_configuration_error_that_names_it(aws):
    from aws_lambda_powertools.utilities.parameters import base

    base.DEFAULT_PROVIDERS.clear()
    try:
        with pytest.raises(
            ConfigurationError, match="cannot read the secret 'prodlens/absent': ResourceNotFoundException"
        ):
            load_token("prodlens/absent")
    finally:
        base.clear_caches()
        base.DEFAULT_PROVIDERS.clear()


def test_settings_from_env_empty_repos_means_nothing_to_sync():
    # The template's GitHubRepos defaults to "": a stack without repositories runs and does nothing.
    settings = GithubSyncSettings.from_env(
        {"RAW_BUCKET": "raw", "STATE_TABLE": "state", "GITHUB_REPOS": "", "GITHUB_TOKEN_SECRET": "s"}
    )
    assert settings.repos == ()


def test_settings_from_env_parses_repos_and_defaults_api_url():
    settings = GithubSyncSettings.from_env(
        {
            "RAW_BUCKET": "raw",
            "STATE_TABLE": "state",
            "GITHUB_REPOS": " Acme/API, acme/web,acme/api ",
            "GITHUB_TOKEN_SECRET": "s",
        }
    )
    assert settings.repos == ("acme/api", "acme/web")
    assert settings.api_url == "https://api.github.com"


@pytest.mark.parametrize(
    "env",
    [
        {"RAW_BUCKET": "raw", "GITHUB_REPOS": "a/b", "GITHUB_TOKEN_SECRET": "s"},
        {"RAW_BUCKET": "raw", "STATE_TABLE": "state", "GITHUB_REPOS": "acme/../x", "GITHUB_TOKEN_SECRET": "s"},
        {
            "RAW_BUCKET": "raw",
            "STATE_TABLE": "state",
            "GITHUB_REPOS": "a/b",
            "GITHUB_TOKEN_SECRET": "s",
            "GITHUB_API_URL": "http://evil.example.com",
        },
    ],
    ids=["no-table", "bad-slug", "plain-http"],
)
def test_settings_from_env_invalid_raises_configuration_error(env):
    with pytest.raises(ConfigurationError):
        GithubSyncSettings.from_env(env)
