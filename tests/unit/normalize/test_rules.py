"""Each field rule has one definition (normalize.rules): a leaf gets the same verdict on the vectorized JSONL path
(seed lines, read by DuckDB) and on the Python path (LiteLLM payloads, OTLP spans, parsed in Python)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import duckdb
import pytest
from prodlens.models import NormalizeOutput
from prodlens.normalize import rules
from prodlens.normalize.rules import NUMBER, SLUG, TIMESTAMP, TOKENS, Rules

from tests.unit.normalize.normalize_helpers import dead_letters, traces

TIMESTAMPS = [
    "2025-10-12T19:00:00Z",
    "2025-10-12 19:00:00.123456",
    "2025-10-12T21:00:00+02:00",
    "2025-10-12",
    1760295600,
    1760295600123,
    1760295600123456,
    "1760295600123456789",
    1760295600.25,
    "1760295600.5",
    [1760295600, 5000],
    "yesterday",
    "",
    "2025-13-01",
    "9999-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    0,
    True,
    {"a": 1},
]
TOKEN_COUNTS = [5, 5.0, "5", "5.0", 0, -5, 1.5, "NaN", True, "", "abc", 10**15, 10**15 + 1, [5]]
REPOS = [
    " Acme/API ",
    "acme/api",
    "api",
    "",
    "../x",
    "acme/ap i",
    "acme/api/extra",
    "/acme/api",
    "acme/\u212a",
    5,
    ["a"],
]
BOOLEANS = [True, False, "yes", "NO", "True", 1, 0, "1", 2, "maybe"]
NUMBERS = [1.5, 2, "2.5", "1e3", "NaN", "Infinity", True, "abc", ""]


def outcomes(output: NormalizeOutput, column: str) -> list[tuple[str, Any]]:
    """Per record (session s1, s2, ... = line 1, 2, ...): ("row", the column's value) or ("dead", the reason)."""
    rows = {int(row["session_id"][1:]): ("row", row[column]) for row in traces(output)}
    dead = {letter["line_number"]: ("dead", letter["reason"]) for letter in dead_letters(output)}
    return [rows.get(n) or dead[n] for n in range(1, output.counts.read + 1)]


def seed_lines(values: list[Any], place: Callable[[dict[str, Any], Any], None]) -> str:
    lines = []
    for n, value in enumerate(values, 1):
        line = {
            "timestamp": "2025-10-12T19:00:00Z",
            "attributes": {"llm.model_name": "gpt-4o"},
            "usage": {"input_tokens": 1, "output_tokens": 2},
            "metadata": {"session_id": f"s{n}", "repo": "acme/api"},
        }
        place(line, value)
        lines.append(json.dumps(line))
    return "\n".join(lines) + "\n"


def litellm_lines(values: list[Any], place: Callable[[dict[str, Any], Any], None]) -> str:
    lines = []
    for n, value in enumerate(values, 1):
        payload = {
            "id": f"chatcmpl-{n}",
            "trace_id": f"s{n}",
            "startTime": "2025-10-12T19:00:00Z",
            "model": "gpt-4o",
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "metadata": {"requester_metadata": {"repo": "acme/api"}},
        }
        place(payload, value)
        lines.append(json.dumps(payload))
    return "\n".join(lines) + "\n"


def otlp_document(values: list[Any], attribute: str) -> str:
    spans = [
        {
            "traceId": "a" * 32,
            "spanId": f"{n:016x}",
            "startTimeUnixNano": "1760295600000000000",
            "attributes": {"openinference.span.kind": "LLM", "session.id": f"s{n}", attribute: value},
        }
        for n, value in enumerate(values, 1)
    ]
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


def claude_lines(values: list[Any], field: str) -> str:
    lines = []
    for n, value in enumerate(values, 1):
        line = {
            "type": "assistant",
            "sessionId": f"s{n}",
            "timestamp": "2025-10-12T19:00:00Z",
            "requestId": f"req_{n}",
            "message": {"id": f"msg_{n}", "model": "gpt-4o", "usage": {"input_tokens": 1, "output_tokens": 2}},
        }
        if value is not ABSENT:
            line[field] = value
        lines.append(json.dumps(line))
    return "\n".join(lines) + "\n"


def both_paths(normalize, write, name: str, seed: str, python: str, column: str) -> tuple[list, list]:
    jsonl = normalize(write(f"{name}.jsonl", seed))
    parsed = normalize(write(f"{name}-python.json{'l' if python.count(chr(10)) > 1 else ''}", python))
    assert (jsonl.source_format, parsed.source_format) != (None, None)
    return outcomes(jsonl, column), outcomes(parsed, column)


def test_a_timestamp_gets_the_same_verdict_and_time_on_both_paths(normalize, write):
    seed = seed_lines(TIMESTAMPS, lambda line, v: line.update(timestamp=v))
    python = litellm_lines(TIMESTAMPS, lambda payload, v: payload.update(startTime=v))
    on_jsonl, on_python = both_paths(normalize, write, "ts", seed, python, "ts")
    assert on_jsonl == on_python
    assert ("dead", "missing_timestamp") in on_python and ("dead", "invalid_timestamp") in on_python


def test_a_token_count_gets_the_same_verdict_and_value_on_both_paths(normalize, write):
    seed = seed_lines(TOKEN_COUNTS, lambda line, v: line["usage"].update(output_tokens=v))
    python = litellm_lines(TOKEN_COUNTS, lambda payload, v: payload.update(completion_tokens=v))
    on_jsonl, on_python = both_paths(normalize, write, "tokens", seed, python, "tokens_out")
    assert on_jsonl == on_python
    assert ("row", 5) in on_python and ("dead", "invalid_tokens") in on_python


def test_a_repo_gets_the_same_slug_or_invalid_repo_on_both_paths(normalize, write):
    seed = seed_lines(REPOS, lambda line, v: line["metadata"].update(repo=v))
    python = litellm_lines(REPOS, lambda payload, v: payload["metadata"]["requester_metadata"].update(repo=v))
    on_jsonl, on_python = both_paths(normalize, write, "repo", seed, python, "repo")
    assert on_jsonl == on_python
    assert ("row", "acme/api") in on_python and ("dead", "invalid_repo") in on_python


def test_a_boolean_reads_alike_on_both_paths(normalize, write):
    seed = seed_lines(BOOLEANS, lambda line, v: line["attributes"].update({"prod_lens.accepted": v}))
    on_jsonl, on_python = both_paths(
        normalize, write, "accepted", seed, otlp_document(BOOLEANS, "prod_lens.accepted"), "accepted_flag"
    )
    assert on_jsonl == on_python
    assert {("row", True), ("row", False), ("row", None)} <= set(on_python)


def test_a_number_reads_alike_on_both_paths(normalize, write):
    # the same rule (a finite number, numeric text included) on a seed line's latency and an OTLP span's cost
    seed = seed_lines(NUMBERS, lambda line, v: line["attributes"].update(latency_ms=v))
    on_jsonl, _ = both_paths(normalize, write, "latency", seed, otlp_document(NUMBERS, "x"), "latency_ms")
    on_python = outcomes(normalize(write("cost.json", otlp_document(NUMBERS, "llm.cost.total"))), "cost_usd")
    assert on_jsonl == on_python
    assert ("row", 1000.0) in on_python and ("row", None) in on_python


ABSENT = object()  # the field is left out of the record
BRANCHES = ["feature/x", "  fix/y ", "", ABSENT, "b" * 255, "b" * 256, 17, None]


def test_a_git_branch_reads_alike_on_both_paths(normalize, write):
    # Claude Code's gitBranch (the JSONL path) and the rule a Python format (Codex's git.branch) applies
    on_jsonl = outcomes(
        normalize(write("branch.jsonl", claude_lines(BRANCHES, "gitBranch")), metadata={"repo": "acme/api"}),
        "git_branch",
    )
    rules = Rules()
    on_python = [("row", rules.branch(None if v is ABSENT else v)) for v in BRANCHES]
    assert on_jsonl == on_python
    assert on_python[:3] == [("row", "feature/x"), ("row", "fix/y"), ("row", None)]
    assert on_python[4:7] == [("row", "b" * 255), ("row", None), ("row", "17")]


def test_an_object_s_announced_leaves_are_evaluated_in_one_query(monkeypatch):
    queries = []
    run = rules._Evaluator.run

    def counted(self: rules._Evaluator, batch: dict[str, list[str | None]]) -> list[list[Any]]:
        queries.append(batch)
        return run(self, batch)

    monkeypatch.setattr(rules._Evaluator, "run", counted)
    checked = Rules()
    checked.prefetch(TIMESTAMP, ["2025-10-12T19:00:00Z", "1760295600", None])
    checked.prefetch(TOKENS, [1, "2", 3.0])
    checked.prefetch(SLUG, ["Acme/API"])
    checked.prefetch(NUMBER, ["0.5"])
    assert checked.tokens("2", "n") == 2 and checked.slug("Acme/API") == "acme/api" and checked.number("0.5") == 0.5
    assert checked.timestamp("1760295600").year == 2025
    assert len(queries) == 1
    assert checked.boolean("yes") is True and len(queries) == 2  # a leaf not announced: a query of its own


@pytest.mark.parametrize("shape", ["lines", "array"])
def test_a_litellm_object_of_many_payloads_evaluates_its_field_rules_once(normalize, write, monkeypatch, shape):
    evaluations = []
    evaluate = Rules._evaluate

    def counted(self: Rules) -> None:
        evaluations.append(1)
        evaluate(self)

    monkeypatch.setattr(Rules, "_evaluate", counted)
    values = list(range(1, 51))
    text = litellm_lines(values, lambda payload, v: payload.update(completion_tokens=v))
    if shape == "array":
        text = "[" + ",".join(text.splitlines()) + "]"
    output = normalize(write(f"many.{'jsonl' if shape == 'lines' else 'json'}", text))
    assert output.counts.rows == 50
    assert len(evaluations) == 1


def test_a_field_too_large_for_the_rules_memory_makes_the_object_one_too_large_dead_letter(
    normalize, write, monkeypatch
):
    def out_of_memory(self: rules._Evaluator, batch: dict[str, list[str | None]]) -> list[list[Any]]:
        raise duckdb.OutOfMemoryException("could not allocate")

    monkeypatch.setattr(rules._Evaluator, "run", out_of_memory)
    output = normalize(write("huge.jsonl", litellm_lines([1, 2], lambda payload, v: payload.update(prompt_tokens=v))))
    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}
    (letter,) = dead_letters(output)
    assert (letter["line_number"], letter["reason"]) == (0, "too_large")
