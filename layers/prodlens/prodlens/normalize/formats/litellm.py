"""LiteLLM: one StandardLoggingPayload per record (its S3 logger writes one object per request), or callback
kwargs wrapping one (`standard_logging_object`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from prodlens.normalize.fields import RecordError, dead_letter_raw, dig, first, record_id, uncached_input
from prodlens.normalize.formats.base import Dead, DocumentFormat, Outcome, Row
from prodlens.normalize.rows import ObjectContext, canonical_row, latency_ms
from prodlens.normalize.rules import NUMBER, SLUG, TIMESTAMP, TOKENS

OAUTH_PLACEHOLDER = "oauth-user"
# Claude Code's metadata.user_id before it became JSON: user_<device>_account_<account>_session_<session>
_LEGACY_IDENTITY = re.compile(
    r"^user_(?P<device>[0-9a-fA-F]+)_account_(?P<account>[0-9a-fA-F-]*)_session_(?P<session>[0-9a-fA-F-]+)$"
)


def claude_identity(value: Any) -> dict[str, str]:
    """device_id / account_uuid / session_id from a Claude Code `metadata.user_id` (JSON first, then legacy)."""
    if isinstance(value, dict):
        parsed: Any = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        parsed = None
        if text.startswith("{"):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
        if parsed is None:
            match = _LEGACY_IDENTITY.match(text)
            if not match:
                return {}
            return {
                "device_id": match.group("device"),
                "account_uuid": match.group("account"),
                "session_id": match.group("session"),
            }
    else:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: str(parsed[k]) for k in ("device_id", "account_uuid", "session_id") if parsed.get(k)}


def detects(obj: Any) -> bool:
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


def _payload(obj: dict[str, Any]) -> dict[str, Any]:
    """The StandardLoggingPayload itself, or the one callback kwargs wrap."""
    return obj["standard_logging_object"] if isinstance(obj.get("standard_logging_object"), dict) else obj


# The raw leaves of a payload that the field rules check (rules.Rules), by name.
RULE_OF = {
    "start": TIMESTAMP,
    "end": TIMESTAMP,
    "prompt_tokens": TOKENS,
    "completion_tokens": TOKENS,
    "cache_read_tokens": TOKENS,
    "cache_write_tokens": TOKENS,
    "cost": NUMBER,
    "repo": SLUG,
}


def leaves(payload: dict[str, Any]) -> dict[str, Any]:
    """The raw values of RULE_OF's leaves, as found (first non-empty of their sources)."""
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    usage = metadata.get("usage_object") if isinstance(metadata.get("usage_object"), dict) else {}
    response_usage = dig(payload, "response", "usage") if isinstance(dig(payload, "response", "usage"), dict) else {}
    return {
        "start": payload.get("startTime"),
        "end": payload.get("endTime"),
        "prompt_tokens": payload.get("prompt_tokens"),
        "completion_tokens": payload.get("completion_tokens"),
        "cache_read_tokens": first(
            usage.get("cache_read_input_tokens"),
            response_usage.get("cache_read_input_tokens"),
            dig(usage, "prompt_tokens_details", "cached_tokens"),
            dig(response_usage, "prompt_tokens_details", "cached_tokens"),
        ),
        "cache_write_tokens": first(
            usage.get("cache_creation_input_tokens"), response_usage.get("cache_creation_input_tokens")
        ),
        "cost": first(payload.get("response_cost"), dig(payload, "hidden_params", "response_cost")),
        "repo": _litellm_repo(payload),
    }


def parse(payload: dict[str, Any], raw: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    """One StandardLoggingPayload and its raw leaves (`leaves`) -> one canonical row."""
    rules = ctx.rules
    ts = rules.timestamp(raw["start"])
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}

    prompt = rules.tokens(raw["prompt_tokens"], "prompt_tokens") or 0
    completion = rules.tokens(raw["completion_tokens"], "completion_tokens") or 0
    cache_read = rules.tokens(raw["cache_read_tokens"], "cache_read_tokens") or 0
    cache_write = rules.tokens(raw["cache_write_tokens"], "cache_write_tokens") or 0
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

    status_code, is_error = _litellm_status(payload)
    call_id = payload.get("litellm_call_id")
    rid = (
        record_id("litellm", call_id) if call_id else record_id("litellm", payload.get("id"), payload.get("startTime"))
    )
    return canonical_row(
        ctx,
        "litellm",
        rid,
        own_repo=raw["repo"],
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
        latency_ms=latency_ms(ctx, ts, raw["end"]),
        status_code=status_code,
        is_error=is_error,
        accepted_flag=None,
        source_cost=rules.number(raw["cost"]),
    )


def announce(documents: list[tuple[int, Any]], ctx: ObjectContext) -> None:
    """The field-rule leaves of these documents, announced to ctx.rules (records does the same first)."""
    ctx.rules.prefetch_leaves((leaves(_payload(document)) for _, document in documents), RULE_OF)


def records(documents: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    """One outcome per document; the field rules of all documents are evaluated together."""
    drafts = [(line, document, _payload(document)) for line, document in documents]
    raws = [leaves(payload) for _, _, payload in drafts]
    ctx.rules.prefetch_leaves(raws, RULE_OF)
    for (line, document, payload), raw in zip(drafts, raws, strict=True):
        try:
            yield line, Row(parse(payload, raw, ctx))
        except RecordError as exc:
            yield line, Dead(exc.reason, exc.detail, dead_letter_raw(None, document))


def skips_key(key: str) -> str | None:
    """LiteLLM's S3 logger also writes audit records (who changed which key or team) under `audit_logs/`."""
    return "litellm_audit_log" if "/audit_logs/" in key else None


FORMAT = DocumentFormat("litellm", detects, records, skips_key=skips_key, announce=announce)
