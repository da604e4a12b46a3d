"""Output files: schema types, layout, idempotent redelivery, gzip, key routing, privacy."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prodlens.lake import object_key, source_id
from prodlens.normalize import normalize_paths
from prodlens.normalize.fields import strip_text
from prodlens.normalize.formats.litellm import claude_identity
from prodlens.normalize.pricing import rates_for
from prodlens.normalize.rules import Rules
from prodlens.normalize.writer import write_table
from prodlens.schema import DEAD_LETTERS, GITHUB_COMMITS, TRACES

from tests.unit.normalize.normalize_helpers import FIXTURES, dead_letters, read_table, traces

ARROW_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
}


def assert_schema(path: Path, table) -> None:
    schema = pq.read_schema(path)
    assert schema.names == table.column_names
    for name, kind in table.columns:
        assert schema.field(name).type == ARROW_TYPES[kind], (name, schema.field(name).type)


def test_trace_and_dead_letter_files_have_exact_schema_columns_and_physical_types(normalize, write):
    # Given an object producing rows and dead letters
    path = write("mix.jsonl", (FIXTURES / "seed__litellm-traces.jsonl").read_text() + "not json\n")
    output = normalize(path)
    # Then every file holds exactly the table's data columns (no partition columns) with schema types
    tables = {f.table for f in output.files}
    assert tables == {"traces", "dead_letters"}
    for table_file in output.files:
        assert_schema(table_file.path, TRACES if table_file.table == "traces" else DEAD_LETTERS)
        assert pq.read_metadata(table_file.path).num_rows == table_file.rows
    parquet_types = pq.read_schema(next(f.path for f in output.files if f.table == "traces"))
    assert parquet_types.field("status_code").type == pa.int32()  # Athena int -> INT32


def test_python_path_files_have_the_same_schema(normalize):
    output = normalize("otlp__llm_spans.json")
    for table_file in output.files:
        assert_schema(table_file.path, TRACES if table_file.table == "traces" else DEAD_LETTERS)


def test_partitions_follow_event_date_and_repo(normalize, write):
    lines = [
        {"timestamp": "2025-10-12T23:59:59Z", "usage": {"input_tokens": 1}, "metadata": {"repo": "a/x"}},
        {"timestamp": "2025-10-13T00:00:00Z", "usage": {"input_tokens": 1}, "metadata": {"repo": "a/x"}},
        {"timestamp": "2025-10-13T01:00:00Z", "usage": {"input_tokens": 1}, "metadata": {"repo": "B/Y"}},
        {"timestamp": "2025-10-13T02:00:00Z", "usage": {"input_tokens": 1}},
    ]
    output = normalize(write("p.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n"))
    assert sorted((f.partition["event_date"], f.partition["repo"], f.rows) for f in output.files) == [
        ("2025-10-12", "a/x", 1),
        ("2025-10-13", "a/x", 1),
        ("2025-10-13", "b/y", 1),
        ("2025-10-13", "unknown", 1),
    ]


def test_a_chronological_log_and_the_same_lines_shuffled_give_the_same_partitions(normalize, write):
    # Given a log in time order (each partition one run of lines: written by line range) and the same lines
    # shuffled (partitions interleaved: written by DuckDB's PARTITION_BY), with a dead letter
    lines = [
        json.dumps(
            {
                "timestamp": f"2025-10-{12 + i // 20}T{i % 20:02d}:00:00Z",
                "usage": {"input_tokens": i, "output_tokens": 1},
                "metadata": {"repo": "a/x" if i % 20 < 12 else "b/y", "session_id": f"s{i}"},
            }
        )
        for i in range(60)
    ]
    lines[30] = "not json"
    shuffled = lines[:]
    random.Random(3).shuffle(shuffled)
    outputs = [
        normalize(write(name, "\n".join(content) + "\n"), key="traces/t/log.jsonl")
        for name, content in (("ordered.jsonl", lines), ("shuffled.jsonl", shuffled))
    ]

    def by_partition(output):
        files = sorted((tuple(f.partition.values()), f.rows) for f in output.files if f.table == "traces")
        return files, traces(output, "record_id")

    assert by_partition(outputs[0]) == by_partition(outputs[1])
    assert [o.counts.as_dict() for o in outputs] == [{"read": 60, "rows": 59, "dead_letters": 1, "skipped": 0}] * 2
    assert [f[0] for f in by_partition(outputs[0])[0]] == [
        ("2025-10-12", "a/x"), ("2025-10-12", "b/y"), ("2025-10-13", "a/x"), ("2025-10-13", "b/y"),
        ("2025-10-14", "a/x"), ("2025-10-14", "b/y"),
    ]  # fmt: skip


def test_write_table_refuses_line_ranges_that_do_not_hold_their_partition(tmp_path):
    con = duckdb.connect()
    nulls = ", ".join(f'NULL::{kind} AS "{name}"' for name, kind in TRACES.duckdb_columns().items())
    con.execute(
        f"CREATE TABLE rel AS SELECT * REPLACE ('r' || i AS record_id), '2025-10-1' || (i // 2) AS event_date,"
        f" 'a/x' AS repo, i AS ln FROM range(4) t(i), (SELECT {nulls})"
    )
    groups = [("2025-10-10", "a/x", 2), ("2025-10-11", "a/x", 2)]
    files = write_table(con, TRACES, "rel", tmp_path / "ok", "o", (), groups, ("ln", [(0, 1), (2, 3)]))
    assert [(f.partition["event_date"], f.rows) for f in files] == [("2025-10-10", 2), ("2025-10-11", 2)]
    with pytest.raises(RuntimeError, match="wrote 3 rows, expected 2"):
        write_table(con, TRACES, "rel", tmp_path / "bad", "o", (), groups, ("ln", [(0, 2), (3, 3)]))


@pytest.mark.parametrize(
    "name", ["seed__litellm-traces.jsonl", "claude-code-log__sidechain_integrated.jsonl", "otlp__llm_spans.json"]
)
def test_redelivery_of_same_object_gives_byte_identical_traces(normalize, name):
    # Given the same object delivered twice
    first = normalize(name, key=f"traces/redelivery/{name}")
    second = normalize(name, key=f"traces/redelivery/{name}")

    # Then trace files are byte-identical and dead letters identical except rejected_at
    def by_partition(output):
        return {tuple(f.partition.items()): f.path.read_bytes() for f in output.files if f.table == "traces"}

    assert by_partition(first) == by_partition(second)
    strip = [{k: v for k, v in d.items() if k != "rejected_at"} for d in dead_letters(first)]
    assert strip == [{k: v for k, v in d.items() if k != "rejected_at"} for d in dead_letters(second)]


def test_gzip_by_suffix_or_magic_bytes_gives_same_rows(normalize, write):
    raw = (FIXTURES / "claude-code-log__sidechain_integrated.jsonl").read_bytes()
    plain = traces(normalize("claude-code-log__sidechain_integrated.jsonl", key="traces/c/s.jsonl"))
    suffixed = traces(normalize(write("s.jsonl.gz", gzip.compress(raw)), key="traces/c/s.jsonl"))
    magic_only = traces(normalize(write("s.jsonl", gzip.compress(raw)), key="traces/c/s.jsonl"))
    assert plain == suffixed == magic_only and len(plain) == 3


def test_audit_logs_are_skipped_not_dead_lettered(normalize):
    output = normalize(
        "gcs_pub_sub_body__standard_logging_payload.json", key="traces/litellm/audit_logs/2025-06-22/a.json"
    )
    assert output.skipped_reason == "litellm_audit_log"
    assert output.files == [] and output.counts.dead_letters == 0 and output.counts.balanced


def test_keys_outside_traces_and_github_are_not_input(normalize):
    output = normalize("seed__litellm-traces.jsonl", key="exports/seed.jsonl")
    assert output.skipped_reason == "not_input" and output.files == [] and output.counts.read == 0


def test_github_page_is_dispatched_and_written_by_table_partitions(normalize, write, monkeypatch):
    # Given a fake GitHub parser (the real one is tested in test_github_pages.py)
    from prodlens.normalize import github

    page = github.GithubPage(
        "github_commits",
        "acme/api",
        rows=[
            {
                "sha": "a" * 40,
                "author": "octo",
                "author_date": datetime(2025, 6, 1, 12),
                "committer_date": None,
                "source_key": "github/acme/api/commits/p1.json",
                "event_date": "2025-06-01",
            },
            {
                "sha": "b" * 40,
                "author": "octo",
                "author_date": datetime(2025, 6, 2, 12),
                "committer_date": None,
                "source_key": "github/acme/api/commits/p1.json",
                "event_date": "2025-06-02",
            },
        ],
        dead_letters=[{"line_number": 3, "reason": "missing_timestamp", "detail": "no date", "raw": "{}"}],
        read=4,
        skipped=1,
    )
    monkeypatch.setattr(github, "parse_github_page", lambda key, data: page)
    # When the page is normalized
    output = normalize(write("p1.json", "[]"), key="github/acme/api/commits/p1.json")
    # Then rows go to github_commits partitioned by event_date and repo, with the schema's columns
    assert output.counts.as_dict() == {"read": 4, "rows": 2, "dead_letters": 1, "skipped": 1}
    commits = sorted(
        (f.partition["event_date"], f.partition["repo"]) for f in output.files if f.table == "github_commits"
    )
    assert commits == [("2025-06-01", "acme/api"), ("2025-06-02", "acme/api")]
    for table_file in output.files:
        assert_schema(table_file.path, GITHUB_COMMITS if table_file.table == "github_commits" else DEAD_LETTERS)
    assert read_table(output, "dead_letters")[0]["reason"] == "missing_timestamp"


def test_github_key_outside_the_page_layout_is_unknown_format(normalize, write):
    output = normalize(write("x.json", "[]"), key="github/acme/api/releases/x.json")
    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}
    assert read_table(output, "dead_letters")[0]["reason"] == "unknown_format"


def test_normalize_paths_writes_lake_layout_and_summary(tmp_path):
    # Given sample files copied under a local traces/ tree
    inputs = tmp_path / "in" / "traces" / "team"
    inputs.mkdir(parents=True)
    files = []
    for name in ("seed__litellm-traces.jsonl", "ccusage__test-transcript.jsonl"):
        shutil.copy(FIXTURES / name, inputs / name)
        files.append(inputs / name)
    # When normalized to a local out dir
    summary = normalize_paths(files, tmp_path / "lake")
    # Then the summary balances and files sit at the lake keys
    assert summary == {"rows": 3, "dead_letters": 2, "skipped": 2, "read": 7, "objects": 2}
    seed_key = "traces/team/seed__litellm-traces.jsonl"
    expected = (
        tmp_path
        / "lake"
        / object_key("traces", {"event_date": "2025-10-12", "repo": "test/prodlens-demo"}, source_id(seed_key))
    )
    assert expected.exists()
    assert "repo=test%2Fprodlens-demo" in str(expected)
    dead = list((tmp_path / "lake" / "dead_letters").glob("*.parquet"))
    assert len(dead) == 1
    assert not (tmp_path / "lake" / ".normalize-work").exists()


CANARY = "CANARY-7f3a9-secret-prompt"


def _canary_inputs() -> dict[str, str]:
    seed = {
        "timestamp": "2025-10-12T19:00:00Z",
        "usage": {"input_tokens": 1, "output_tokens": 1},
        "attributes": {"llm.model_name": "gpt-4o", "input.value": CANARY, "output.value": CANARY},
        "metadata": {"session_id": "s"},
        "messages": [{"role": "user", "content": CANARY}],
        "response": CANARY,
    }
    claude = {
        "type": "assistant",
        "sessionId": "s",
        "timestamp": "2025-10-12T19:00:00Z",
        "requestId": "r",
        "message": {
            "id": "m",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": CANARY}],
            "usage": {"input_tokens": 1, "output_tokens": 2},
        },
        "toolUseResult": {"stdout": CANARY},
    }
    claude_user = {
        "type": "user",
        "sessionId": "s",
        "timestamp": "2025-10-12T19:00:00Z",
        "message": {"role": "user", "content": CANARY},
    }
    litellm = {
        "id": "x",
        "startTime": 1750615148.1,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": CANARY}],
        "response": {"choices": [{"message": {"content": CANARY}}]},
    }
    attrs = [
        {"key": "openinference.span.kind", "value": {"stringValue": "LLM"}},
        {"key": "input.value", "value": {"stringValue": CANARY}},
        {"key": "output.value", "value": {"stringValue": CANARY}},
        {"key": "llm.input_messages.0.message.content", "value": {"stringValue": CANARY}},
        {"key": "gen_ai.prompt", "value": {"stringValue": CANARY}},
        {"key": "gen_ai.completion", "value": {"stringValue": CANARY}},
        {"key": "llm.token_count.prompt", "value": {"intValue": "3"}},
    ]
    span = {"traceId": "ab", "spanId": "cd", "startTimeUnixNano": "1760295600000000000", "attributes": attrs}
    otlp = {"resourceSpans": [{"scopeSpans": [{"spans": [span, {**span, "spanId": "ef", "startTimeUnixNano": None}]}]}]}
    bad_seed = {**seed, "timestamp": None}  # a dead letter of an otherwise valid record
    bad_claude = {**claude, "timestamp": "not a time"}
    bad_litellm = {**litellm, "startTime": None}
    return {
        "seed.jsonl": "\n".join([json.dumps(seed), json.dumps(bad_seed)]) + "\n",
        "seed_blank.jsonl": "\n".join([json.dumps(seed), "", json.dumps(bad_seed)]) + "\n",
        "claude.jsonl": "\n".join([json.dumps(claude_user), json.dumps(claude), json.dumps(bad_claude)]) + "\n",
        "litellm.json": json.dumps(litellm),
        "litellm_bad.json": json.dumps(bad_litellm),
        "otlp.json": json.dumps(otlp),
    }


@pytest.mark.parametrize("name", list(_canary_inputs()))
def test_prompt_and_response_text_never_reaches_any_output_file(normalize, write, name):
    # Given the canary in every prompt/response field of the format (valid and dead-lettered records)
    output = normalize(write(name, _canary_inputs()[name]))
    assert output.files
    assert output.counts.rows >= 1 or output.counts.dead_letters >= 1
    # Then no output file contains it, compressed or not
    for table_file in output.files:
        assert CANARY.encode() not in table_file.path.read_bytes()
        relation = pq.read_table(table_file.path).to_pylist()
        assert CANARY not in json.dumps(relation, default=str)


def test_strip_text_removes_nested_and_otlp_attribute_text():
    record = {"a": 1, "message": {"content": "x", "id": "m"}, "attributes": [{"key": "input.value", "value": "x"}]}
    assert strip_text(record) == {
        "a": 1,
        "message": {"id": "m"},
        "attributes": [{"key": "input.value", "value": "[stripped]"}],
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '{"device_id":"d","account_uuid":"a","session_id":"e66a526e"}',
            {"device_id": "d", "account_uuid": "a", "session_id": "e66a526e"},
        ),
        (
            "user_abc123_account_0a1b-2c_session_3dabe418-63d9",
            {"device_id": "abc123", "account_uuid": "0a1b-2c", "session_id": "3dabe418-63d9"},
        ),
        ("someone@example.com", {}),
        (None, {}),
    ],
)
def test_claude_identity_parses_json_first_then_legacy(value, expected):
    assert claude_identity(value) == expected


def test_field_rules_for_timestamps_and_repos():
    rules = Rules()
    assert rules.timestamp([1770131992, 242000000]) == datetime(2026, 2, 3, 15, 19, 52, 242000)
    assert rules.timestamp("1544712660000000000") == datetime(2018, 12, 13, 14, 51)
    assert rules.slug(" Acme/API ") == "acme/api" and rules.slug("") is None


@pytest.mark.parametrize(
    ("tokens_in", "tokens_out", "cache_read", "cache_write"), [(3, 365, 0, 141272), (150_000, 10, 60_000, 7)]
)
def test_both_parsing_paths_price_like_genai_prices_for_tiered_and_cached_usage(
    normalize, write, tokens_in, tokens_out, cache_read, cache_write
):
    from genai_prices import Usage, calc_price

    model, at = "claude-sonnet-4-5-20250929", datetime(2025, 11, 19, 12)
    expected = calc_price(
        Usage(
            input_tokens=tokens_in + cache_read + cache_write,
            output_tokens=tokens_out,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        ),
        model,
        provider_id="anthropic",
        genai_request_timestamp=at,
    ).total_price
    # The same call through the vectorized path (a Claude Code transcript line) and the Python path (a LiteLLM
    # payload without response_cost): both end in the one row projection
    usage = {"input_tokens": tokens_in, "output_tokens": tokens_out, "cache_read_input_tokens": cache_read,
             "cache_creation_input_tokens": cache_write}  # fmt: skip
    transcript = {"type": "assistant", "sessionId": "s", "timestamp": "2025-11-19T12:00:00Z", "requestId": "r1",
                  "message": {"id": "m1", "model": model, "usage": usage}}  # fmt: skip
    payload = {"id": "c1", "startTime": at.timestamp(), "endTime": at.timestamp() + 1, "model": model,
               "prompt_tokens": tokens_in + cache_read + cache_write, "completion_tokens": tokens_out,
               "metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": cache_read},
                                             "cache_creation_input_tokens": cache_write}}}  # fmt: skip
    jsonl_row = traces(normalize(write("t.jsonl", json.dumps(transcript) + "\n")))[0]
    python_row = traces(normalize(write("p.json", json.dumps(payload))))[0]
    assert jsonl_row["cost_usd"] == pytest.approx(float(expected)) and jsonl_row["cost_source"] == "priced"
    assert (python_row["tokens_in"], python_row["cache_read_tokens"]) == (tokens_in, cache_read)
    assert python_row["cost_usd"] == pytest.approx(float(expected)) and python_row["cost_source"] == "priced"
    assert rates_for("no-such-model-xyz", date(2025, 1, 1)) is None


def test_unknown_model_is_unpriced_with_null_cost(normalize, write):
    line = {
        "timestamp": "2025-10-12T19:00:00Z",
        "usage": {"input_tokens": 1},
        "attributes": {"llm.model_name": "acme-llm-9"},
    }
    (row,) = traces(normalize(write("u.jsonl", json.dumps(line) + "\n")))
    assert (row["cost_usd"], row["cost_source"]) == (None, "unpriced")
