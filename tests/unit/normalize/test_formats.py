"""The trace format registry: detection order, one format per fixture, and each format's outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prodlens.normalize.formats import FORMATS, DocumentFormat, LineFormat, Row, Skip, StreamFormat, classify
from prodlens.normalize.formats.base import Dead
from prodlens.normalize.rows import ObjectContext

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "traces"
CTX = ObjectContext("traces/x.json", "acme/api", "dev@example.com")


def _first_value(path: Path):
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(text.splitlines()[0])


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("seed__litellm-traces.jsonl", "seed"),
        ("ccusage__test-transcript.jsonl", "claude_code"),
        ("claude-code-log__session_b.jsonl", "claude_code"),
        ("litellm__claude_code_identity.json", "litellm"),
        ("gcs_pub_sub_body__standard_logging_payload.json", "litellm"),
        ("otlp__llm_spans.json", "otlp"),
        ("otlp-proto-examples__trace.json", "otlp"),
        ("claude_code_otel__logs.json", "claude_code_otel_logs"),
        ("otlp-proto-examples__logs.json", "claude_code_otel_logs"),
        ("codex__modern_session.jsonl", "codex"),
        ("codex__legacy_session.jsonl", "codex"),
        ("codex__forked_subagent.jsonl", "codex"),
    ],
)
def test_classify_names_the_format_of_each_fixture(fixture, expected):
    assert classify(_first_value(FIXTURES / fixture)).name == expected


def test_registry_names_are_unique_and_every_format_has_one_shape():
    names = [fmt.name for fmt in FORMATS]
    assert len(names) == len(set(names))
    assert all(isinstance(fmt, LineFormat | DocumentFormat | StreamFormat) for fmt in FORMATS)


@pytest.mark.parametrize("value", [None, [], "text", 3, {}, {"unrelated": 1}, {"resourceMetrics": []}])
def test_classify_returns_none_for_values_of_no_format(value):
    assert classify(value) is None


def test_otlp_records_yield_a_row_per_llm_span_a_skip_per_other_span_and_a_dead_letter_per_malformed_part():
    document = _first_value(FIXTURES / "otlp__llm_spans.json")
    (otlp,) = [fmt for fmt in FORMATS if fmt.name == "otlp"]
    document["resourceSpans"].append({"scopeSpans": "not a list"})
    outcomes = [outcome for _, outcome in otlp.records([(0, document)], CTX)]
    kinds = [type(o) for o in outcomes]
    assert Row in kinds and kinds[-1] is Dead
    assert outcomes[-1].reason == "invalid_record" and "scopeSpans" in outcomes[-1].detail
    rows = [o.values for o in outcomes if isinstance(o, Row)]
    assert all(r["source_format"] == "otlp" for r in rows)  # source_key is added by the shared projection
    assert rows and kinds.count(Skip) and len(outcomes) == len(rows) + kinds.count(Skip) + kinds.count(Dead)


def test_litellm_record_without_a_start_time_is_one_dead_letter_not_a_row():
    document = _first_value(FIXTURES / "litellm__claude_code_identity.json")
    (litellm,) = [fmt for fmt in FORMATS if fmt.name == "litellm"]
    payload = document.get("standard_logging_object", document)
    payload.pop("startTime")
    ((_, outcome),) = litellm.records([(0, document)], CTX)
    assert isinstance(outcome, Dead) and outcome.reason == "missing_timestamp"
