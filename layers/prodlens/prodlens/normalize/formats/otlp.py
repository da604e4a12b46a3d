"""OTLP/JSON trace exports (`resourceSpans`): one record per span; LLM spans (OpenInference or OTel GenAI
attributes) become rows, other spans are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prodlens.normalize.fields import (
    RecordError,
    as_bool,
    as_float,
    as_int,
    dead_letter_raw,
    dig,
    first,
    parse_timestamp,
    record_id,
    token_count,
    uncached_input,
)
from prodlens.normalize.formats.base import Dead, DocumentFormat, Outcome, Row, Skip
from prodlens.normalize.formats.otlp_json import MalformedPart, iter_items, otlp_attributes
from prodlens.normalize.rows import ObjectContext, canonical_row


def detects(obj: Any) -> bool:
    return isinstance(obj, dict) and "resourceSpans" in obj


def is_llm_span(attrs: dict[str, Any]) -> bool:
    """OpenInference kind LLM, or (without an OpenInference kind) an OTel GenAI span with model/usage attributes."""
    kind = attrs.get("openinference.span.kind")
    if kind is not None:
        return str(kind).upper() == "LLM"
    return any(k.startswith("gen_ai.usage.") for k in attrs) or any(
        k in attrs for k in ("gen_ai.request.model", "gen_ai.response.model")
    )


def parse_span(resource: dict[str, Any], span: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    """One LLM span -> one canonical row (callers check is_llm_span first)."""
    attrs = otlp_attributes(span.get("attributes"))
    ts = parse_timestamp(span.get("startTimeUnixNano"))
    latency = None
    if span.get("endTimeUnixNano") not in (None, "", 0, "0"):
        try:
            latency = (parse_timestamp(span.get("endTimeUnixNano")) - ts).total_seconds() * 1000
        except RecordError:
            latency = None
    prompt = token_count(
        first(
            attrs.get("llm.token_count.prompt"),
            attrs.get("gen_ai.usage.input_tokens"),
            attrs.get("gen_ai.usage.prompt_tokens"),
        ),
        "prompt tokens",
    )
    completion = token_count(
        first(
            attrs.get("llm.token_count.completion"),
            attrs.get("gen_ai.usage.output_tokens"),
            attrs.get("gen_ai.usage.completion_tokens"),
        ),
        "completion tokens",
    )
    cache_read = token_count(
        first(
            attrs.get("llm.token_count.prompt_details.cache_read"), attrs.get("gen_ai.usage.cache_read.input_tokens")
        ),
        "cache read tokens",
    )
    cache_write = token_count(
        first(
            attrs.get("llm.token_count.prompt_details.cache_write"),
            attrs.get("gen_ai.usage.cache_creation.input_tokens"),
        ),
        "cache write tokens",
    )
    cache_read, cache_write = cache_read or 0, cache_write or 0
    # OpenInference prompt counts and GenAI input_tokens both include cached input.
    tokens_in = uncached_input(prompt or 0, cache_read, cache_write)
    status_code = as_int(first(attrs.get("http.response.status_code"), attrs.get("http.status_code")))
    is_error = dig(span, "status", "code") in (2, "2", "STATUS_CODE_ERROR") or (status_code or 0) >= 400

    def attr(*keys: str) -> Any:
        return first(*(attrs.get(k) for k in keys), *(resource.get(k) for k in keys))

    trace_id, span_id = str(span.get("traceId") or "").lower(), str(span.get("spanId") or "").lower()
    session = attr("session.id", "gen_ai.conversation.id")
    developer = attr("user.id")
    return canonical_row(
        ctx,
        "otlp",
        record_id("otlp", trace_id, span_id),
        own_repo=attr("repo"),
        session_id=str(session) if session is not None else None,
        developer_id=str(developer) if developer is not None else None,
        model=first(attrs.get("llm.model_name"), attrs.get("gen_ai.response.model"), attrs.get("gen_ai.request.model")),
        ts=ts,
        tokens_in=tokens_in,
        tokens_out=completion or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        latency_ms=latency,
        status_code=status_code,
        is_error=is_error,
        accepted_flag=as_bool(attrs.get("prod_lens.accepted")),
        accepted_lines=as_int(attrs.get("accepted_lines")),
        diff_ratio=as_float(attrs.get("diff_ratio")),
        source_cost=as_float(attrs.get("llm.cost.total")),
    )


def records(document: Any, ctx: ObjectContext) -> Iterator[Outcome]:
    for index, (resource, span) in enumerate(iter_items(document), 1):
        if isinstance(span, MalformedPart):
            detail = f"span {index}: {span.path} is a {type(span.value).__name__}, not an OTLP object/list"
            yield Dead("invalid_record", detail, dead_letter_raw(None, span.value))
            continue
        if not is_llm_span(otlp_attributes(span.get("attributes"))):
            yield Skip()
            continue
        try:
            yield Row(parse_span(resource, span, ctx))
        except RecordError as exc:
            detail = f"span {index} ({span.get('traceId')}/{span.get('spanId')}): {exc.detail}"
            yield Dead(exc.reason, detail, dead_letter_raw(None, span))


FORMAT = DocumentFormat("otlp", detects, records)
