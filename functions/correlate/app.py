"""Correlate: on schedule, lagged correlations over the daily tables (cached on their inputs) and the HTML report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from prodlens.adapters.factory import lake_adapters
from prodlens.config import get_settings
from prodlens.observability import logger, metrics
from prodlens.services.correlate import run_correlate


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    adapters = lake_adapters(settings)
    return run_correlate(
        adapters.lake,
        adapters.state,
        now=datetime.now(UTC),
        force=bool(event.get("force")),
        holidays=settings.holidays,
        config=adapters.raw,  # config/rollouts.json, config/people.json
    )
