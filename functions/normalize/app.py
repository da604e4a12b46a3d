"""Normalize: S3 → SQS → here (partial batch failures), plus a scheduled sweep for missed notifications."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from prodlens.adapters.factory import lake_adapters
from prodlens.config import get_settings
from prodlens.normalize import Limits
from prodlens.observability import logger, metrics
from prodlens.services.normalize import NormalizeDeps, normalize_raw_objects, sweep

# A batch whose every record failed (one throttled single-message batch is enough) is answered with every
# record in batchItemFailures, not by raising: SQS retries exactly the same messages either way, but a raise
# reads as a crashed function (Errors metric, ESM backoff) and hides which records failed.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
SWEEP_RESERVE_MS = 60_000  # stop starting new objects when less than this is left


def _deps() -> NormalizeDeps:
    settings = get_settings()
    adapters = lake_adapters(settings)
    return NormalizeDeps(
        adapters.raw,
        adapters.lake,
        adapters.state,
        adapters.catalog,
        Limits(max_decompressed_bytes=settings.max_object_bytes),
    )


def object_keys(body: dict[str, Any]) -> list[str]:
    """Raw keys named by one S3 notification (URL-decoded); none for the s3:TestEvent S3 sends on setup."""
    return [unquote_plus(r["s3"]["object"]["key"]) for r in body.get("Records", []) if r.get("eventSource") == "aws:s3"]


def _batch_keys(event: dict[str, Any]) -> list[str]:
    """Every raw key the batch's messages name (a message whose body is not an S3 notification names none here,
    and fails in record_handler)."""
    keys = []
    for record in event.get("Records", []):
        try:
            keys += object_keys(json.loads(record["body"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return keys


def record_handler(record: SQSRecord, results: dict[str, Any]) -> list[dict[str, Any]]:
    """One message's outcome from the batch's results: its summaries, or the error one of its objects met."""
    outcomes = []
    for key in object_keys(json.loads(record.body)):
        result = results[key]
        if isinstance(result, Exception):
            logger.warning("object failed: its record is retried", source_key=key, exc_info=result)
            raise result
        outcomes.append(result)
    return outcomes


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("mode") == "sweep":
        return sweep(_deps(), lambda: context.get_remaining_time_in_millis() > SWEEP_RESERVE_MS, datetime.now(UTC))
    # The batch's objects are normalized together (their state writes batched); each message then fails or
    # succeeds with its own objects.
    results = normalize_raw_objects(_batch_keys(event), _deps())
    return process_partial_response(
        event=event, record_handler=partial(record_handler, results=results), processor=processor, context=context
    )
