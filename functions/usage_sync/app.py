"""usage_sync: on schedule, fetch one vendor's usage reports (USAGE_SOURCE: copilot or claude_code) into the raw
zone. The template deploys this code twice, one function per source, each with its own secret and prefix."""

from __future__ import annotations

import os
from functools import lru_cache, partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from prodlens.adapters.raw_pages import S3PageSink
from prodlens.adapters.secrets import load_token
from prodlens.adapters.usage_state import DynamoUsageSyncState
from prodlens.observability import logger, metrics
from prodlens.services.usage_sync import UsageSyncDeps, UsageSyncSettings, sync_usage


@lru_cache(maxsize=1)
def _settings() -> UsageSyncSettings:
    return UsageSyncSettings.from_env(os.environ)


@lru_cache(maxsize=1)
def _adapters(raw_bucket: str, state_table: str) -> tuple[S3PageSink, DynamoUsageSyncState]:
    return S3PageSink(raw_bucket), DynamoUsageSyncState(state_table)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = _settings()
    sink, state = _adapters(settings.raw_bucket, settings.state_table)
    deps = UsageSyncDeps(sink, state, partial(load_token, settings.token_secret))
    return sync_usage(settings, deps, remaining_s=context.get_remaining_time_in_millis() / 1000)
