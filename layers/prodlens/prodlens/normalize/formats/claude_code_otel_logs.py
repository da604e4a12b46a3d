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

from collections.abc import Iterable, Iterator
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw, first, record_id
from prodlens.normalize.formats.base import Dead, DocumentFormat, Outcome, Row, Skip
from prodlens.normalize.formats.otlp_json import LOGS, MalformedPart, iter_items, otlp_attributes
from prodlens.normalize.rows import ObjectContext, canonical_row
from prodlens.normalize.rules import INTEGER, NUMBER, SLUG, TIMESTAMP, TOKENS

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


# The raw leaves of an event that the field rules check (rules.Rules), by name (the token counts by attribute).
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
RULE_OF = {
    "ts": TIMESTAMP,
    **dict.fromkeys(TOKEN_KEYS, TOKENS),
    "duration_ms": NUMBER,
    "status_code": INTEGER,
    "cost_usd": NUMBER,
    "cost_usd_micros": NUMBER,
    "repo": SLUG,
}


def leaves(resource: dict[str, Any], record: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """The raw values of RULE_OF's leaves, as found (first non-empty of their sources)."""
    return {
        "ts": first(attrs.get("event.timestamp"), record.get("timeUnixNano")),
        **{key: attrs.get(key) for key in (*TOKEN_KEYS, "duration_ms", "status_code", "cost_usd", "cost_usd_micros")},
        "repo": first(attrs.get("repo"), resource.get("repo")),
    }


def _cost(raw: dict[str, Any], ctx: ObjectContext) -> float | None:
    cost = ctx.rules.number(raw["cost_usd"])
    if cost is None and (micros := ctx.rules.number(raw["cost_usd_micros"])) is not None:
        cost = micros / 1e6
    return cost


def parse_event(
    resource: dict[str, Any], name: str, attrs: dict[str, Any], raw: dict[str, Any], ctx: ObjectContext
) -> dict[str, Any]:
    """One api_request / api_error event, its attributes and raw leaves (`leaves`) -> one canonical row."""
    rules = ctx.rules

    def attr(*keys: str) -> Any:
        return first(*(attrs.get(k) for k in keys), *(resource.get(k) for k in keys))

    ts = rules.timestamp(raw["ts"])
    session = attr("session.id")
    request = attrs.get("request_id")
    rid = (
        record_id("claude_code_otel", name, request)
        if request not in (None, "")
        else record_id("claude_code_otel", name, session, attrs.get("event.sequence"), ts.isoformat())
    )

    def tokens(key: str) -> int:
        return rules.tokens(raw[key], key) or 0

    failed = name == ERROR
    developer = attr("user.email", "user.account_uuid", "user.id")
    return canonical_row(
        ctx,
        "claude_code_otel_logs",
        rid,
        own_repo=raw["repo"],
        session_id=str(session) if session is not None else None,
        developer_id=str(developer) if developer is not None else None,
        model=attrs.get("model"),
        ts=ts,
        tokens_in=0 if failed else tokens("input_tokens"),
        tokens_out=0 if failed else tokens("output_tokens"),
        cache_read_tokens=0 if failed else tokens("cache_read_tokens"),
        cache_write_tokens=0 if failed else tokens("cache_creation_tokens"),
        latency_ms=rules.number(raw["duration_ms"]),
        status_code=rules.integer(raw["status_code"]) if failed else 200,
        is_error=failed,
        source_cost=None if failed else _cost(raw, ctx),
    )


def records(documents: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    """One outcome per log record of every document; the field rules of all events are evaluated together."""
    items = []  # (line, index, resource, record, (name, attributes, raw leaves) of an api_request / api_error)
    for line, document in documents:
        for index, (resource, record) in enumerate(iter_items(document, LOGS), 1):
            event = None
            if not isinstance(record, MalformedPart):
                attrs = otlp_attributes(record.get("attributes"))
                name = event_name(record, attrs)
                event = (name, attrs, leaves(resource, record, attrs)) if name in (REQUEST, ERROR) else None
            items.append((line, index, resource, record, event))
    ctx.rules.prefetch_leaves((event[2] for *_, event in items if event), RULE_OF)
    for line, index, resource, record, event in items:
        if isinstance(record, MalformedPart):
            detail = f"log record {index}: {record.path} is a {type(record.value).__name__}, not an OTLP object/list"
            yield line, Dead("invalid_record", detail, dead_letter_raw(None, record.value))
        elif event is None:
            yield line, Skip()
        else:
            try:
                yield line, Row(parse_event(resource, *event, ctx))
            except RecordError as exc:
                detail = f"log record {index} ({event[0]}): {exc.detail}"
                yield line, Dead(exc.reason, detail, dead_letter_raw(None, record))


FORMAT = DocumentFormat("claude_code_otel_logs", detects, records, tool="claude_code")
