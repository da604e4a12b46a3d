"""Property-based fuzz of the format parsers: whatever the bytes, normalize_object returns counts that balance
(rows + dead letters + skipped == records read, docs/inputs.md "Bad input") and never raises.

Generated objects mix records every parser must accept with truncated, garbage, blank and mistyped ones, so
each example also checks that no good record was lost and that no out-of-contract value became a row.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prodlens.models import Counts, NormalizeOutput, SourceObject
from prodlens.normalize import normalize_object

from tests.unit.normalize.normalize_helpers import dead_letters, traces
from tests.unit.normalize.test_bad_input import seed_line

pytestmark = pytest.mark.faults

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run and every worker: a failure is reproducible in CI
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
REASONS = {
    "invalid_json",
    "invalid_record",
    "unknown_format",
    "missing_timestamp",
    "invalid_timestamp",
    "invalid_repo",
    "invalid_tokens",
    "invalid_gzip",
    "too_large",
    "unreadable",
    "line_too_long",
}

# -- values ----------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "NaN", "-1", "1e3", "12.0", "²", "١٢", "9" * 30, "2025-10-12T19:00:00Z", "9999-12-31"]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
timestamps = st.one_of(
    st.sampled_from(["2025-10-12T19:00:00Z", "2025-10-12 19:00:00.123456", "1970-01-01T00:00:00Z",
                     "9999-12-31T23:59:59Z", "0", "", "yesterday", "1760295600", "1760295600123"]),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.floats(allow_nan=True, allow_infinity=True),
    json_values,
)
slugs = st.sampled_from(["acme/api", "ACME/Api", "../x", "%2e%2e/x", "\u0430cme/api", "acme\uff0fapi", "acme/\u212a",
                         "a/b/c", "", " acme/api ", "acme/api\t"]) | json_values


def _mutate(record: dict[str, Any], draw: st.DrawFn, paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """Replace or delete a few fields (by path) with values of any JSON type."""
    record = json.loads(json.dumps(record))
    for path in draw(st.lists(st.sampled_from(paths), max_size=3)):
        parent = record
        for name in path[:-1]:
            if not isinstance(parent.get(name), dict):
                parent[name] = {}
            parent = parent[name]
        if draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(json_values)
    return record


def _dumps(record: Any) -> bytes:
    return json.dumps(record, allow_nan=True).encode("utf-8", "surrogatepass")


# -- JSONL (seed, Claude Code) ---------------------------------------------------------------------------------

SEED_PATHS = [("timestamp",), ("start_time",), ("usage",), ("usage", "input_tokens"), ("usage", "output_tokens"),
              ("usage", "total_tokens"), ("metadata",), ("metadata", "repo"), ("metadata", "session_id"),
              ("attributes",), ("attributes", "llm.model_name"), ("attributes", "latency_ms"),
              ("attributes", "status_code"), ("attributes", "repo"), ("attributes", "llm.cost.total")]
CLAUDE_PATHS = [("type",), ("sessionId",), ("timestamp",), ("requestId",), ("costUSD",), ("message",),
                ("message", "id"), ("message", "model"), ("message", "usage"), ("message", "usage", "input_tokens"),
                ("message", "usage", "output_tokens"), ("message", "usage", "cache_read_input_tokens")]


def claude_line(n: int, minute: int) -> dict[str, Any]:
    return {
        "type": "assistant",
        "sessionId": "sess-1",
        "uuid": f"u{n}",
        "timestamp": f"2025-10-12T19:{minute:02d}:00Z",
        "requestId": f"req_{n}",
        "message": {"id": f"msg_{n}", "model": "claude-sonnet-4-5", "role": "assistant",
                    "usage": {"input_tokens": 3, "output_tokens": 7, "cache_read_input_tokens": 11}},
    }


@st.composite
def jsonl_lines(draw: st.DrawFn) -> tuple[list[bytes], list[str]]:
    """(lines, kind of each line): good seed / good claude / mutated / truncated / garbage / blank / user."""
    lines: list[bytes] = []
    kinds: list[str] = []
    for n in range(draw(st.integers(min_value=1, max_value=12))):
        kind = draw(st.sampled_from(["seed", "seed", "claude", "claude", "mutated_seed", "mutated_claude",
                                     "truncated", "garbage", "blank", "user"]))
        minute = draw(st.integers(min_value=0, max_value=59))
        if kind == "seed":
            line = seed_line(timestamp=f"2025-10-12T19:{minute:02d}:00Z").encode()
        elif kind == "claude":
            line = _dumps(claude_line(n, minute))
        elif kind == "mutated_seed":
            line = _dumps(_mutate(json.loads(seed_line()), draw, SEED_PATHS))
        elif kind == "mutated_claude":
            line = _dumps(_mutate(claude_line(n, minute), draw, CLAUDE_PATHS))
        elif kind == "truncated":
            whole = seed_line().encode() if draw(st.booleans()) else _dumps(claude_line(n, minute))
            line = whole[: draw(st.integers(min_value=1, max_value=len(whole) - 1))]
        elif kind == "garbage":
            line = draw(st.binary(max_size=40)).replace(b"\n", b" ").replace(b"\r", b" ")
            kind = "blank" if not line.strip() else kind
        elif kind == "blank":
            line = draw(st.sampled_from([b"", b" ", b"   "]))
        else:
            line = _dumps({"type": "user", "sessionId": "sess-1", "timestamp": "2025-10-12T19:00:00Z",
                           "message": {"role": "user", "content": "hi"}})
        lines.append(line)
        kinds.append(kind)
    return lines, kinds


@dataclass
class Result:
    output: NormalizeOutput
    rows: list[dict[str, Any]]
    dead: list[dict[str, Any]]

    @property
    def counts(self) -> Counts:
        return self.output.counts


def run_object(name: str, data: bytes, metadata: dict[str, str] | None = None) -> Result:
    """normalize_object on `data` in a fresh workdir; the properties every object must keep."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        output = normalize_object(SourceObject(f"traces/fuzz/{name}", path, metadata or {}), Path(tmp) / "out")
        rows, dead = traces(output), dead_letters(output)
    counts = output.counts
    assert counts.rows + counts.dead_letters + counts.skipped == counts.read, counts.as_dict()
    assert (len(rows), len(dead)) == (counts.rows, counts.dead_letters)
    assert {d["reason"] for d in dead} <= REASONS, {d["reason"] for d in dead}
    for row in rows:
        assert 2000 <= row["ts"].year <= 2100
        assert min(row["tokens_in"], row["tokens_out"], row["cache_read_tokens"], row["cache_write_tokens"]) >= 0
        assert row["total_tokens"] == (row["tokens_in"] + row["tokens_out"] + row["cache_read_tokens"]
                                       + row["cache_write_tokens"])
        assert row["repo"] == "unknown" or row["repo"].isascii() and ".." not in row["repo"], row["repo"]
        assert all(row[c] is None or math.isfinite(row[c]) for c in ("latency_ms", "cost_usd", "diff_ratio"))
    return Result(output, rows, dead)


@FUZZ
@given(generated=jsonl_lines(), trailing_newline=st.booleans())
def test_jsonl_mix_always_balances_and_keeps_every_good_line(generated, trailing_newline, ledger):
    lines, kinds = generated
    data = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    result = run_object("mix.jsonl", data)
    output, dead = result.output, result.dead
    ledger["fuzz examples"] += 1
    ledger["dead letters checked"] += len(dead)
    if any(d["line_number"] == 0 for d in dead):  # the whole object rejected (no known first line): one record
        assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}
        assert not {"seed", "claude"} & set(kinds) or output.source_format is None
        return
    # every non-blank line is one record, and a dead letter's line number is a real, non-blank line
    assert output.counts.read == sum(kind != "blank" for kind in kinds)
    assert {d["line_number"] for d in dead} <= {i for i, kind in enumerate(kinds, 1) if kind != "blank"}
    # every good line of the detected format is a row (seed lines repeat: the same line counts once)
    good = {"seed": "seed", "claude_code": "claude"}.get(output.source_format or "")
    expected = len({line for line, kind in zip(lines, kinds, strict=True) if kind == good})
    got = Counter(r["source_format"] for r in result.rows)[output.source_format]
    assert got >= expected, (output.source_format, got, expected)
    ledger["rows lost"] += 0


# -- LiteLLM ---------------------------------------------------------------------------------------------------

LITELLM_PATHS = [("id",), ("litellm_call_id",), ("trace_id",), ("startTime",), ("endTime",), ("model",),
                 ("prompt_tokens",), ("completion_tokens",), ("response_cost",), ("status",), ("end_user",),
                 ("error_information",), ("error_information", "error_code"), ("metadata",),
                 ("metadata", "requester_metadata"), ("metadata", "requester_metadata", "repo"),
                 ("metadata", "requester_metadata", "user_id"), ("metadata", "usage_object"),
                 ("metadata", "usage_object", "cache_read_input_tokens"), ("metadata", "spend_logs_metadata"),
                 ("metadata", "user_api_key_user_id"), ("request_tags",), ("hidden_params",), ("model_group",)]


def litellm_payload(n: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{n}",
        "trace_id": f"trace-{n}",
        "startTime": 1760295600.25 + n,
        "endTime": 1760295601.5 + n,
        "model": "claude-sonnet-4-5",
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "response_cost": 0.0012,
        "status": "success",
        "metadata": {"requester_metadata": {"repo": "acme/api", "user_id": '{"session_id": "s1"}'},
                     "usage_object": {"cache_read_input_tokens": 20}},
    }


@st.composite
def litellm_documents(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Payloads, some with fields removed or of the wrong type, some with a hostile repo."""
    payloads = []
    for n in range(draw(st.integers(min_value=1, max_value=4))):
        payload = litellm_payload(n)
        if draw(st.booleans()):
            payload = _mutate(payload, draw, LITELLM_PATHS)
            for name in ("startTime", "id", "prompt_tokens"):  # still recognisable as a LiteLLM payload
                payload.setdefault(name, None)
        if draw(st.booleans()):
            metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
            payload["metadata"] = {**metadata, "requester_metadata": {"repo": draw(slugs)}}
        payloads.append(payload)
    return payloads


@FUZZ
@given(documents=litellm_documents(), shape=st.sampled_from(["object", "lines", "array", "wrapped"]))
def test_litellm_payloads_always_balance(documents, shape, ledger):
    payloads = documents
    if shape == "object":
        data, name = _dumps(payloads[0]), "payload.json"
    elif shape == "lines":
        data, name = b"\n".join(_dumps(p) for p in payloads) + b"\n", "payloads.jsonl"
    elif shape == "array":
        data, name = _dumps(payloads), "payloads.json"
    else:  # the callback kwargs shape: the payload under standard_logging_object
        data, name = _dumps({"standard_logging_object": payloads[0], "model": "x"}), "kwargs.json"
    output = run_object(name, data)
    expected_read = len(payloads) if shape in ("lines", "array") else 1
    assert output.counts.read == expected_read, (shape, output.counts.as_dict())
    ledger["fuzz examples"] += 1
    ledger["dead letters checked"] += output.counts.dead_letters


@FUZZ
@given(payload=st.just(litellm_payload(0)), slug=slugs, tokens=scalars, start=timestamps)
def test_litellm_good_payload_is_a_row_unless_a_field_breaks_the_contract(payload, slug, tokens, start, ledger):
    # one field at a time: the payload is a row exactly when that field is acceptable
    for name, change in [("repo", {"metadata": {"requester_metadata": {"repo": slug}}}),
                         ("tokens", {"completion_tokens": tokens}), ("start", {"startTime": start})]:
        output = run_object(f"{name}.json", _dumps({**payload, **change}))
        assert output.counts.read == 1
        if output.counts.rows == 0:
            (letter,) = output.dead
            expected = {"repo": {"invalid_repo"}, "tokens": {"invalid_tokens"},
                        "start": {"invalid_timestamp", "missing_timestamp"}}[name]
            assert letter["reason"] in expected, (name, change, letter["reason"], letter["detail"])
        ledger["fuzz examples"] += 1


# -- OTLP ------------------------------------------------------------------------------------------------------

attribute_values = st.one_of(
    st.builds(lambda v: {"stringValue": v}, st.text(max_size=10) | st.sampled_from(["LLM", "CHAIN", "acme/api"])),
    st.builds(lambda v: {"intValue": v}, st.integers(min_value=-(2**70), max_value=2**70).map(str) | json_values),
    st.builds(lambda v: {"doubleValue": v}, st.floats(allow_nan=True, allow_infinity=True)),
    st.builds(lambda v: {"boolValue": v}, st.booleans()),
    st.builds(lambda v: {"arrayValue": v}, json_values),
    st.builds(lambda v: {"kvlistValue": v}, json_values),
    json_values,
)
ATTRIBUTE_KEYS = ["openinference.span.kind", "llm.model_name", "llm.token_count.prompt", "llm.token_count.completion",
                  "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "session.id",
                  "user.id", "repo", "http.status_code", "llm.cost.total", "prod_lens.accepted", "diff_ratio"]
attributes = st.one_of(
    st.lists(st.fixed_dictionaries({"key": st.sampled_from(ATTRIBUTE_KEYS) | st.text(max_size=5),
                                    "value": attribute_values}), max_size=6),
    st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), json_values, max_size=4),
    json_values,
)
spans = st.fixed_dictionaries(
    {},
    optional={
        "traceId": st.text(max_size=8) | json_values,
        "spanId": st.text(max_size=8) | json_values,
        "startTimeUnixNano": timestamps | st.just("1760295600000000000"),
        "endTimeUnixNano": timestamps | st.just("1760295601000000000"),
        "status": json_values,
        "attributes": attributes,
    },
)
LLM_SPAN = {
    "traceId": "a" * 32, "spanId": "b" * 16, "startTimeUnixNano": "1760295600000000000",
    "endTimeUnixNano": "1760295601000000000",
    "attributes": [{"key": "openinference.span.kind", "value": {"stringValue": "LLM"}},
                   {"key": "llm.model_name", "value": {"stringValue": "gpt-4o"}},
                   {"key": "llm.token_count.prompt", "value": {"intValue": "12"}},
                   {"key": "repo", "value": {"stringValue": "acme/api"}}],
}
otlp_documents = st.fixed_dictionaries({
    "resourceSpans": st.one_of(
        st.lists(st.fixed_dictionaries({
            "resource": st.fixed_dictionaries({"attributes": attributes}) | json_values,
            "scopeSpans": st.one_of(
                st.lists(st.fixed_dictionaries({"spans": st.lists(spans | json_values, max_size=4) | json_values})
                         | json_values, max_size=3),
                json_values,
            ),
        }) | json_values, max_size=3),
        json_values,
    )
})


@FUZZ
@given(document=otlp_documents, with_good_span=st.booleans())
def test_otlp_documents_always_balance(document, with_good_span, ledger):
    if with_good_span:  # one well-formed LLM span that must become a row whatever surrounds it
        document = {"resourceSpans": [{"scopeSpans": [{"spans": [LLM_SPAN]}]}, *(
            document["resourceSpans"] if isinstance(document["resourceSpans"], list) else [])]}
    output = run_object("trace.json", _dumps(document))
    if with_good_span:
        assert output.output.source_format == "otlp"
        assert any(r["tokens_in"] == 12 and r["repo"] == "acme/api" for r in output.rows)
        ledger["rows lost"] += 0
    ledger["fuzz examples"] += 1
    ledger["dead letters checked"] += output.counts.dead_letters


# -- Codex rollouts: cumulative counters ------------------------------------------------------------------------


@st.composite
def codex_rollouts(draw) -> tuple[list[bytes], int, int, bool]:
    """(lines, requests, final total, any line mutated): a session whose token counts advance, are re-emitted,
    are mutated, or sit among noise and garbage lines."""
    meta = {"id": "fuzz-session", "git": {"repository_url": "git@github.com:acme/api.git"}}
    lines = [_dumps({"timestamp": "2026-03-02T09:00:00Z", "type": "session_meta", "payload": meta})]
    total_in = total_out = requests = 0
    mutated = False
    for second in range(draw(st.integers(min_value=0, max_value=12))):
        stamp = f"2026-03-02T09:00:{second:02d}.000Z"
        kind = draw(st.sampled_from(["advance", "advance", "re-emit", "noise", "garbage", "mutated"]))
        if kind in ("advance", "re-emit", "mutated"):
            if kind == "advance":
                total_in += draw(st.integers(min_value=1, max_value=10_000))
                total_out += draw(st.integers(min_value=0, max_value=2_000))
                requests += 1
            usage = {"input_tokens": total_in, "cached_input_tokens": 0, "output_tokens": total_out}
            line = {"timestamp": stamp, "type": "event_msg",
                    "payload": {"type": "token_count", "info": {"total_token_usage": usage}}}
            if kind == "mutated":
                mutated = True
                usage["input_tokens"] = draw(json_values)
                line["timestamp"] = draw(st.one_of(st.just(stamp), json_values))
            lines.append(_dumps(line))
        elif kind == "noise":
            lines.append(_dumps({"timestamp": stamp, "type": "response_item", "payload": draw(json_values)}))
        else:
            lines.append(draw(st.binary(max_size=20)).replace(b"\n", b" "))
    return lines, requests, total_in + total_out, mutated


@FUZZ
@given(rollout=codex_rollouts())
def test_codex_rollouts_always_balance_and_never_count_a_cumulative_total_twice(rollout, ledger):
    lines, requests, final_total, mutated = rollout
    output = run_object("rollout.jsonl", b"\n".join(lines))
    assert output.output.source_format == "codex"
    assert len({r["record_id"] for r in output.rows}) == len(output.rows)
    if not mutated:  # garbage and noise lines are dead letters or skips; every request is one row, once
        assert sum(r["total_tokens"] for r in output.rows) == final_total
        assert len(output.rows) == requests
        ledger["rows lost"] += 0
    ledger["fuzz examples"] += 1
    ledger["dead letters checked"] += output.counts.dead_letters
