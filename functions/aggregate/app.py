"""Aggregate: on schedule, recompute the daily tables for the dirty partitions; or backfill a date range."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from prodlens.adapters.factory import lake_adapters
from prodlens.config import get_settings
from prodlens.observability import logger, metrics
from prodlens.services.aggregate import parse_event, run_aggregate


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    backfill = parse_event(event)  # {"job": "aggregate", "scheduled_time": ...} or {..., "backfill": {start, end}}
    adapters = lake_adapters(get_settings())
    with tempfile.TemporaryDirectory(prefix="aggregate-") as workdir:
        return run_aggregate(
            adapters.lake,
            adapters.state,
            adapters.catalog,
            Path(workdir),
            backfill=backfill,
            now=datetime.now(UTC),
            config=adapters.raw,  # config/people.json
        )
