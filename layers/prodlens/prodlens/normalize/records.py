"""Per-record parsers for the formats that arrive as one small JSON document per object: LiteLLM and OTLP.

Each parser turns one parsed JSON value into canonical rows (dicts keyed by the traces columns plus
`event_date`, `repo`, `_source_cost`) or raises RecordError; non-LLM OTLP spans are reported as skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prodlens.normalize.fields import (
    RecordError,
    as_bool,
    as_float,
    as_int,
    claude_identity,
    dig,
    first,
    parse_timestamp,
    record_id,
    repo_slug,
    token_count,
    uncached_input,
)

OAUTH_PLACEHOLDER = "oauth-user"


@dataclass(frozen=True)
class ObjectContext:
    source_key: str
    meta_repo: str | None
    meta_developer: str | None


def _model_name(value: Any) -> str | None:
    """A model name is text (a number is kept as its text); an object, list or boolean is no model at all."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _row(ctx: ObjectContext, source_format: str, rid: str, **values: Any) -> dict[str, Any]:
    repo = repo_slug(values.pop("own_repo", None)) or repo_slug(ctx.meta_repo) or "unknown"
    ts = values["ts"]
    tokens = (values["tokens_in"], values["tokens_out"], values["cache_read_tokens"], values["cache_write_tokens"])
    row = {
        "record_id": rid,
        "source_format": source_format,
        "source_key": ctx.source_key,
        "session_id": values.get("session_id"),
        "developer_id": values.get("developer_id") or ctx.meta_developer or None,
        "model": _model_name(values.get("model")),
        "ts": ts,
        "tokens_in": tokens[0],
        "tokens_out": tokens[1],
        "cache_read_tokens": tokens[2],
        "cache_write_tokens": tokens[3],
        "total_tokens": sum(tokens),
        "latency_ms": values.get("latency_ms"),
        "status_code": values.get("status_code"),
        "is_error": bool(values.get("is_error")),
        "accepted_flag": values.get("accepted_flag"),
        "accepted_lines": values.get("accepted_lines"),
        "diff_ratio": values.get("diff_ratio"),
        "_source_cost": values.get("source_cost"),
        "event_date": ts.strftime("%Y-%m-%d"),
        "repo": repo,
    }
    return row


def is_litellm(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("standard_logging_object"), dict):
        return True
    return "startTime" in obj and ("id" in obj or "litellm_call_id" in obj) and "prompt_tokens" in obj


def _litellm_repo(payload: dict[str, Any]) -> Any:
    tags = payload.get("request_tags")
    tag_repo = None
    if isinstance(tags, list):
        tag_repo = next((t[5:] for t in tags if isinstance(t, str) and t.startswith("repo:")), None)
    return first(
        dig(payload, "metadata", "requester_metadata", "repo"),
        dig(payload, "metadata", "spend_logs_metadata", "repo"),
        tag_repo,
    )


def _litellm_status(payload: dict[str, Any]) -> tuple[int | None, bool]:
    status = payload.get("status")
    if status == "success":
        return 200, False
    if status == "failure":
        code = str(dig(payload, "error_information", "error_code") or "").strip()
        return (int(code) if code.isascii() and code.isdigit() and len(code) <= 3 else 500), True
    return None, False


def parse_litellm(obj: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    """One StandardLoggingPayload (or callback kwargs wrapping one) -> one canonical row."""
    payload = obj["standard_logging_object"] if isinstance(obj.get("standard_logging_object"), dict) else obj
    ts = parse_timestamp(payload.get("startTime"))
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    usage = metadata.get("usage_object") if isinstance(metadata.get("usage_object"), dict) else {}
    response_usage = dig(payload, "response", "usage") if isinstance(dig(payload, "response", "usage"), dict) else {}

    prompt = token_count(payload.get("prompt_tokens"), "prompt_tokens") or 0
    completion = token_count(payload.get("completion_tokens"), "completion_tokens") or 0
    cache_read = token_count(
        first(
            usage.get("cache_read_input_tokens"),
            response_usage.get("cache_read_input_tokens"),
            dig(usage, "prompt_tokens_details", "cached_tokens"),
            dig(response_usage, "prompt_tokens_details", "cached_tokens"),
        ),
        "cache_read_tokens",
    )
    cache_write = token_count(
        first(usage.get("cache_creation_input_tokens"), response_usage.get("cache_creation_input_tokens")),
        "cache_write_tokens",
    )
    cache_read, cache_write = cache_read or 0, cache_write or 0
    # LiteLLM's prompt_tokens include cache tokens (Anthropic: read + creation; OpenAI: cached_tokens).
    tokens_in = uncached_input(prompt, cache_read, cache_write)

    identity = claude_identity(
        first(dig(metadata, "requester_metadata", "user_id"), metadata.get("user_api_key_end_user_id"))
    )
    user_id = metadata.get("user_api_key_user_id")
    developer = first(
        None if user_id in (None, "", OAUTH_PLACEHOLDER) else user_id,
        identity.get("account_uuid"),
        metadata.get("user_api_key_user_email"),
        payload.get("end_user"),
    )
    session = first(
        identity.get("session_id"), dig(metadata, "spend_logs_metadata", "session_id"), payload.get("trace_id")
    )

    end = payload.get("endTime")
    latency = None
    if end is not None:
        try:
            latency = (parse_timestamp(end) - ts).total_seconds() * 1000
        except RecordError:
            latency = None
    status_code, is_error = _litellm_status(payload)
    call_id = payload.get("litellm_call_id")
    rid = (
        record_id("litellm", call_id) if call_id else record_id("litellm", payload.get("id"), payload.get("startTime"))
    )
    return _row(
        ctx,
        "litellm",
        rid,
        own_repo=_litellm_repo(payload),
        session_id=str(session) if session is not None else None,
        developer_id=str(developer) if developer is not None else None,
        model=first(
            payload.get("model"), dig(payload, "hidden_params", "litellm_model_name"), payload.get("model_group")
        ),
        ts=ts,
        tokens_in=tokens_in,
        tokens_out=completion,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        latency_ms=latency,
        status_code=status_code,
        is_error=is_error,
        accepted_flag=None,
        source_cost=as_float(first(payload.get("response_cost"), dig(payload, "hidden_params", "response_cost"))),
    )


def _otlp_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "arrayValue" in value:
        values = dig(value, "arrayValue", "values")
        return [_otlp_value(v) for v in values] if isinstance(values, list) else None
    if "kvlistValue" in value:
        return otlp_attributes(dig(value, "kvlistValue", "values"))
    return None


def otlp_attributes(attributes: Any) -> dict[str, Any]:
    """OTLP `[{key, value: {stringValue|intValue|...}}]` (or an already flat map) -> {key: python value}."""
    if isinstance(attributes, dict):
        return attributes
    out: dict[str, Any] = {}
    if not isinstance(attributes, list):  # malformed: no attributes (the span is then not an LLM span)
        return out
    for item in attributes:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = _otlp_value(item.get("value"))
    return out


@dataclass(frozen=True)
class MalformedPart:
    """A part of an OTLP export that should hold spans but has the wrong JSON type: one record, a dead letter."""

    path: str
    value: Any


def _items(value: Any, path: str) -> list[Any]:
    """The elements of an OTLP list field: [] when absent, a MalformedPart when it is not a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [MalformedPart(path, value)]


def iter_spans(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any] | MalformedPart]]:
    """(resource attributes, span) for every span; a part that cannot hold spans (a span, scope or resource
    that is not an object, a list field that is not a list) is yielded once as a MalformedPart, never skipped."""
    for i, resource_spans in enumerate(_items(document.get("resourceSpans"), "resourceSpans")):
        if not isinstance(resource_spans, dict):
            yield {}, resource_spans if isinstance(resource_spans, MalformedPart) else MalformedPart(
                f"resourceSpans[{i}]", resource_spans
            )
            continue
        resource = otlp_attributes(dig(resource_spans, "resource", "attributes"))
        scopes_key = "scopeSpans" if "scopeSpans" in resource_spans else "instrumentationLibrarySpans"
        for j, scope_spans in enumerate(_items(resource_spans.get(scopes_key), f"resourceSpans[{i}].{scopes_key}")):
            path = f"resourceSpans[{i}].{scopes_key}[{j}]"
            if not isinstance(scope_spans, dict):
                yield resource, scope_spans if isinstance(scope_spans, MalformedPart) else MalformedPart(
                    path, scope_spans
                )
                continue
            for k, span in enumerate(_items(scope_spans.get("spans"), f"{path}.spans")):
                yield resource, span if isinstance(span, dict | MalformedPart) else MalformedPart(
                    f"{path}.spans[{k}]", span
                )


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
    return _row(
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
