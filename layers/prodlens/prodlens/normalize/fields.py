"""What every Python-parsed format shares besides the field rules (those are `rules.py`): the record error,
record ids, value lookups, and the privacy filter for the raw text of dead letters (docs/inputs.md, "Bad input").
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

MAX_RAW_BYTES = 64 * 1024

# Keys whose values hold prompt or response text. Never copied into a column; dropped from the raw text
# of a dead letter (whose other string values are redacted too, see RAW_KEEP_KEYS).
TEXT_KEYS = frozenset(
    {
        "messages",
        "response",
        "input",
        "output",
        "prompt",
        "completion",
        "content",
        "text",
        "thinking",
        "toolUseResult",
        "original_response",
        "additional_args",
        "input.value",
        "output.value",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "ai.prompt",
        "ai.prompt.messages",
        "ai.response.text",
        "summary",
        "error_str",
        "error_information",
    }
)
TEXT_KEY_PREFIXES = (
    "llm.input_messages",
    "llm.output_messages",
    "llm.prompts",
    "gen_ai.prompt.",
    "gen_ai.completion.",
)


class RecordError(Exception):
    """A record that cannot become a canonical row; `reason` is the dead letter's machine-readable reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def is_text_key(key: object) -> bool:
    return isinstance(key, str) and (key in TEXT_KEYS or key.startswith(TEXT_KEY_PREFIXES))


def strip_text(value: Any) -> Any:
    """A copy of a parsed JSON value without prompt/response text (also OTLP `{key, value}` attribute lists)."""
    if isinstance(value, dict):
        if "key" in value and "value" in value and is_text_key(value.get("key")):
            return {"key": value["key"], "value": "[stripped]"}
        return {k: strip_text(v) for k, v in value.items() if not is_text_key(k)}
    if isinstance(value, list):
        return [strip_text(v) for v in value]
    return value


def truncate_raw(text: str) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_RAW_BYTES:
        return text
    return data[:MAX_RAW_BYTES].decode("utf-8", "ignore")


# Keys whose string values a dead letter's raw text keeps: identifiers, timestamps, model, repo, status and
# OTLP scalar encodings, i.e. what explains a rejection. Every other string value (a prompt under a key no
# list names, a PR title, a commit message, free text of a line that is not JSON) becomes REDACTED: prompt
# and response text never reaches the lake, and the source key + line number lead to the original in the
# raw bucket when a record has to be fixed and replayed.
RAW_KEEP_KEYS = frozenset(
    {
        # time
        "timestamp",
        "ts",
        "time",
        "date",
        "startTime",
        "endTime",
        "completionStartTime",
        "created_at",
        "updated_at",
        "closed_at",
        "merged_at",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "timeUnixNano",
        # identifiers
        "id",
        "node_id",
        "uuid",
        "parentUuid",
        "leafUuid",
        "requestId",
        "request_id",
        "trace_id",
        "traceId",
        "spanId",
        "parentSpanId",
        "span_id",
        "sessionId",
        "session_id",
        "session.id",
        "user.id",
        "user_id",
        "developer_id",
        "developer",
        "device_id",
        "account_uuid",
        "sha",
        "number",
        "login",
        "key",
        # what the record is
        "type",
        "role",
        "kind",
        "event",
        "state",
        "status",
        "status_code",
        "call_type",
        "model",
        "model_name",
        "model_group",
        "llm.model_name",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.system",
        "gen_ai.operation.name",
        "openinference.span.kind",
        "custom_llm_provider",
        "repo",
        "version",
        "stop_reason",
        "error_code",
        "error_class",
        # OTLP scalar encodings (the attribute's own key decides whether a stringValue is kept)
        "intValue",
        "doubleValue",
        "boolValue",
    }
)
REDACTED = "[redacted]"
_BARE_KEEP = re.compile(r"^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$")


def redact_raw(value: Any, key: str | None = None) -> Any:
    """A parsed JSON value for a dead letter: text keys dropped, strings kept only under RAW_KEEP_KEYS."""
    if isinstance(value, dict):
        if "key" in value and "value" in value and isinstance(value.get("key"), str):  # OTLP attribute
            attribute = value["key"]
            if is_text_key(attribute):
                return {"key": attribute, "value": "[stripped]"}
            kept = attribute if attribute in RAW_KEEP_KEYS else None
            return {"key": attribute, "value": _redact_attribute_value(value["value"], kept)}
        return {k: redact_raw(v, k) for k, v in value.items() if not is_text_key(k)}
    if isinstance(value, list):
        return [redact_raw(v, key) for v in value]
    if isinstance(value, str) and key not in RAW_KEEP_KEYS:
        return REDACTED
    return value


def _redact_attribute_value(value: Any, attribute: str | None) -> Any:
    if isinstance(value, dict):
        return {k: (v if attribute and isinstance(v, str) else redact_raw(v, k)) for k, v in value.items()}
    return value if attribute or not isinstance(value, str) else REDACTED


def redact_text(text: str) -> str:
    """Text that is not valid JSON, redacted token by token: structure, numbers, literals and keys stay;
    string values stay only after a RAW_KEEP_KEYS key; every other string or bare word becomes REDACTED."""
    out: list[str] = []
    i, n = 0, len(text)
    last_key: str | None = None
    while i < n:
        char = text[i]
        if char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            literal = text[i + 1 : min(j, n)]
            i = j + 1
            k = i
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k < n and text[k] == ":":
                last_key = literal
                out.append(f'"{literal}"')
            else:
                out.append(f'"{literal}"' if last_key in RAW_KEEP_KEYS and j < n else f'"{REDACTED}"')
                last_key = None
        elif char in "{}[]:, \t\r\n":
            if char in ",{[":
                last_key = None
            out.append(char)
            i += 1
        else:
            j = i
            while j < n and text[j] not in '"{}[]:, \t\r\n':
                j += 1
            word = text[i:j]
            out.append(word if _BARE_KEEP.match(word) else REDACTED)
            last_key = None
            i = j
    return "".join(out)


# A dead letter's raw JSON keeps this many levels; deeper values become a marker. orjson.dumps refuses more
# than 254 levels and Python recursion stops near 1000, while orjson.loads accepts 1024: a record nested 300
# deep must still become a dead letter, not a crash.
MAX_RAW_DEPTH = 64
TOO_DEEP = "[nested too deep]"


def _cut_depth(value: Any, depth: int = 0) -> Any:
    if not isinstance(value, dict | list):
        return value
    if depth >= MAX_RAW_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {k: _cut_depth(v, depth + 1) for k, v in value.items()}
    return [_cut_depth(v, depth + 1) for v in value]


def dead_letter_raw(line: str | bytes | None, parsed: Any = None) -> str:
    """The raw text kept with a dead letter, without prompt or response text (see RAW_KEEP_KEYS)."""
    if parsed is None and line is None:
        return ""
    if parsed is None:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line)
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            # Only the start can fit in MAX_RAW_BYTES: redacting a 50 MB line whole costs seconds of pure Python.
            # A string cut at the end is unterminated, which redact_text redacts.
            return truncate_raw(redact_text(text[: 4 * MAX_RAW_BYTES]))
    try:
        return truncate_raw(orjson.dumps(redact_raw(_cut_depth(parsed)), option=orjson.OPT_SORT_KEYS).decode())
    except orjson.JSONEncodeError:  # e.g. a lone surrogate or a non-string key: a marker, never a crash
        return "[not serializable]"


def record_id(*parts: object) -> str:
    """A fixed-length dedup key (32 hex) from the source's own identifiers; same formula as the SQL paths."""
    return hashlib.md5("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()  # noqa: S324 - not security


def uncached_input(prompt: int, cache_read: int, cache_write: int) -> int:
    """Input tokens without cache tokens, for sources whose prompt count includes them.

    Older LiteLLM builds folded only cache_read into prompt_tokens; when subtracting both goes negative,
    fall back to subtracting cache_read alone before calling the counts inconsistent.
    """
    for candidate in (prompt - cache_read - cache_write, prompt - cache_read):
        if candidate >= 0:
            return candidate
    raise RecordError("invalid_tokens", f"prompt tokens {prompt} < cache read {cache_read}")


def first(*values: Any) -> Any:
    """The first value that is neither None nor an empty string."""
    for value in values:
        if value is not None and value != "":
            return value
    return None


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
