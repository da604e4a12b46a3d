"""Claude Code's OTLP log events: one row per api_request, an error row per api_error, every other record skipped."""

from __future__ import annotations

import json

from tests.unit.normalize.normalize_helpers import FIXTURES, dead_letters, traces

NAME = "claude_code_otel__logs.json"


def _document() -> dict:
    return json.loads((FIXTURES / NAME).read_text())


def test_api_request_events_are_rows_with_claude_code_token_semantics_and_source_cost(normalize):
    output = normalize(NAME)

    first, error, last = traces(output)
    assert output.source_format == "claude_code_otel_logs"
    assert output.counts.as_dict() == {"read": 5, "rows": 3, "dead_letters": 0, "skipped": 2}
    assert (first["tokens_in"], first["tokens_out"], first["cache_read_tokens"], first["cache_write_tokens"]) == (
        1200,
        350,
        20480,
        1024,
    )
    assert first["total_tokens"] == 1200 + 350 + 20480 + 1024
    assert (first["cost_usd"], first["cost_source"], first["latency_ms"], first["status_code"]) == (
        0.0421,
        "source",
        5321.0,
        200,
    )
    assert first["developer_id"] == "dana@acme.example"  # user.email before account_uuid and user.id
    assert first["session_id"] == "7f1c2a9e-3b4d-4e5f-8a6b-0c1d2e3f4a5b"
    assert first["repo"] == "acme/api"  # a resource attribute (OTEL_RESOURCE_ATTRIBUTES=repo=...)
    assert str(first["ts"]) == "2026-03-03 10:00:05.123000"
    # the failed request: an error row without tokens, with the API's status code
    assert (error["is_error"], error["status_code"], error["total_tokens"]) == (True, 529, 0)
    # no event.timestamp: the log record's timeUnixNano; typed (int/double) attribute values read alike
    assert str(last["ts"]) == "2026-03-03 10:00:14.500000"
    assert (last["tokens_in"], last["cost_usd"], last["latency_ms"]) == (300, 0.0012, 950.5)


def test_the_same_events_delivered_again_have_the_same_record_ids(normalize, write):
    again = normalize(write("copy.json", json.dumps(_document())))

    assert [r["record_id"] for r in traces(again)] == [r["record_id"] for r in traces(normalize(NAME))]


def test_event_without_any_timestamp_and_malformed_records_are_dead_letters(normalize, write):
    document = _document()
    records = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records[-1].pop("timeUnixNano")
    records.append("not a log record")
    document["resourceLogs"].append({"scopeLogs": {"logRecords": []}})

    output = normalize(write("bad.json", json.dumps(document)))

    reasons = sorted(d["reason"] for d in dead_letters(output))
    assert reasons == ["invalid_record", "invalid_record", "missing_timestamp"]
    assert len(traces(output)) == 2


def test_other_services_log_records_are_read_and_skipped(normalize):
    output = normalize("otlp-proto-examples__logs.json")

    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 0, "skipped": 1}
