"""Field rules shared by every trace format (contract §1–§3), in Python for the per-record parsers.

The vectorized JSONL paths (seed, Claude Code) implement the same rules in SQL (`jsonl.py`); the
unit tests hold the two to the same expected values.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

# Years outside this range are treated as invalid_timestamp rather than stored: a year 9999 or 1970
# value is an encoding bug upstream (wrong epoch unit, zero default), and would create absurd partitions.
MIN_YEAR = 2000
MAX_YEAR = 2100

MAX_RAW_BYTES = 64 * 1024
# A token count above this is an encoding bug, not usage; the bound also keeps the sum of a row's four
# counts (total_tokens) inside BIGINT. Same bound in jsonl.py's SQL.
MAX_TOKENS = 10**15

_SLUG_PART = re.compile(r"[a-z0-9._-]+")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")

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
        "timestamp", "ts", "time", "date", "startTime", "endTime", "completionStartTime", "created_at",
        "updated_at", "closed_at", "merged_at", "startTimeUnixNano", "endTimeUnixNano", "timeUnixNano",
        # identifiers
        "id", "node_id", "uuid", "parentUuid", "leafUuid", "requestId", "request_id", "trace_id", "traceId",
        "spanId", "parentSpanId", "span_id", "sessionId", "session_id", "session.id", "user.id", "user_id",
        "developer_id", "developer", "device_id", "account_uuid", "sha", "number", "login", "key",
        # what the record is
        "type", "role", "kind", "event", "state", "status", "status_code", "call_type", "model", "model_name",
        "model_group", "llm.model_name", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.system",
        "gen_ai.operation.name", "openinference.span.kind", "custom_llm_provider", "repo", "version",
        "stop_reason", "error_code", "error_class",
        # OTLP scalar encodings (the attribute's own key decides whether a stringValue is kept)
        "intValue", "doubleValue", "boolValue",
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


def _from_epoch(value: float, raw: object) -> datetime:
    magnitude = abs(value)
    if magnitude < 1e11:
        micros = value * 1e6
    elif magnitude < 1e14:
        micros = value * 1e3
    elif magnitude < 1e17:
        micros = value
    else:
        micros = value / 1e3
    if not math.isfinite(micros):
        raise RecordError("invalid_timestamp", f"timestamp {raw!r} is not a finite number")
    try:
        return datetime.fromtimestamp(round(micros) / 1e6, tz=UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError) as exc:
        raise RecordError("invalid_timestamp", f"timestamp {raw!r} out of range") from exc


def _epoch_int(value: int) -> datetime:
    """Integer epochs in s/ms/us/ns, exactly (no float rounding for nanosecond strings)."""
    magnitude = abs(value)
    if magnitude < 10**11:
        micros = value * 10**6
    elif magnitude < 10**14:
        micros = value * 10**3
    elif magnitude < 10**17:
        micros = value
    else:
        micros = value // 10**3
    try:
        return datetime(1970, 1, 1) + timedelta(microseconds=micros)
    except OverflowError as exc:
        raise RecordError("invalid_timestamp", f"timestamp {value!r} out of range") from exc


def parse_timestamp(value: Any) -> datetime:
    """Any supported timestamp encoding -> naive UTC datetime; RecordError(missing_/invalid_timestamp) otherwise.

    ISO-8601 with Z or an offset, naive strings (taken as UTC), epoch s/ms/us/ns as numbers or decimal
    strings (OTLP `*UnixNano`), `[seconds, nanos]` pairs. A missing value is never replaced by "now".
    """
    if value is None or value == "":
        raise RecordError("missing_timestamp", "no timestamp")
    if isinstance(value, bool):
        raise RecordError("invalid_timestamp", f"timestamp {value!r} is a boolean")
    if isinstance(value, int):
        ts = _epoch_int(value)
    elif isinstance(value, float):
        ts = _from_epoch(value, value)
    elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        ts = _epoch_int(value[0] * 10**9 + value[1])
    elif isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text) and text.isascii() and len(text) <= 40:
            ts = _epoch_int(int(text)) if text.lstrip("-").isdigit() else _from_epoch(float(text), value)
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
            except ValueError as exc:
                raise RecordError("invalid_timestamp", f"timestamp {value[:64]!r} is not ISO-8601") from exc
            ts = parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    else:
        raise RecordError("invalid_timestamp", f"timestamp of type {type(value).__name__}")
    if not MIN_YEAR <= ts.year <= MAX_YEAR:
        raise RecordError("invalid_timestamp", f"timestamp {str(value)[:64]!r} is outside {MIN_YEAR}-{MAX_YEAR}")
    return ts


def token_count(value: Any, name: str) -> int | None:
    """A token count: a non-negative integer (integral floats accepted); None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError("invalid_tokens", f"{name} is a boolean")
    if isinstance(value, int):
        if value < 0 or value > MAX_TOKENS:
            raise RecordError("invalid_tokens", f"{str(value)[:32]} {name} is out of range")
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and 0 <= value <= MAX_TOKENS:
        return int(value)
    # ASCII digits only: str.isdigit() is also true for "²" (int() refuses it) and other scripts' digits
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value.lstrip("0")) <= 16:
        count = int(value)
        if count <= MAX_TOKENS:
            return count
    # The value itself is not echoed: a string in a token field may be text that must not reach the lake
    shape = f"a {len(value)}-character string" if isinstance(value, str) else f"a {type(value).__name__}"
    raise RecordError("invalid_tokens", f"{name} is {shape}, not a non-negative integer")


def uncached_input(prompt: int, cache_read: int, cache_write: int) -> int:
    """Input tokens without cache tokens, for sources whose prompt count includes them.

    Older LiteLLM builds folded only cache_read into prompt_tokens; when subtracting both goes negative,
    fall back to subtracting cache_read alone before calling the counts inconsistent.
    """
    for candidate in (prompt - cache_read - cache_write, prompt - cache_read):
        if candidate >= 0:
            return candidate
    raise RecordError("invalid_tokens", f"prompt tokens {prompt} < cache read {cache_read}")


def repo_slug(value: Any) -> str | None:
    """A lower-cased `owner/name` slug, None when absent; RecordError(invalid_repo) when malformed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError("invalid_repo", f"repo of type {type(value).__name__}")
    slug = normalize_repo(value)
    if slug is None:
        return None
    if not is_repo_slug(slug):
        raise RecordError("invalid_repo", f"repo {value[:128]!r} is not an owner/name slug")
    return slug


def normalize_repo(value: str) -> str | None:
    """A repo value trimmed and lower-cased, not yet validated; None when empty (pl_slug in jsonl.py in SQL).

    Only spaces are trimmed (as SQL trim() does), and only ASCII is lower-cased: str.lower() folds some
    look-alikes into ASCII (KELVIN SIGN U+212A -> "k"), which would turn a spoofed slug into a real repo's.
    Any other non-ASCII character then fails is_repo_slug."""
    text = value.strip(" ")
    return (text.lower() if text.isascii() else text) or None


def is_repo_slug(slug: str) -> bool:
    """`name` or `owner/name` of [a-z0-9._-], without `..` (the JSONL paths check each distinct repo with it)."""
    parts = slug.split("/")
    return ".." not in slug and len(parts) <= 2 and all(_SLUG_PART.fullmatch(p) for p in parts)


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


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_int(value: Any) -> int | None:
    number = as_float(value)
    if number is None or not number.is_integer() or abs(number) >= 2**31:
        return None
    return int(number)


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
    return None
