"""OTLP/JSON trace exports (`resourceSpans`): one record per span; LLM spans (OpenInference or OTel GenAI
attributes) become rows, other spans are skipped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw, dig, first, record_id, uncached_input
from prodlens.normalize.formats.base import Dead, DocumentFormat, Outcome, Row, Skip
from prodlens.normalize.formats.otlp_json import MalformedPart, iter_items, otlp_attributes
from prodlens.normalize.rows import ObjectContext, canonical_row, latency_ms
from prodlens.normalize.rules import BOOLEAN, INTEGER, NUMBER, SLUG, TIMESTAMP, TOKENS


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


# The raw leaves of an LLM span that the field rules check (rules.Rules), by name.
RULE_OF = {
    "start": TIMESTAMP,
    "end": TIMESTAMP,
    "prompt tokens": TOKENS,
    "completion tokens": TOKENS,
    "cache read tokens": TOKENS,
    "cache write tokens": TOKENS,
    "status_code": INTEGER,
    "accepted": BOOLEAN,
    "accepted_lines": INTEGER,
    "diff_ratio": NUMBER,
    "cost": NUMBER,
    "repo": SLUG,
}


def leaves(resource: dict[str, Any], span: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """The raw values of RULE_OF's leaves, as found (first non-empty of their sources)."""
    end = span.get("endTimeUnixNano")
    return {
        "start": span.get("startTimeUnixNano"),
        "end": None if end in ("", 0, "0") else end,
        "prompt tokens": first(
            attrs.get("llm.token_count.prompt"),
            attrs.get("gen_ai.usage.input_tokens"),
            attrs.get("gen_ai.usage.prompt_tokens"),
        ),
        "completion tokens": first(
            attrs.get("llm.token_count.completion"),
            attrs.get("gen_ai.usage.output_tokens"),
            attrs.get("gen_ai.usage.completion_tokens"),
        ),
        "cache read tokens": first(
            attrs.get("llm.token_count.prompt_details.cache_read"), attrs.get("gen_ai.usage.cache_read.input_tokens")
        ),
        "cache write tokens": first(
            attrs.get("llm.token_count.prompt_details.cache_write"),
            attrs.get("gen_ai.usage.cache_creation.input_tokens"),
        ),
        "status_code": first(attrs.get("http.response.status_code"), attrs.get("http.status_code")),
        "accepted": attrs.get("prod_lens.accepted"),
        "accepted_lines": attrs.get("accepted_lines"),
        "diff_ratio": attrs.get("diff_ratio"),
        "cost": attrs.get("llm.cost.total"),
        "repo": first(attrs.get("repo"), resource.get("repo")),
    }


def parse_span(
    resource: dict[str, Any], span: dict[str, Any], attrs: dict[str, Any], raw: dict[str, Any], ctx: ObjectContext
) -> dict[str, Any]:
    """One LLM span, its attributes and raw leaves (`leaves`) -> one canonical row (callers check is_llm_span)."""
    rules = ctx.rules
    ts = rules.timestamp(raw["start"])
    prompt = rules.tokens(raw["prompt tokens"], "prompt tokens")
    completion = rules.tokens(raw["completion tokens"], "completion tokens")
    cache_read = rules.tokens(raw["cache read tokens"], "cache read tokens") or 0
    cache_write = rules.tokens(raw["cache write tokens"], "cache write tokens") or 0
    # OpenInference prompt counts and GenAI input_tokens both include cached input.
    tokens_in = uncached_input(prompt or 0, cache_read, cache_write)
    status_code = rules.integer(raw["status_code"])
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
        own_repo=raw["repo"],
        session_id=str(session) if session is not None else None,
        developer_id=str(developer) if developer is not None else None,
        model=first(attrs.get("llm.model_name"), attrs.get("gen_ai.response.model"), attrs.get("gen_ai.request.model")),
        ts=ts,
        tokens_in=tokens_in,
        tokens_out=completion or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        latency_ms=latency_ms(ctx, ts, raw["end"]),
        status_code=status_code,
        is_error=is_error,
        accepted_flag=rules.boolean(raw["accepted"]),
        accepted_lines=rules.integer(raw["accepted_lines"]),
        diff_ratio=rules.number(raw["diff_ratio"]),
        source_cost=rules.number(raw["cost"]),
    )


def _spans(documents: Iterable[tuple[int, Any]]) -> list[tuple[int, int, Any, Any, Any]]:
    """(line, index, resource, span, its attributes and raw leaves when it is an LLM span) of every span."""
    spans = []
    for line, document in documents:
        for index, (resource, span) in enumerate(iter_items(document), 1):
            attrs = None if isinstance(span, MalformedPart) else otlp_attributes(span.get("attributes"))
            llm = (attrs, leaves(resource, span, attrs)) if attrs is not None and is_llm_span(attrs) else None
            spans.append((line, index, resource, span, llm))
    return spans


def announce(documents: list[tuple[int, Any]], ctx: ObjectContext) -> None:
    """The field-rule leaves of these documents' LLM spans, announced to ctx.rules (records does the same first)."""
    ctx.rules.prefetch_leaves((llm[1] for *_, llm in _spans(documents) if llm), RULE_OF)


def records(documents: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    """One outcome per span of every document; the field rules of all LLM spans are evaluated together."""
    spans = _spans(documents)
    ctx.rules.prefetch_leaves((llm[1] for *_, llm in spans if llm), RULE_OF)
    for line, index, resource, span, llm in spans:
        if isinstance(span, MalformedPart):
            detail = f"span {index}: {span.path} is a {type(span.value).__name__}, not an OTLP object/list"
            yield line, Dead("invalid_record", detail, dead_letter_raw(None, span.value))
        elif llm is None:
            yield line, Skip()
        else:
            try:
                yield line, Row(parse_span(resource, span, *llm, ctx))
            except RecordError as exc:
                detail = f"span {index} ({span.get('traceId')}/{span.get('spanId')}): {exc.detail}"
                yield line, Dead(exc.reason, detail, dead_letter_raw(None, span))


FORMAT = DocumentFormat("otlp", detects, records, announce=announce)
