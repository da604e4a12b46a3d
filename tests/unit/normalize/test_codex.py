"""Codex CLI rollouts: one row per model request from cumulative counters (never summed), forks not replayed."""

from __future__ import annotations

import json

import pytest
from prodlens.normalize.formats.codex import repo_from_remote

from tests.unit.normalize.normalize_helpers import FIXTURES, dead_letters, traces

MODERN = "codex__modern_session.jsonl"


def _token_lines(name: str) -> list[dict]:
    lines = [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]
    return [
        line
        for line in lines
        if isinstance(line.get("payload"), dict)
        and line["payload"].get("type") == "token_count"
        and line["payload"].get("info")
    ]


def test_modern_rollout_has_one_row_per_advance_of_the_cumulative_total_and_sums_to_it(normalize):
    output = normalize(MODERN)

    rows = traces(output)
    final = _token_lines(MODERN)[-1]["payload"]["info"]["total_token_usage"]
    # 5 token_count lines with info: one byte-identical re-emit and one re-emit of old totals are not requests
    assert len(_token_lines(MODERN)) == 5 and len(rows) == 3
    assert sum(r["total_tokens"] for r in rows) == final["total_tokens"]
    assert sum(r["cache_read_tokens"] for r in rows) == final["cached_input_tokens"]
    assert sum(r["tokens_out"] for r in rows) == final["output_tokens"]
    first = rows[0]
    assert (first["tokens_in"], first["cache_read_tokens"], first["tokens_out"]) == (8412 - 3072, 3072, 296)
    assert {r["source_format"] for r in rows} == {"codex"}
    assert {r["session_id"] for r in rows} == {"0199ec89-fd9e-7a51-9f3d-5b8e2c41d7a6"}
    assert {r["model"] for r in rows} == {"gpt-5-codex"}
    assert {r["repo"] for r in rows} == {"acme-robotics/checkout-service"}
    assert {r["git_branch"] for r in rows} == {"feat/retry-backoff"}  # session_meta.git.branch
    assert [str(r["ts"]) for r in rows][0] == "2025-10-16 10:22:09.301000"
    counts = output.counts
    assert (counts.rows, counts.dead_letters, counts.read) == (3, 0, counts.skipped + 3)


def test_forked_subagent_skips_the_parents_replayed_counts_and_counts_its_own_increase(normalize):
    rows = traces(normalize("codex__forked_subagent.jsonl"))

    (row,) = rows
    assert row["session_id"] == "019ee9d6-6f7e-7e15-a92f-7c3d8b4e6a01"  # the fork's own id, not the parent's
    assert row["total_tokens"] == 55910 - 33580  # the increase over the replayed parent total
    assert row["model"] == "gpt-5.4-mini"


def test_legacy_rollout_without_token_counts_is_read_and_skipped_whole(normalize):
    output = normalize("codex__legacy_session.jsonl")

    assert output.source_format == "codex"
    assert traces(output) == [] and dead_letters(output) == []
    assert output.counts.read == output.counts.skipped > 0


def test_rollout_delivered_twice_in_one_object_counts_each_request_once(normalize, write):
    text = (FIXTURES / MODERN).read_text()
    output = normalize(write("twice.jsonl", text + text))

    assert [r["record_id"] for r in traces(output)] == [r["record_id"] for r in traces(normalize(MODERN))]


def test_bad_token_count_line_is_a_dead_letter_and_the_next_request_still_gets_only_its_own_tokens(normalize, write):
    lines = (FIXTURES / MODERN).read_text().splitlines()
    numbered = list(enumerate(lines, 1))
    counted = [n for n, line in numbered if '"token_count"' in line and '"info":{' in line]
    broken = json.loads(lines[counted[-2] - 1])
    broken["payload"]["info"]["total_token_usage"]["output_tokens"] = "many"
    lines[counted[-2] - 1] = json.dumps(broken)
    no_time = json.loads(lines[counted[-1] - 1])
    no_time["timestamp"] = None
    lines[counted[-1] - 1] = json.dumps(no_time)

    output = normalize(write("bad.jsonl", "\n".join(lines)))

    assert [(d["line_number"], d["reason"]) for d in dead_letters(output)] == [
        (counted[-2], "invalid_tokens"),
        (counted[-1], "missing_timestamp"),
    ]
    assert len(traces(output)) == 2


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("git@github.com:acme-robotics/checkout-service.git", "acme-robotics/checkout-service"),
        ("https://github.com/acme-robotics/inventory-api.git", "acme-robotics/inventory-api"),
        ("https://github.com/Acme/API", "Acme/API"),
        ("ssh://git@gitlab.example.com/group/sub/name.git", "sub/name"),
        ("", None),
        (None, None),
        ("not a url", None),
    ],
)
def test_repo_from_remote_takes_the_last_two_path_segments(url, slug):
    assert repo_from_remote(url) == slug
