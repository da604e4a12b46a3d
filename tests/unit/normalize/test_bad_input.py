"""Malformed input becomes dead letters with the contract's reasons; the accounting rule always holds."""

from __future__ import annotations

import json

import pytest
from prodlens.normalize import Limits

from tests.unit.normalize.normalize_helpers import dead_letters, traces


def seed_line(**overrides) -> str:
    record = {
        "timestamp": "2025-10-12T19:00:00Z",
        "attributes": {"llm.model_name": "gpt-4o", "status_code": 200, "latency_ms": 10.0},
        "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12},
        "metadata": {"developer_id": "dev", "session_id": "session_s1", "repo": "acme/api"},
    }
    for key, value in overrides.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return json.dumps(record)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"timestamp": "2025-10-12T19:00:00Z", "usage": {"input_tokens": 1', "invalid_json"),
        ("[1, 2, 3]", "invalid_record"),
        (json.dumps({"timestamp": "2025-10-12T19:00:00Z", "attributes": {}}), "invalid_record"),
        (seed_line(timestamp=None), "missing_timestamp"),
        (seed_line(timestamp="yesterday"), "invalid_timestamp"),
        (seed_line(timestamp="9999-01-01T00:00:00Z"), "invalid_timestamp"),
        (seed_line(timestamp="1970-01-01T00:00:00Z"), "invalid_timestamp"),
        (seed_line(usage={"input_tokens": -5, "output_tokens": 1}), "invalid_tokens"),
        (seed_line(usage={"input_tokens": 1.5, "output_tokens": 1}), "invalid_tokens"),
        (seed_line(usage={"input_tokens": "NaN", "output_tokens": 1}), "invalid_tokens"),
        (seed_line(metadata={"repo": "../etc/passwd"}), "invalid_repo"),
        (seed_line(metadata={"repo": "/acme/api"}), "invalid_repo"),
        (seed_line(metadata={"repo": "acme/api/extra"}), "invalid_repo"),
        (seed_line(metadata={"repo": "acme/ap i"}), "invalid_repo"),
    ],
)
def test_seed_bad_line_becomes_dead_letter_with_reason(normalize, write, line, reason):
    # Given a seed file with a good line, the bad line, and another good line
    path = write("bad.jsonl", "\n".join([seed_line(), line, seed_line(timestamp="2025-10-13T00:00:00Z")]) + "\n")
    # When it is normalized
    output = normalize(path)
    # Then the bad line (line 2) is the only dead letter and the good lines are rows
    assert output.counts.as_dict() == {"read": 3, "rows": 2, "dead_letters": 1, "skipped": 0}
    (letter,) = dead_letters(output)
    assert (letter["line_number"], letter["reason"]) == (2, reason)
    assert letter["source_key"] == "traces/test/bad.jsonl"
    assert letter["detail"]


def test_seed_blank_lines_keep_line_numbers_and_are_not_records(normalize, write):
    # Given blank lines between records and dead letters (whose line numbers then come from the exact path)
    path = write("blank.jsonl", "\n".join([seed_line(), "", "not json", "   ", seed_line(timestamp=None)]) + "\n")
    output = normalize(path)
    assert output.counts.as_dict() == {"read": 3, "rows": 1, "dead_letters": 2, "skipped": 0}
    assert [(d["line_number"], d["reason"]) for d in dead_letters(output)] == [
        (3, "invalid_json"),
        (5, "missing_timestamp"),
    ]


@pytest.mark.parametrize("blank", ["", "   ", "\r"])
def test_seed_blank_lines_without_dead_letters_are_not_records(normalize, write, blank):
    path = write("blank_ok.jsonl", "\n".join([blank, seed_line(), blank, seed_line(timestamp="2025-10-13T00:00:00Z")]))
    output = normalize(path)
    assert output.counts.as_dict() == {"read": 2, "rows": 2, "dead_letters": 0, "skipped": 0}


def test_seed_dead_letter_after_a_blank_line_near_the_end_has_its_line_number(normalize, write):
    # Row numbers and line numbers differ only after the blank line, past the dead letter's own position
    lines = [seed_line(timestamp=f"2025-10-12T19:00:{i:02d}Z") for i in range(50)]
    lines[10] = "{broken"
    path = write("late_blank.jsonl", "\n".join([*lines, "", seed_line(timestamp="2025-10-13T00:00:00Z")]) + "\n")
    output = normalize(path)
    assert output.counts.as_dict() == {"read": 51, "rows": 50, "dead_letters": 1, "skipped": 0}
    assert [(d["line_number"], d["reason"]) for d in dead_letters(output)] == [(11, "invalid_json")]


def test_seed_invalid_json_raw_keeps_structure_but_redacts_free_text(normalize, write):
    # Text of a line that is not JSON may be a prompt: only structure, numbers and known-key values stay
    path = write("raw.jsonl", seed_line() + '\n{"timestamp": "2026-09-03T10:05:00Z", "n": 7, "prompt": "secret\n')
    (letter,) = dead_letters(normalize(path))
    assert letter["raw"] == '{"timestamp": "2026-09-03T10:05:00Z", "n": 7, "prompt": "[redacted]"'


def test_seed_duplicate_lines_count_once_and_extras_are_skipped(normalize, write):
    path = write("dups.jsonl", "\n".join([seed_line(), seed_line(), seed_line()]) + "\n")
    output = normalize(path)
    assert output.counts.as_dict() == {"read": 3, "rows": 1, "dead_letters": 0, "skipped": 2}


def test_seed_metadata_as_json_string_and_object_metadata_fallbacks(normalize, write):
    # Given metadata given as a JSON string, and a record without repo/developer of its own
    line1 = seed_line(metadata=json.dumps({"session_id": "session-abc", "repo": "Org/Repo"}))
    line2 = seed_line(metadata={"session_id": "plain"}, timestamp="2025-10-12T20:00:00+02:00")
    path = write("meta.jsonl", line1 + "\n" + line2 + "\n")
    output = normalize(path, metadata={"repo": "fallback/repo", "developer": "meta-dev"})
    first, second = traces(output)
    assert (second["session_id"], second["repo"], second["developer_id"]) == ("abc", "org/repo", "meta-dev")
    assert (first["session_id"], first["repo"]) == ("plain", "fallback/repo")
    assert str(first["ts"]) == "2025-10-12 18:00:00"  # +02:00 offset converted to UTC


def test_seed_acceptance_attributes_and_error_status_are_mapped(normalize, write):
    attributes = {
        "llm.model_name": "gpt-4o",
        "status_code": 503,
        "latency_ms": 12.5,
        "prod_lens.accepted": "yes",
        "accepted_lines": 42,
        "diff_ratio": 0.25,
    }
    (row,) = traces(normalize(write("acc.jsonl", seed_line(attributes=attributes) + "\n")))
    assert (row["accepted_flag"], row["accepted_lines"], row["diff_ratio"]) == (True, 42, 0.25)
    assert (row["status_code"], row["is_error"], row["latency_ms"]) == (503, True, 12.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-22T10:59:08Z", "2025-06-22 10:59:08"),
        ("2025-06-22T12:59:08+02:00", "2025-06-22 10:59:08"),
        ("2025-06-22 10:59:08.5", "2025-06-22 10:59:08.500000"),
        (1750589948, "2025-06-22 10:59:08"),
        (1750589948.25, "2025-06-22 10:59:08.250000"),
        (1750589948250, "2025-06-22 10:59:08.250000"),
        ("1750589948000000000", "2025-06-22 10:59:08"),
    ],
)
def test_seed_timestamp_encodings_normalise_to_utc(normalize, write, value, expected):
    output = normalize(write("ts.jsonl", seed_line(timestamp=value) + "\n"))
    (row,) = traces(output)
    assert str(row["ts"]) == expected


def test_claude_synthetic_and_non_usage_lines_are_skipped(normalize, write):
    base = {"sessionId": "s1", "timestamp": "2025-11-19T22:53:34.908Z", "requestId": "r1"}
    lines = [
        {**base, "type": "user", "message": {"role": "user", "content": "hi"}},
        {**base, "type": "assistant", "message": {"id": "m0", "model": "<synthetic>", "usage": {"input_tokens": 0}}},
        {
            **base,
            "type": "assistant",
            "message": {
                "id": "m1",
                "model": "claude-sonnet-4-5-20250929",
                "usage": {"input_tokens": 3, "output_tokens": 9},
            },
        },
        {"type": "summary", "summary": "s", "leafUuid": "u"},
        {
            **base,
            "type": "assistant",
            "message": {
                "id": "m2",
                "model": "claude-sonnet-4-5-20250929",
                "usage": {"input_tokens": -1, "output_tokens": 9},
            },
        },
    ]
    output = normalize(write("s.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n"))
    assert output.counts.as_dict() == {"read": 5, "rows": 1, "dead_letters": 1, "skipped": 3}
    assert [(d["line_number"], d["reason"]) for d in dead_letters(output)] == [(5, "invalid_tokens")]


def test_claude_invalid_object_repo_metadata_dead_letters_rows(normalize):
    output = normalize("ccusage__project-beta__session-beta__chat.jsonl", metadata={"repo": "a/b/c"})
    assert output.counts.as_dict() == {"read": 2, "rows": 0, "dead_letters": 2, "skipped": 0}
    assert {d["reason"] for d in dead_letters(output)} == {"invalid_repo"}


def test_litellm_payload_without_start_time_is_missing_timestamp(normalize, write):
    payload = {"id": "x", "startTime": None, "prompt_tokens": 1, "completion_tokens": 1, "model": "gpt-4o"}
    output = normalize(write("l.json", json.dumps(payload)), key="traces/team/2025-06-22/l.json")
    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}
    (letter,) = dead_letters(output)
    assert (letter["line_number"], letter["reason"]) == (0, "missing_timestamp")


def test_litellm_negative_tokens_is_invalid_tokens(normalize, write):
    payload = {"id": "x", "startTime": 1750615148.1, "prompt_tokens": -3, "completion_tokens": 1}
    (letter,) = dead_letters(normalize(write("l.json", json.dumps(payload))))
    assert letter["reason"] == "invalid_tokens"


def test_litellm_jsonl_and_array_of_payloads_are_accepted(normalize, write):
    payloads = [
        {"id": f"c{i}", "startTime": 1750615148.1 + i, "prompt_tokens": 1, "completion_tokens": 1, "model": "gpt-4o"}
        for i in range(3)
    ]
    as_lines = normalize(write("l.jsonl", "\n".join(json.dumps(p) for p in payloads) + "\nnot json\n"))
    as_array = normalize(write("a.json", json.dumps(payloads)))
    assert as_lines.counts.as_dict() == {"read": 4, "rows": 3, "dead_letters": 1, "skipped": 0}
    assert as_array.counts.as_dict() == {"read": 3, "rows": 3, "dead_letters": 0, "skipped": 0}
    assert [d["line_number"] for d in dead_letters(as_lines)] == [4]


def test_unknown_jsonl_and_empty_objects_are_unknown_format(normalize, write):
    for name, content in [("u.jsonl", '{"hello": 1}\n{"world": 2}\n'), ("e.json", ""), ("t.txt", "plain text\n")]:
        output = normalize(write(name, content))
        assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}
        assert dead_letters(output)[0]["reason"] == "unknown_format"


def test_corrupt_gzip_is_one_dead_letter(normalize, write):
    output = normalize(write("x.jsonl.gz", b"\x1f\x8b\x08\x00garbage"))
    assert [d["reason"] for d in dead_letters(output)] == ["invalid_gzip"]


def test_decompression_bound_rejects_oversized_object(normalize, write):
    import gzip

    path = write("big.jsonl.gz", gzip.compress((seed_line() + "\n").encode() * 100))
    output = normalize(path, limits=Limits(max_decompressed_bytes=1000))
    assert [d["reason"] for d in dead_letters(output)] == ["too_large"]
    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}


def test_dead_letter_raw_is_truncated_to_64_kib(normalize, write):
    long_line = "1" * 200_000  # a bare number: kept by the redaction, so only the truncation shortens it
    output = normalize(write("long.jsonl", seed_line() + "\n" + long_line + "\n"))
    (letter,) = dead_letters(output)
    assert len(letter["raw"].encode()) == 64 * 1024


def test_line_longer_than_limit_dead_letters_the_whole_object(normalize, write):
    # Given a blank line and a bad line (so the exact line-by-line path runs) and a line longer than max_line_bytes
    long_record = json.loads(seed_line())
    long_record["pad"] = "x" * 5000
    path = write("long.jsonl", "\n".join([seed_line(), "", "not json", json.dumps(long_record)]) + "\n")
    # When normalized with a 1000-byte line bound
    output = normalize(path, limits=Limits(max_line_bytes=1000))
    # Then the object is one dead letter (kept whole for replay), nothing else is written
    assert output.counts.as_dict() == {"read": 1, "rows": 0, "dead_letters": 1, "skipped": 0}
    assert [f.table for f in output.files] == ["dead_letters"]
    assert dead_letters(output)[0]["reason"] == "unreadable"
