"""Nothing leaks: a canary in every prompt/response field of every input format reaches no lake object, no
state item, no Glue metadata and no log line of a whole pipeline run.

The run is `python -m prodlens.cli pipeline` in a subprocess (the embedded stack: moto, the real handlers
with the environment template.yaml gives them, DEBUG logging as in the dev stage), so its stdout and stderr
hold every log and EMF line the functions write. The input mixes valid records (which must become rows:
the test fails if a format is silently skipped) with malformed ones (which must become dead letters,
whose `raw` column is where text would leak first).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
CANARY = "CANARY-7f3a-do-not-store"
REPO = "acme/api"
PIPELINE_TIMEOUT_S = 300

pytestmark = pytest.mark.faults

# ---- one input file per format, the canary in every text field it has -----------------------------------


def _seed() -> str:
    # The prototype's JSONL has no prompt field: the canary rides in attributes and metadata no column reads.
    valid = {
        "timestamp": "2026-09-03T10:00:00Z",
        "attributes": {"llm.model_name": "anthropic/claude-sonnet-4-5-20250929", "status_code": 200, "note": CANARY},
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        "metadata": {"developer_id": "alice@acme.dev", "session_id": "session-c1", "repo": REPO, "comment": CANARY},
        "extra_field": CANARY,
    }
    lines = [
        json.dumps(valid),
        json.dumps({**valid, "timestamp": None, "prompt": CANARY}),  # missing_timestamp
        json.dumps({**valid, "timestamp": "not a time", "user_note": CANARY}),  # invalid_timestamp, unknown key
        json.dumps({**valid, "usage": {"input_tokens": -3}, "messages": [{"content": CANARY}]}),  # invalid_tokens
        '{"timestamp": "2026-09-03T10:05:00Z", "prompt": "' + CANARY + " truncated mid-str",  # invalid_json
        f"plain text, not JSON: {CANARY}",  # invalid_json
    ]
    return "\n".join(lines) + "\n"


def _litellm(*, valid: bool) -> str:
    payload: dict[str, Any] = {
        "id": "chatcmpl-canary-1" if valid else "chatcmpl-canary-2",
        "trace_id": "canarytrace1",
        "call_type": "acompletion",
        "status": "failure",
        "custom_llm_provider": "anthropic",
        "startTime": 1788948000.0,
        "endTime": 1788948003.2,
        "model": "claude-sonnet-4-5-20250929",
        "response_cost": 0.01,
        "total_tokens": 150,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "request_tags": [f"repo:{REPO}"],
        "metadata": {"requester_metadata": {"repo": REPO, "note": CANARY}, "spend_logs_metadata": None},
        "messages": [{"role": "user", "content": CANARY}, {"role": "system", "content": [{"text": CANARY}]}],
        "response": {"choices": [{"message": {"role": "assistant", "content": CANARY}}]},
        "error_str": f"upstream said: {CANARY}",
        "error_information": {"error_code": "500", "error_class": "APIError", "error_message": CANARY},
    }
    if not valid:
        payload.pop("startTime")  # missing_timestamp: a dead letter carrying all of the above
        payload.pop("endTime")
    return json.dumps(payload)


def _attr(key: str, value: object) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _otlp() -> str:
    text_attributes = [
        _attr("llm.input_messages.0.message.content", CANARY),
        _attr("llm.output_messages.0.message.content", CANARY),
        _attr("input.value", CANARY),
        _attr("output.value", CANARY),
        _attr("gen_ai.prompt", CANARY),
        _attr("gen_ai.completion", CANARY),
        _attr("gen_ai.prompt.0.content", CANARY),
        _attr("note", CANARY),
    ]
    start = 1788948000 * 10**9

    def span(span_id: str, **extra: Any) -> dict[str, Any]:
        return {
            "traceId": "c" * 32,
            "spanId": span_id,
            "name": "chat",
            "kind": 3,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + 2 * 10**9),
            "attributes": [
                _attr("openinference.span.kind", "LLM"),
                _attr("llm.model_name", "gpt-4o-2024-08-06"),
                _attr("llm.token_count.prompt", 300),
                _attr("llm.token_count.completion", 40),
                _attr("session.id", "otlp-canary"),
                *text_attributes,
            ],
            "status": {"code": 1, "message": CANARY},
            "events": [{"name": "exception", "attributes": [_attr("exception.message", CANARY)]}],
            **extra,
        }

    broken = span("00000000000000b2")
    broken.pop("startTimeUnixNano")  # missing_timestamp
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "agent"), _attr("repo", REPO)]},
                "scopeSpans": [{"scope": {"name": "openinference"}, "spans": [span("00000000000000a1"), broken]}],
            }
        ]
    }
    return json.dumps(document)


def _claude() -> str:
    base = {"sessionId": "9c1a5e7e-0000-4000-8000-00000000c0de", "cwd": "/home/carol/src/api", "version": "2.0.46"}
    usage = {"input_tokens": 12, "output_tokens": 80, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

    def assistant(n: int, block: dict[str, Any], tokens: dict[str, Any] = usage) -> dict[str, Any]:
        return {
            **base,
            "type": "assistant",
            "timestamp": f"2026-09-04T16:00:{n:02d}.000Z",
            "requestId": f"req_canary_{n}",
            "uuid": f"a-{n}",
            "message": {
                "id": f"msg_canary_{n}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [block],
                "usage": tokens,
            },
        }

    lines = [
        {"type": "summary", "summary": CANARY, "leafUuid": "leaf-1"},
        {
            **base,
            "type": "user",
            "timestamp": "2026-09-04T16:00:00.000Z",
            "uuid": "u-1",
            "message": {"role": "user", "content": CANARY},
        },
        assistant(1, {"type": "thinking", "thinking": CANARY}),
        assistant(2, {"type": "text", "text": CANARY}),
        assistant(3, {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": CANARY}}),
        {
            **base,
            "type": "user",
            "timestamp": "2026-09-04T16:00:04.000Z",
            "uuid": "u-2",
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": CANARY}],
            },
            "toolUseResult": {"stdout": CANARY, "stderr": CANARY},
        },
        assistant(5, {"type": "text", "text": CANARY}, {"input_tokens": "lots", "output_tokens": 1}),  # invalid_tokens
    ]
    text = "\n".join(json.dumps(line) for line in lines)
    return text + '\n{"type": "assistant", "message": {"content": "' + CANARY + " cut off\n"  # invalid_json


def _claude_code_otel_logs() -> str:
    """Claude Code's OTLP log events: the prompt event, tool results and an API error all carry text."""
    start = 1788948000 * 10**9

    def event(name: str, sequence: int, *attributes: dict[str, Any], ts: Any = None) -> dict[str, Any]:
        return {
            "timeUnixNano": str(start + sequence * 10**9) if ts is None else ts,
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": [
                _attr("event.name", name),
                _attr("session.id", "cc-otel-canary"),
                _attr("event.sequence", sequence),
                _attr("user.email", "dana@acme.dev"),
                *attributes,
            ],
        }

    records = [
        event("user_prompt", 1, _attr("prompt", CANARY), _attr("prompt_length", 33)),
        event(
            "api_request",
            2,
            _attr("model", "claude-sonnet-4-5-20250929"),
            _attr("input_tokens", 12),
            _attr("output_tokens", 40),
            _attr("cost_usd", "0.0012"),
            _attr("request_id", "req_canary_1"),
            _attr("note", CANARY),
        ),
        event("tool_result", 3, _attr("tool_name", "Bash"), _attr("tool_parameters", CANARY)),
        event(
            "api_error",
            4,
            _attr("model", "claude-sonnet-4-5-20250929"),
            _attr("error", CANARY),
            _attr("status_code", 529),
        ),
        event(
            "api_request",
            5,
            _attr("model", "claude-sonnet-4-5-20250929"),
            _attr("input_tokens", CANARY),
            _attr("request_id", "req_canary_2"),
        ),  # invalid_tokens
        event(
            "api_request",
            6,
            _attr("model", "claude-sonnet-4-5-20250929"),
            _attr("input_tokens", 3),
            _attr("request_id", "req_canary_3"),
            ts="not a time",
        ),  # invalid_timestamp
    ]
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": [_attr("service.name", "claude-code"), _attr("repo", REPO)]},
                "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}],
            }
        ]
    }
    return json.dumps(document)


def _codex() -> str:
    def line(ts: str, kind: str, payload: dict) -> dict:
        return {"timestamp": f"2026-09-05T09:{ts}Z", "type": kind, "payload": payload}

    def usage(total_in: int, cached: int, total_out: int) -> dict:
        totals = {
            "input_tokens": total_in,
            "cached_input_tokens": cached,
            "output_tokens": total_out,
            "reasoning_output_tokens": 0,
            "total_tokens": total_in + total_out,
        }
        return {"type": "token_count", "info": {"total_token_usage": totals, "last_token_usage": totals}}

    lines = [
        line(
            "00:00.000",
            "session_meta",
            {
                "id": "codex-canary",
                "instructions": CANARY,
                "cwd": f"/home/{CANARY}",
                "git": {"repository_url": "git@github.com:acme/api.git"},
            },
        ),
        line("00:01.000", "turn_context", {"model": "gpt-5-codex", "cwd": CANARY}),
        line("00:02.000", "event_msg", {"type": "user_message", "message": CANARY, "kind": "plain"}),
        line("00:03.000", "response_item", {"type": "function_call", "name": "shell", "arguments": CANARY}),
        line("00:04.000", "response_item", {"type": "function_call_output", "output": CANARY}),
        line("00:05.000", "event_msg", {"type": "agent_reasoning", "text": CANARY}),
        line("00:06.000", "event_msg", usage(900, 100, 50)),
        {**line("00:07.000", "event_msg", {**usage(1900, 300, 90), "note": CANARY}), "timestamp": "not a time"},
    ]
    return "\n".join(json.dumps(item) for item in lines) + '\n{"type": "event_msg", "payload": "' + CANARY + "\n"


def _copilot_usage() -> str:
    """A Copilot user-day line with the canary in every free-text-ish place, and a line whose day is text."""
    line = {
        "day": "2026-09-03",
        "user_login": "alice",
        "user_id": 17,
        "loc_added_sum": 12,
        "loc_suggested_to_add_sum": 20,
        "code_acceptance_activity_count": 3,
        "user_initiated_interaction_count": 4,
        "note": CANARY,
        "totals_by_ide": [{"ide": CANARY, "loc_added_sum": 12}],
        "totals_by_language_model": [{"language": CANARY, "model": "gpt-4.1"}],  # model: an identifier, kept
        "last_known_ide_version": {"ide_version": CANARY, "sampled_at": "2026-09-03T10:00:00Z"},
    }
    broken = {**line, "user_login": "bob", "day": CANARY}  # invalid_timestamp
    return "\n".join(json.dumps(item) for item in (line, broken)) + "\n"


def _claude_code_analytics() -> str:
    record = {
        "date": "2026-09-03T00:00:00Z",
        "actor": {"type": "user_actor", "email_address": "dana@acme.dev"},
        "organization_id": "org-canary",
        "customer_type": "api",
        "terminal_type": CANARY,
        "core_metrics": {"num_sessions": 2, "lines_of_code": {"added": 40, "removed": 3}},
        "tool_actions": {"edit_tool": {"accepted": 5, "rejected": 1}},
        "model_breakdown": [
            {
                "model": "claude-sonnet-4-5",
                "tokens": {"input": 100, "output": 20},
                "estimated_cost": {"amount": 12, "currency": "USD"},
                "note": CANARY,
            }
        ],
    }
    broken = {
        **record,
        "actor": {"type": "user_actor", "email_address": "erin@acme.dev"},
        "core_metrics": {"num_sessions": CANARY},
    }
    return json.dumps({"data": [record, broken], "has_more": False, "next_page": None})


def _claude_code_otel_metrics() -> str:
    start = 1788948000 * 10**9

    def point(value: Any, **attrs: Any) -> dict[str, Any]:
        return {
            "startTimeUnixNano": str(start),
            "timeUnixNano": str(start + 60 * 10**9),
            "asInt": str(value) if isinstance(value, int) else value,
            "attributes": [
                _attr("user.email", "dana@acme.dev"),
                _attr("session.id", "otel-canary"),
                *(_attr(k, v) for k, v in attrs.items()),
            ],
        }

    metrics = [
        {
            "name": "claude_code.token.usage",
            "unit": "tokens",
            "sum": {
                "aggregationTemporality": 1,
                "isMonotonic": True,
                "dataPoints": [
                    point(120, type="input", model="claude-sonnet-4-5", note=CANARY),
                    point(CANARY, type="output", model="claude-sonnet-4-5"),
                ],
            },
        },
        {
            "name": "claude_code.lines_of_code.count",
            "unit": "count",
            "sum": {
                "aggregationTemporality": 1,
                "isMonotonic": True,
                "dataPoints": [point(7, type="added", prompt=CANARY)],
            },
        },
    ]
    document = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [_attr("service.name", "claude-code"), _attr("host.name", CANARY)]},
                "scopeMetrics": [{"scope": {"name": "com.anthropic.claude_code"}, "metrics": metrics}],
            }
        ]
    }
    return json.dumps(document)


def _cursor_daily() -> str:
    record = {
        "userId": 7,
        "email": "carol@acme.dev",
        "day": "2026-09-03",
        "date": 1788393600000,
        "isActive": True,
        "acceptedLinesAdded": 30,
        "acceptedLinesDeleted": 2,
        "totalAccepts": 4,
        "totalRejects": 1,
        "totalTabsAccepted": 6,
        "composerRequests": 2,
        "chatRequests": 1,
        "agentRequests": 0,
        "cmdkUsages": 0,
        "mostUsedModel": CANARY,
        "applyMostUsedExtension": CANARY,
        "clientVersion": CANARY,
    }
    broken = {**record, "email": "dave@acme.dev", "acceptedLinesAdded": CANARY}  # invalid_value
    return json.dumps({"data": [record, broken], "period": {"startDate": 1788393600000, "endDate": 1788480000000}})


def _cursor_ai_commits() -> str:
    item = {
        "commitHash": "e" * 40,
        "userId": "user_canary",
        "userEmail": "carol@acme.dev",
        "repoName": "acme/api",
        "branchName": CANARY,
        "isPrimaryBranch": True,
        "totalLinesAdded": 50,
        "tabLinesAdded": 10,
        "composerLinesAdded": 20,
        "nonAiLinesAdded": 20,
        "message": CANARY,
        "commitTs": "2026-09-03T12:00:00Z",
        "createdAt": "2026-09-03T12:05:00Z",
    }
    broken = {**item, "commitHash": "f" * 40, "repoName": None, "message": CANARY}  # missing_repo
    return json.dumps({"items": [item, broken], "totalCount": 2, "page": 1, "pageSize": 100})


def _pulls() -> str:
    pull = {
        "id": 777001,
        "number": 901,
        "state": "open",
        "title": CANARY,
        "body": f"Body: {CANARY}",
        "user": {"login": "alice"},
        "created_at": "2026-09-03T10:00:00Z",
        "updated_at": "2026-09-03T11:00:00Z",
        "closed_at": None,
        "merged_at": None,
        "head": {"ref": "feature/x", "label": CANARY},
    }
    broken = {**pull, "id": 777002, "number": 902, "updated_at": "yesterday"}  # invalid_timestamp
    return json.dumps([pull, broken])


def _commits() -> str:
    commit = {
        "sha": "c" * 40,
        "commit": {
            "author": {"name": "alice", "email": "alice@acme.dev", "date": "2026-09-03T12:00:00Z"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2026-09-03T12:01:00Z"},
            "message": f"Fix it\n\n{CANARY}",
        },
        "author": {"login": "alice"},
    }
    broken = {"sha": "d" * 40, "commit": {"author": {"name": "bob"}, "message": CANARY}}  # missing_timestamp
    return json.dumps([commit, broken])


def _issue_events() -> str:
    event = {
        "id": 555001,
        "event": "reopened",
        "created_at": "2026-09-03T13:00:00Z",
        "issue": {"number": 901, "title": CANARY, "body": CANARY, "pull_request": {}},
    }
    broken = {"id": 555002, "created_at": "2026-09-03T13:00:00Z", "issue": {"number": 902, "title": CANARY}}
    return json.dumps([event, broken])


# relative key -> (text, S3 user metadata or None); the formats the canary is planted in
INPUTS: dict[str, tuple[str, dict[str, str] | None]] = {
    "traces/seed/canary.jsonl": (_seed(), None),
    "traces/litellm/2026-09-10/time-10-00-00-000000_chatcmpl-canary-1.json": (_litellm(valid=True), None),
    "traces/litellm/2026-09-10/time-10-01-00-000000_chatcmpl-canary-2.json": (_litellm(valid=False), None),
    "traces/otlp/canary-agent.json": (_otlp(), None),
    "traces/claude/api/canary-session.jsonl": (_claude(), {"repo": REPO, "developer": "carol@acme.dev"}),
    "traces/codex/rollout-2026-09-05T11-00-00-canary.jsonl": (_codex(), None),
    "traces/otel/claude-code-logs-canary.json": (_claude_code_otel_logs(), None),
    "usage/copilot/users-1-day-canary.ndjson": (_copilot_usage(), None),
    "usage/claude_code/usage-report-canary.json": (_claude_code_analytics(), None),
    "usage/otel/claude-code-metrics/metrics_canary.json": (_claude_code_otel_metrics(), None),
    "usage/cursor/daily-usage-canary.json": (_cursor_daily(), None),
    "usage/cursor/ai-code-commits-canary.json": (_cursor_ai_commits(), None),
    "traces/seed/not-json-at-all.jsonl.gz": (f"{{{CANARY}}}\n", None),  # gzip, unknown format
    "github/acme/api/pulls/page-0001.json": (_pulls(), None),
    "github/acme/api/commits/page-0001.json": (_commits(), None),
    "github/acme/api/issue_events/page-0001.json": (_issue_events(), None),
    "github/acme/api/pulls/page-0002.json": ('[{"id": 1, "title": "' + CANARY, None),  # a page that is not JSON
}
FORMATS = ("seed", "litellm", "otlp", "claude_code", "codex", "claude_code_otel_logs", "github")
USAGE_FORMATS = ("copilot_usage", "claude_code_analytics", "claude_code_otel_metrics", "cursor_daily")


def _write_inputs(root: Path) -> None:
    for key, (text, metadata) in INPUTS.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(text.encode()) if key.endswith(".gz") else text.encode())
        if metadata:
            path.with_name(path.name + ".meta.json").write_text(json.dumps(metadata))
    # The inputs really carry the canary (a typo in a builder would make the whole test vacuous)
    assert all(CANARY in text for text, _ in INPUTS.values())


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory) -> dict[str, Any]:
    """One pipeline run over the canary inputs; its lake directory, stdout and stderr."""
    base = tmp_path_factory.mktemp("canary")
    input_dir, lake_dir = base / "input", base / "lake"
    _write_inputs(input_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(ROOT / "layers" / "prodlens")
    result = subprocess.run(
        [sys.executable, "-m", "prodlens.cli", "pipeline", "--input", str(input_dir), "--lake", str(lake_dir)],
        capture_output=True,
        text=True,
        timeout=PIPELINE_TIMEOUT_S,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {"lake": lake_dir, "stdout": result.stdout, "stderr": result.stderr, "summary": json.loads(result.stdout)}


def _parquet_files(lake: Path) -> list[Path]:
    return sorted((lake / "lake").rglob("*.parquet"))


def _string_values(path: Path) -> list[str]:
    """Every string value of every column of a Parquet file, decompressed and decoded (nested too)."""
    values: list[str] = []

    def collect(array: pa.Array) -> None:
        kind = array.type
        if pa.types.is_dictionary(kind):
            collect(array.dictionary)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
            values.extend(v if isinstance(v, str) else v.decode("utf-8", "replace") for v in array.to_pylist() if v)
        elif pa.types.is_struct(kind):
            for index in range(kind.num_fields):
                collect(array.field(index))
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            collect(array.flatten())

    table = pq.read_table(path)
    for column in table.columns:
        for chunk in column.chunks:
            collect(chunk)
    return values


def _table_rows(lake: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((lake / "lake" / table).rglob("*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


# ---- the inputs were processed, not skipped ------------------------------------------------------------


def test_every_canary_format_produced_rows_and_dead_letters(canary_run, ledger):
    # Given the pipeline run over the canary inputs
    lake = canary_run["lake"]
    traces = _table_rows(lake, "traces")
    dead = _table_rows(lake, "dead_letters")
    # Then every trace format produced rows from its valid records (the canary text was read, then dropped)
    formats = Counter(row["source_format"] for row in traces)
    assert {f for f in FORMATS if f != "github"} <= set(formats), formats
    # And GitHub pages produced staged rows
    assert {r["pr_number"] for r in _table_rows(lake, "github_pulls")} == {901}
    assert {r["sha"] for r in _table_rows(lake, "github_commits")} == {"c" * 40}
    assert {r["event_id"] for r in _table_rows(lake, "github_issue_events")} == {555001}
    # And every usage format produced its row from the valid record
    usage = _table_rows(lake, "usage_records")
    assert set(USAGE_FORMATS) <= {row["source_format"] for row in usage}, Counter(r["source_format"] for r in usage)
    assert {r["sha"] for r in _table_rows(lake, "ai_commit_records")} == {"e" * 40}
    # And every malformed record carrying the canary became a dead letter
    by_key = Counter(row["source_key"] for row in dead)
    assert by_key["traces/seed/canary.jsonl"] == 5
    assert by_key["traces/litellm/2026-09-10/time-10-01-00-000000_chatcmpl-canary-2.json"] == 1
    assert by_key["traces/otlp/canary-agent.json"] == 1
    assert by_key["traces/claude/api/canary-session.jsonl"] == 2
    assert by_key["traces/codex/rollout-2026-09-05T11-00-00-canary.jsonl"] == 2  # a bad timestamp, a cut-off line
    assert by_key["traces/seed/not-json-at-all.jsonl.gz"] == 1
    for key in INPUTS:
        if key.startswith("usage/"):
            assert by_key[key] >= 1, key  # the malformed record of each usage report
    for kind in ("pulls/page-0001", "pulls/page-0002", "commits/page-0001", "issue_events/page-0001"):
        assert by_key[f"github/acme/api/{kind}.json"] == 1, kind
    # And dead letters still explain themselves: reasons kept, identifiers of the bad record kept
    assert {"invalid_json", "missing_timestamp", "invalid_timestamp", "invalid_tokens"} <= {r["reason"] for r in dead}
    assert any("902" in row["raw"] for row in dead if row["source_key"].endswith("pulls/page-0001.json"))
    ledger["canary formats"] += len(FORMATS) + len(USAGE_FORMATS) + 1  # + cursor_ai_commits


# ---- nothing leaks -------------------------------------------------------------------------------------


def test_canary_is_in_no_lake_object_raw_or_decompressed(canary_run, ledger):
    # Given every object of the lake bucket (DIR/lake). DIR/raw is the raw bucket: it holds the input as
    # dropped, canary included, by design (it is the source of truth a dead letter is replayed from), so it
    # is excluded here and nowhere else.
    lake = canary_run["lake"]
    objects = sorted(p for p in (lake / "lake").rglob("*") if p.is_file())
    assert _parquet_files(lake), "the run wrote no Parquet: nothing was checked"
    leaks = []
    for path in objects:
        data = path.read_bytes()
        # Then the canary is in no object's bytes (plain text, HTML report, uncompressed pages)
        if CANARY.encode() in data:
            leaks.append(f"bytes of {path.relative_to(lake)}")
        if data[:2] == b"\x1f\x8b" and CANARY.encode() in gzip.decompress(data):
            leaks.append(f"gunzipped {path.relative_to(lake)}")
        # And in no decoded string value of any Parquet column (pages are compressed: bytes alone prove little)
        if path.suffix == ".parquet":
            leaks.extend(f"value in {path.relative_to(lake)}" for v in _string_values(path) if CANARY in v)
    ledger["lake objects scanned"] += len(objects)
    ledger["canary leaks"] += len(leaks)
    assert leaks == []


def test_canary_is_in_no_state_item_and_no_glue_metadata(canary_run, ledger):
    # Given the DynamoDB state items and the Glue partitions the run left (dumped as the stack saves them)
    state = canary_run["lake"] / "state"
    state_items = json.loads((state / "state.json").read_text())
    glue = (state / "glue.json").read_text()
    assert state_items, "no state item: the run recorded nothing"
    assert json.loads(glue), "no Glue partition: the run registered nothing"
    # Then neither holds the canary
    leaks = [name for name, text in (("state.json", json.dumps(state_items)), ("glue.json", glue)) if CANARY in text]
    ledger["canary leaks"] += len(leaks)
    assert leaks == []


def test_canary_is_in_no_log_line_stdout_or_stderr(canary_run, ledger):
    # Given everything the run printed: the summary on stdout; function logs and EMF metrics on stderr
    lines = canary_run["stdout"].splitlines() + canary_run["stderr"].splitlines()
    # (the functions did log: one line per normalized object at least)
    assert sum('"normalized object"' in line for line in lines) >= len(INPUTS)
    # Then no line holds the canary
    leaks = [line[:200] for line in lines if CANARY in line]
    ledger["log lines scanned"] += len(lines)
    ledger["canary leaks"] += len(leaks)
    assert leaks == []
