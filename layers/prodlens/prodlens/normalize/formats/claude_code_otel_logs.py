"""Claude Code's OpenTelemetry log events (`resourceLogs`), as an OpenTelemetry Collector's S3 exporter writes
them (OTLP/JSON): one row per `claude_code.api_request` event, and one error row per `claude_code.api_error`.

Every other log record (user prompts, tool results, decisions, other services' logs) is read and skipped.
Event attributes: `model`, `input_tokens` (uncached, as in Claude Code's transcripts), `output_tokens`,
`cache_read_tokens`, `cache_creation_tokens`, `cost_usd` (or `cost_usd_micros`), `duration_ms`,
`request_id`, `session.id`, `user.email` / `user.account_uuid` / `user.id`, `event.timestamp`,
`event.sequence`; `api_error` adds `status_code` and `error`. Record id: the `request_id`, else
(`session.id`, `event.sequence`). Time: `event.timestamp`, else the record's `timeUnixNano`. The same tokens
are also in Claude Code's `claude_code.token.usage` metrics (usage summaries): the two are never added.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prodlens.normalize.fields import (
    RecordError,
    as_float,
    as_int,
    dead_letter_raw,
    first,
    parse_timestamp,
    record_id,
    token_count,
)
from prodlens.normalize.formats.base import Dead, DocumentFormat, Outcome, Row, Skip
from prodlens.normalize.formats.otlp_json import LOGS, MalformedPart, iter_items, otlp_attributes
from prodlens.normalize.rows import ObjectContext, canonical_row

REQUEST, ERROR = "api_request", "api_error"


def detects(obj: Any) -> bool:
    return isinstance(obj, dict) and "resourceLogs" in obj


def event_name(record: dict[str, Any], attrs: dict[str, Any]) -> str | None:
    """`api_request` / `api_error` / ... without the `claude_code.` prefix (attribute, else the body)."""
    name = attrs.get("event.name")
    if not isinstance(name, str):
        body = otlp_attributes([{"key": "body", "value": record.get("body")}]).get("body")
        name = body if isinstance(body, str) else None
    return name.removeprefix("claude_code.") if name else None


def _cost(attrs: dict[str, Any]) -> float | None:
    cost = as_float(attrs.get("cost_usd"))
    if cost is None and (micros := as_float(attrs.get("cost_usd_micros"))) is not None:
        cost = micros / 1e6
    return cost


def parse_event(resource: dict[str, Any], record: dict[str, Any], name: str, ctx: ObjectContext) -> dict[str, Any]:
    attrs = otlp_attributes(record.get("attributes"))

    def attr(*keys: str) -> Any:
        return first(*(attrs.get(k) for k in keys), *(resource.get(k) for k in keys))

    ts = parse_timestamp(first(attrs.get("event.timestamp"), record.get("timeUnixNano")))
    session = attr("session.id")
    request = attrs.get("request_id")
    rid = (
        record_id("claude_code_otel", name, request)
        if request not in (None, "")
        else record_id("claude_code_otel", name, session, attrs.get("event.sequence"), ts.isoformat())
    )

    def tokens(key: str) -> int:
        return token_count(attrs.get(key), key) or 0

    failed = name == ERROR
    developer = attr("user.email", "user.account_uuid", "user.id")
    return canonical_row(
        ctx,
        "claude_code_otel_logs",
        rid,
        own_repo=attr("repo"),
        session_id=str(session) if session is not None else None,
        developer_id=str(developer) if developer is not None else None,
        model=attrs.get("model"),
        ts=ts,
        tokens_in=0 if failed else tokens("input_tokens"),
        tokens_out=0 if failed else tokens("output_tokens"),
        cache_read_tokens=0 if failed else tokens("cache_read_tokens"),
        cache_write_tokens=0 if failed else tokens("cache_creation_tokens"),
        latency_ms=as_float(attrs.get("duration_ms")),
        status_code=as_int(attrs.get("status_code")) if failed else 200,
        is_error=failed,
        source_cost=None if failed else _cost(attrs),
    )


def records(document: Any, ctx: ObjectContext) -> Iterator[Outcome]:
    for index, (resource, record) in enumerate(iter_items(document, LOGS), 1):
        if isinstance(record, MalformedPart):
            detail = f"log record {index}: {record.path} is a {type(record.value).__name__}, not an OTLP object/list"
            yield Dead("invalid_record", detail, dead_letter_raw(None, record.value))
            continue
        name = event_name(record, otlp_attributes(record.get("attributes")))
        if name not in (REQUEST, ERROR):
            yield Skip()
            continue
        try:
            yield Row(parse_event(resource, record, name, ctx))
        except RecordError as exc:
            yield Dead(exc.reason, f"log record {index} ({name}): {exc.detail}", dead_letter_raw(None, record))


FORMAT = DocumentFormat("claude_code_otel_logs", detects, records, tool="claude_code")
