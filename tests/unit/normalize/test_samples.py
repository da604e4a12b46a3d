"""Every sample in tests/fixtures/traces gives the rows derived by reading the sample by hand."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.unit.normalize.normalize_helpers import dead_letters, traces


def test_seed_sample_gives_three_rows_with_prefix_stripped_sessions(normalize):
    # Given the prototype's seed JSONL (3 lines, repo test/prodlens-demo)
    # When it is normalized
    output = normalize("seed__litellm-traces.jsonl")
    # Then each line is one row with the seed fields mapped
    assert output.source_format == "seed"
    assert output.counts.as_dict() == {"read": 3, "rows": 3, "dead_letters": 0, "skipped": 0}
    rows = traces(output)
    assert [r["session_id"] for r in rows] == ["abc123", "abc124", "xyz789"]
    assert [r["developer_id"] for r in rows] == ["dev@example.com", "dev@example.com", "alice@example.com"]
    first = rows[0]
    assert first["ts"] == datetime(2025, 10, 12, 19, 0, 0)
    assert first["model"] == "anthropic/claude-3-5-sonnet-20241022"
    assert (first["tokens_in"], first["tokens_out"], first["total_tokens"]) == (250, 150, 400)
    assert (first["latency_ms"], first["status_code"], first["is_error"]) == (1234.5, 200, False)
    assert first["accepted_flag"] is None
    assert {r["repo"] for r in rows} == {"test/prodlens-demo"}
    assert {r["event_date"] for r in rows} == {"2025-10-12"}
    # claude-3-5-sonnet: $3 in / $15 out per MTok -> 250*3 + 150*15 = 3000 per 1e6
    assert first["cost_source"] == "priced"
    assert first["cost_usd"] == pytest.approx(0.003)
    assert len({r["record_id"] for r in rows}) == 3 and all(len(r["record_id"]) == 32 for r in rows)


def test_claude_sidechain_sample_counts_duplicated_message_request_once(normalize):
    # Given the real sidechain transcript: 4 assistant lines, two sharing (message.id, requestId), 2 user lines
    output = normalize("claude-code-log__sidechain_integrated.jsonl", metadata={"repo": "Acme/App", "developer": "bob"})
    # Then there are 3 API calls; the duplicate and the user lines are skipped
    assert output.source_format == "claude_code"
    assert output.counts.as_dict() == {"read": 6, "rows": 3, "dead_letters": 0, "skipped": 3}
    rows = traces(output)
    assert [r["tokens_out"] for r in rows] == [365, 183, 190]
    assert [r["cache_write_tokens"] for r in rows] == [141272, 19830, 2952]
    assert [r["cache_read_tokens"] for r in rows] == [0, 0, 141272]
    assert all(r["tokens_in"] == 3 for r in rows)  # Claude Code input_tokens already excludes cache
    assert rows[2]["total_tokens"] == 3 + 190 + 141272 + 2952
    assert {r["session_id"] for r in rows} == {"88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"}
    # object metadata attributes the transcript
    assert {r["repo"] for r in rows} == {"acme/app"} and {r["developer_id"] for r in rows} == {"bob"}
    assert rows[0]["ts"] == datetime(2025, 11, 19, 22, 53, 34, 908000)
    assert {r["cost_source"] for r in rows} == {"priced"} and all(r["cost_usd"] > 0 for r in rows)


def test_ccusage_sample_uses_cost_usd_as_source_cost(normalize):
    output = normalize("ccusage__project-alpha__session-alpha__chat.jsonl")
    rows = traces(output)
    assert output.counts.as_dict() == {"read": 3, "rows": 3, "dead_letters": 0, "skipped": 0}
    assert [r["cost_usd"] for r in rows] == [0.12, 0.34, 0.56]
    assert {r["cost_source"] for r in rows} == {"source"}
    assert [(r["tokens_in"], r["cache_write_tokens"], r["cache_read_tokens"]) for r in rows] == [
        (100, 25, 10),
        (200, 50, 20),
        (300, 0, 40),
    ]
    assert {r["repo"] for r in rows} == {"unknown"} and {r["session_id"] for r in rows} == {"session-alpha"}
    assert sorted({r["event_date"] for r in rows}) == ["2026-01-09", "2026-01-10"]


def test_ccusage_transcript_without_timestamps_dead_letters_missing_timestamp(normalize):
    # Given assistant lines with usage but no timestamp (and user lines without usage)
    output = normalize("ccusage__test-transcript.jsonl")
    # Then the calls are dead letters (never "now"), the user lines skipped
    assert output.counts.as_dict() == {"read": 4, "rows": 0, "dead_letters": 2, "skipped": 2}
    letters = dead_letters(output)
    assert [(d["line_number"], d["reason"]) for d in letters] == [(2, "missing_timestamp"), (4, "missing_timestamp")]


def test_claude_edge_cases_sample_dead_letters_non_transcript_lines(normalize):
    output = normalize("claude-code-log__edge_cases.jsonl")
    assert output.counts.as_dict() == {"read": 19, "rows": 4, "dead_letters": 4, "skipped": 11}
    assert [(d["line_number"], d["reason"]) for d in dead_letters(output)] == [
        (13, "invalid_record"),
        (14, "invalid_record"),
        (15, "invalid_record"),
        (16, "invalid_record"),
    ]


@pytest.mark.parametrize(
    ("name", "rows", "skipped"),
    [
        ("claude-code-log__representative_messages.jsonl", 5, 7),
        ("claude-code-log__session_b.jsonl", 1, 2),
        ("ccusage__project-beta__session-beta__chat.jsonl", 2, 0),
    ],
)
def test_claude_samples_give_one_row_per_assistant_call(normalize, name, rows, skipped):
    output = normalize(name)
    assert (output.counts.rows, output.counts.skipped, output.counts.dead_letters) == (rows, skipped, 0)


def test_litellm_captured_kwargs_sample_unwraps_standard_logging_object(normalize):
    # Given LiteLLM callback kwargs from a real Bedrock call (standard_logging_object inside)
    output = normalize("open_telemetry_data__captured_kwargs.json")
    (row,) = traces(output)
    assert output.source_format == "litellm"
    assert row["ts"] == datetime(2025, 6, 22, 17, 59, 8, 162725)  # float epoch 1750615148.162725
    # usage_object: prompt 14 with cache read 0 / creation 0 -> uncached 14
    assert (row["tokens_in"], row["tokens_out"], row["cache_read_tokens"], row["cache_write_tokens"]) == (14, 67, 0, 0)
    assert row["latency_ms"] == pytest.approx(236.798)
    assert (row["status_code"], row["is_error"]) == (200, False)
    assert (row["cost_usd"], row["cost_source"]) == (0.001047, "source")
    assert row["session_id"] == "4c97150b-b1a3-4dec-bd7a-734786b1b3bc"  # trace_id
    assert row["developer_id"] is None and row["repo"] == "unknown"


def test_litellm_payload_with_naive_string_times_is_read_as_utc(normalize):
    output = normalize("gcs_pub_sub_body__standard_logging_payload.json", metadata={"developer": "carol"})
    (row,) = traces(output)
    assert row["ts"] == datetime(2025, 1, 24, 9, 20, 46, 847371)
    assert row["latency_ms"] == pytest.approx(4.583)
    assert (row["tokens_in"], row["tokens_out"], row["model"]) == (10, 20, "gpt-4o")
    assert row["developer_id"] == "carol"


def test_litellm_claude_code_json_identity_gives_real_session_and_subtracts_cache(normalize):
    # Given Claude Code through LiteLLM: JSON identity, oauth-user key, Anthropic prompt_tokens incl. cache
    output = normalize("litellm__claude_code_identity.json")
    (row,) = traces(output)
    # Then the JSON form is parsed (not the regex bug's literal 'id')
    assert row["session_id"] == "e66a526e-1111-4222-8333-444455556666"
    assert row["developer_id"] == "0a1b2c3d-0000-4000-8000-acc0u0nt0001"
    # 1200 prompt - 800 cache read - 300 cache creation
    assert (row["tokens_in"], row["cache_read_tokens"], row["cache_write_tokens"], row["total_tokens"]) == (
        100,
        800,
        300,
        1250,
    )
    assert (row["status_code"], row["is_error"]) == (429, True)
    assert row["repo"] == "acme/api"  # request tag repo:Acme/API, lower-cased
    assert row["latency_ms"] == pytest.approx(2500.0)


def test_litellm_legacy_identity_and_openai_cached_tokens(normalize):
    output = normalize("litellm__legacy_identity.json")
    (row,) = traces(output)
    assert row["session_id"] == "3dabe418-63d9-4f8c-8198-6e76035342db"
    assert row["developer_id"] == "044546ee-0000-4000-8000-000000000000"
    assert (row["tokens_in"], row["cache_read_tokens"]) == (1500, 500)  # 2000 - cached_tokens 500
    assert row["repo"] == "acme/legacy"
    # no response_cost -> priced: 1500*3 + 100*15 + 500*0.3 per MTok
    assert (row["cost_source"], row["cost_usd"]) == ("priced", pytest.approx(0.00615))


def test_otlp_spans_keep_only_llm_spans(normalize):
    # Given a CHAIN parent with token counts, two LLM children (one erroring), a TOOL span, a GenAI span
    # and a GenAI span without a start time
    output = normalize("otlp__llm_spans.json")
    assert output.source_format == "otlp"
    assert output.counts.as_dict() == {"read": 6, "rows": 3, "dead_letters": 1, "skipped": 2}
    llm, retry, genai = traces(output)
    assert (llm["model"], llm["tokens_in"], llm["tokens_out"], llm["session_id"], llm["developer_id"]) == (
        "gpt-4-0613",
        97,
        52,
        "oi-session-1",
        "alice",
    )
    assert llm["ts"] == datetime(2025, 10, 12, 19, 0, 1) and llm["latency_ms"] == 1500.0
    assert llm["repo"] == "acme/web"  # resource attribute, lower-cased
    assert (retry["is_error"], retry["cost_usd"], retry["cost_source"]) == (True, 0.0003, "source")
    assert retry["developer_id"] == "resource-user"
    assert (genai["tokens_in"], genai["cache_read_tokens"], genai["session_id"]) == (57, 40, "conv-9")
    (letter,) = dead_letters(output)
    assert (letter["line_number"], letter["reason"]) == (0, "missing_timestamp")
    assert "b7ad6b7169203332" in letter["raw"]


def test_otlp_proto_example_non_llm_span_is_skipped(normalize):
    output = normalize("otlp-proto-examples__trace.json")
    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 0, "skipped": 1}
    assert output.files == []


@pytest.mark.parametrize(
    "name",
    [
        "otlp-proto-examples__metrics.json",
        "gcs_pub_sub_body__spend_logs_payload.json",
    ],
)
def test_unsupported_documents_are_one_unknown_format_dead_letter(normalize, name):
    output = normalize(name)
    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}
    (letter,) = dead_letters(output)
    assert (letter["line_number"], letter["reason"]) == (0, "unknown_format")
