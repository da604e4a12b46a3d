"""github_sync: on schedule, fetch each configured repository's pulls, commits and issue events into the raw zone."""

from __future__ import annotations

import os
from functools import lru_cache, partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from prodlens.adapters.github_state import DynamoGithubSyncState
from prodlens.adapters.raw_pages import S3PageSink
from prodlens.adapters.secrets import load_token
from prodlens.observability import logger, metrics
from prodlens.services.github_sync import GithubSyncDeps, GithubSyncSettings, parse_repos, sync_repositories


@lru_cache(maxsize=1)
def _settings() -> GithubSyncSettings:
    return GithubSyncSettings.from_env(os.environ)


@lru_cache(maxsize=1)
def _adapters(raw_bucket: str, state_table: str) -> tuple[S3PageSink, DynamoGithubSyncState]:
    return S3PageSink(raw_bucket), DynamoGithubSyncState(state_table)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = _settings()
    repos = parse_repos(event["repos"]) if event.get("repos") else settings.repos
    sink, state = _adapters(settings.raw_bucket, settings.state_table)
    deps = GithubSyncDeps(sink, state, partial(load_token, settings.token_secret), settings.api_url)
    return sync_repositories(repos, deps, remaining_s=context.get_remaining_time_in_millis() / 1000)
