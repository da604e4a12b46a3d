"""Hostile raw objects through the real normalize handler on the embedded stack: each one ends as rows, dead
letters with the contract's reason, or a clean skip; never a failed batch item, and always
rows + dead letters + skipped == records read (docs/inputs.md, "Bad input").

One embedded stack serves the module (every case uploads its own key). The 50 MB line is also driven
through the handler: S3 and the handler add nothing for it but a download, which is what is being checked.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pyarrow.parquet as pq
import pytest
from prodlens.lake import parse_partition, source_id
from prodlens.local.stack import LocalStack, running

from tests.unit.normalize.test_bad_input import seed_line

pytestmark = pytest.mark.faults

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "traces"
CLAUDE_FIXTURE = FIXTURES / "ccusage__project-beta__session-beta__chat.jsonl"  # 2 assistant calls, no repo
BOM = b"\xef\xbb\xbf"
DEEP = 10_000


def litellm(**overrides: Any) -> dict[str, Any]:
    """A minimal LiteLLM StandardLoggingPayload (docs/inputs.md, traces), attributed to acme/api."""
    payload: dict[str, Any] = {
        "id": "chatcmpl-hostile",
        "trace_id": "trace-hostile",
        "startTime": 1760295600.25,
        "endTime": 1760295601.5,
        "model": "gpt-4o",
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "status": "success",
        "metadata": {"requester_metadata": {"repo": "acme/api"}},
    }
    payload.update(overrides)
    return payload


OTLP_LLM_SPAN = {
    "traceId": "5b8aa5a2d2c872e8321cf37308d69df2",
    "spanId": "051581bf3cb55c13",
    "startTimeUnixNano": "1760295600000000000",
    "endTimeUnixNano": "1760295601000000000",
    "attributes": [
        {"key": "openinference.span.kind", "value": {"stringValue": "LLM"}},
        {"key": "llm.model_name", "value": {"stringValue": "gpt-4o"}},
        {"key": "llm.token_count.prompt", "value": {"intValue": "12"}},
        {"key": "repo", "value": {"stringValue": "acme/api"}},
    ],
}


def seed(**overrides: Any) -> bytes:
    return seed_line(**overrides).encode()


GOOD = seed()
GOOD2 = seed(timestamp="2025-10-13T00:00:00Z")


def jsonl(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


@dataclass(frozen=True)
class Case:
    """One hostile object: what goes in, and exactly what the lake and the processed record must show."""

    name: str
    body: bytes
    counts: dict[str, int]  # read / rows / dead_letters / skipped
    dead: list[tuple[int, str]] = field(default_factory=list)  # (line_number, reason)
    key: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    repos: set[str] = field(default_factory=set)  # repos of the rows that must reach traces

    @property
    def object_key(self) -> str:
        return self.key or f"traces/hostile/{self.name}.jsonl"


def _counts(read: int, rows: int, dead: int, skipped: int = 0) -> dict[str, int]:
    return {"read": read, "rows": rows, "dead_letters": dead, "skipped": skipped}


def _slug_case(name: str, slug: str) -> list[Case]:
    """A bad repo slug as a seed record's own repo, a LiteLLM record's repo and a transcript's object metadata."""
    return [
        Case(f"seed-repo-{name}", jsonl(seed(metadata={"repo": slug}), GOOD), _counts(2, 1, 1), [(1, "invalid_repo")],
             repos={"acme/api"}),
        Case(f"litellm-repo-{name}", json.dumps(litellm(metadata={"requester_metadata": {"repo": slug}})).encode(),
             _counts(1, 0, 1), [(0, "invalid_repo")], key=f"traces/hostile/litellm-repo-{name}.json"),
        Case(f"claude-meta-repo-{name}", CLAUDE_FIXTURE.read_bytes(), _counts(2, 0, 2),
             [(1, "invalid_repo"), (2, "invalid_repo")], metadata={"repo": _s3_metadata_value(slug)}),
    ]


def _s3_metadata_value(text: str) -> str:
    """S3 user metadata is ASCII: clients send other text RFC 2047-encoded, and S3 hands it back that way."""
    return text if text.isascii() else f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


CASES = [
    # invalid UTF-8 in one line: the NDJSON path (no blank line) and the exact line path (blank line present)
    Case("utf8-ndjson", jsonl(GOOD, b'{"timestamp": "2025-10-12T19:00:00Z", "usage": {"input_tokens": 1},'
                              b' "metadata": {"repo": "ac\xff\xfeme/api"}}', GOOD2),
         _counts(3, 2, 1), [(2, "invalid_json")], repos={"acme/api"}),
    Case("utf8-exact", jsonl(GOOD, b"", b"\xc3\x28 not utf-8 \xff", GOOD2),
         _counts(3, 2, 1), [(3, "invalid_json")], repos={"acme/api"}),
    Case("utf8-claude", CLAUDE_FIXTURE.read_bytes() + b"\n\xfe\xff\xfe\n",
         _counts(3, 2, 1), [(4, "invalid_json")], metadata={"repo": "acme/api"}, repos={"acme/api"}),
    # a UTF-8 byte-order mark before a JSONL file, a one-line JSONL file and a LiteLLM JSON object
    Case("bom-jsonl", BOM + jsonl(GOOD, GOOD2), _counts(2, 2, 0), repos={"acme/api"}),
    Case("bom-one-line", BOM + GOOD, _counts(1, 1, 0), repos={"acme/api"}),
    Case("bom-litellm", BOM + json.dumps(litellm()).encode(), _counts(1, 1, 0),
         key="traces/hostile/bom-litellm.json", repos={"acme/api"}),
    Case("bom-litellm-lines", BOM + jsonl(json.dumps(litellm()).encode(), json.dumps(litellm(id="c2")).encode()),
         _counts(2, 2, 0), repos={"acme/api"}),
    # JSON nested 10,000 deep: as a line next to good ones, and as the whole object
    Case("deep-line", jsonl(GOOD, b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP),
         _counts(3, 1, 2), [(2, "invalid_json"), (3, "invalid_json")], repos={"acme/api"}),
    Case("deep-object", json.dumps(litellm()).encode()[:-1] + b', "x": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}",
         _counts(1, 0, 1), [(0, "invalid_json")], key="traces/hostile/deep-object.json"),
    # nested deeper than orjson writes (254) but not than it reads (1024): the dead letter's raw is cut, no crash
    Case("deep-300-bad-tokens", json.dumps(litellm(prompt_tokens=-1)).encode()[:-1] + b', "x": '
         + b'{"a":' * 300 + b"1" + b"}" * 300 + b"}", _counts(1, 0, 1), [(0, "invalid_tokens")],
         key="traces/hostile/deep-300.json"),
    # empty objects, plain and gzipped; a truncated gzip
    Case("empty", b"", _counts(1, 0, 1), [(0, "unknown_format")]),
    Case("empty-gz", gzip.compress(b""), _counts(1, 0, 1), [(0, "unknown_format")],
         key="traces/hostile/empty.jsonl.gz"),
    Case("truncated-gz", gzip.compress(jsonl(*[GOOD] * 200))[:-40], _counts(1, 0, 1), [(0, "invalid_gzip")],
         key="traces/hostile/truncated.jsonl.gz"),
    Case("gzip-magic-no-suffix", b"\x1f\x8b\x08\x00" + b"\x00" * 20, _counts(1, 0, 1), [(0, "invalid_gzip")]),
    # NaN and negative token counts: JSON strings, bare NaN literals (Python writers emit them), negatives
    Case("seed-nan-string", jsonl(seed(usage={"input_tokens": "NaN", "output_tokens": 1}), GOOD),
         _counts(2, 1, 1), [(1, "invalid_tokens")], repos={"acme/api"}),
    Case("seed-nan-literal", jsonl(b'{"timestamp": "2025-10-12T19:00:00Z", "usage": {"input_tokens": NaN}}', GOOD),
         _counts(2, 1, 1), [(1, "invalid_tokens")], repos={"acme/api"}),
    Case("seed-negative", jsonl(seed(usage={"input_tokens": 5, "output_tokens": -1}), GOOD),
         _counts(2, 1, 1), [(1, "invalid_tokens")], repos={"acme/api"}),
    Case("seed-negative-total", jsonl(seed(usage={"total_tokens": -9}), GOOD),
         _counts(2, 1, 1), [(1, "invalid_tokens")], repos={"acme/api"}),
    Case("litellm-nan-literal", json.dumps(litellm(prompt_tokens=math.nan)).encode(), _counts(1, 0, 1),
         [(0, "invalid_tokens")], key="traces/hostile/litellm-nan.json"),
    Case("litellm-infinite-completion", json.dumps(litellm(completion_tokens=math.inf)).encode(), _counts(1, 0, 1),
         [(0, "invalid_tokens")], key="traces/hostile/litellm-inf.json"),
    Case("litellm-negative", json.dumps(litellm(completion_tokens=-30)).encode(), _counts(1, 0, 1),
         [(0, "invalid_tokens")], key="traces/hostile/litellm-negative.json"),
    Case("claude-negative", CLAUDE_FIXTURE.read_bytes().replace(b'"output_tokens":', b'"output_tokens":-', 1),
         _counts(2, 1, 1), [(1, "invalid_tokens")], metadata={"repo": "acme/api"}, repos={"acme/api"}),
    # timestamps in the years 9999 and 1970 (contract: never stored as a day partition)
    Case("seed-9999", jsonl(seed(timestamp="9999-12-31T23:59:59Z"), GOOD), _counts(2, 1, 1),
         [(1, "invalid_timestamp")], repos={"acme/api"}),
    Case("seed-1970", jsonl(seed(timestamp="1970-01-01T00:00:00Z"), GOOD), _counts(2, 1, 1),
         [(1, "invalid_timestamp")], repos={"acme/api"}),
    Case("seed-epoch-zero", jsonl(seed(timestamp=0), GOOD), _counts(2, 1, 1), [(1, "invalid_timestamp")],
         repos={"acme/api"}),
    Case("litellm-9999", json.dumps(litellm(startTime="9999-12-31 23:59:59.999999")).encode(), _counts(1, 0, 1),
         [(0, "invalid_timestamp")], key="traces/hostile/litellm-9999.json"),
    Case("litellm-1970", json.dumps(litellm(startTime=0.0)).encode(), _counts(1, 0, 1),
         [(0, "invalid_timestamp")], key="traces/hostile/litellm-1970.json"),
    Case("litellm-no-start", json.dumps(litellm(startTime=None)).encode(), _counts(1, 0, 1),
         [(0, "missing_timestamp")], key="traces/hostile/litellm-no-start.json"),
    # values found by tests/faults/test_parser_fuzz.py that used to crash the batch or reach traces
    Case("litellm-superscript-tokens", json.dumps(litellm(completion_tokens="\u00b2")).encode(), _counts(1, 0, 1),
         [(0, "invalid_tokens")], key="traces/hostile/litellm-superscript.json"),
    Case("seed-token-sum-overflow", jsonl(seed(usage={"input_tokens": 9 * 10**18, "output_tokens": 9 * 10**18}), GOOD),
         _counts(2, 1, 1), [(1, "invalid_tokens")], repos={"acme/api"}),
    Case("litellm-model-object", json.dumps(litellm(model={"name": "gpt-4o"})).encode(), _counts(1, 1, 0),
         key="traces/hostile/litellm-model-object.json", repos={"acme/api"}),
    Case("litellm-lone-surrogate",
         b'{"id": "x", "startTime": 1760295600.25, "prompt_tokens": 1, "trace_id": "\\ud800"}',
         _counts(1, 0, 1), [(0, "invalid_json")], key="traces/hostile/litellm-surrogate.json"),
    Case("seed-nan-attributes", jsonl(b'{"timestamp": "2025-10-12T19:00:00Z", "usage": {"input_tokens": 1},'
                                      b' "attributes": {"latency_ms": NaN, "llm.cost.total": Infinity,'
                                      b' "diff_ratio": -Infinity, "status_code": NaN, "repo": "acme/api"}}'),
         _counts(1, 1, 0), repos={"acme/api"}),
    Case("otlp-malformed-parts", json.dumps({"resourceSpans": [
        5, {"scopeSpans": {"spans": []}}, {"scopeSpans": [{"spans": [OTLP_LLM_SPAN, 7]}]}]}).encode(),
         _counts(4, 1, 3), [(0, "invalid_record")] * 3, key="traces/hostile/otlp-malformed.json", repos={"acme/api"}),
    # repo slugs: traversal, percent-encoded traversal, look-alikes (Cyrillic a, fullwidth solidus and letter,
    # KELVIN SIGN which str.lower() folds into an ASCII "k"), and a zero-width space
    *_slug_case("dotdot", "acme/../api"),
    *_slug_case("pct2e", "%2e%2e/api"),
    *_slug_case("cyrillic", "\u0430cme/api"),
    *_slug_case("fullwidth-solidus", "acme\uff0fapi"),
    *_slug_case("fullwidth-letter", "\uff41cme/api"),
    *_slug_case("kelvin", "acme/\u212api"),
    *_slug_case("zero-width", "acme/api\u200b"),
]


def _sqs_event(key: str) -> dict[str, Any]:
    """events/normalize/sqs_s3_put.json naming `key`, URL-encoded the way S3 encodes notification keys."""
    event = json.loads((REPO_ROOT / "events" / "normalize" / "sqs_s3_put.json").read_text())
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["key"] = quote_plus(key)
    event["Records"][0]["body"] = json.dumps(body)
    return event


@dataclass
class Outcome:
    response: Any
    counts: dict[str, int]
    dead: list[dict[str, Any]]
    rows: list[dict[str, Any]]


def _lake_table(stack: LocalStack, table: str, key: str) -> list[dict[str, Any]]:
    name = f"/{source_id(key)}.parquet"
    rows: list[dict[str, Any]] = []
    listed = stack.s3.list_objects_v2(Bucket=stack.lake_bucket, Prefix=f"{table}/").get("Contents", [])
    for obj in listed:
        if not obj["Key"].endswith(name):
            continue
        data = stack.s3.get_object(Bucket=stack.lake_bucket, Key=obj["Key"])["Body"].read()
        partition = parse_partition(table, obj["Key"])
        rows += [{**row, **partition} for row in pq.read_table(io.BytesIO(data)).to_pylist()]
    return rows


def deliver(stack: LocalStack, key: str, body: bytes, metadata: dict[str, str] | None = None) -> Outcome:
    """Upload `body` as raw object `key`, hand the handler its SQS-wrapped S3 event, read back what it wrote."""
    stack.s3.put_object(Bucket=stack.raw_bucket, Key=key, Body=body, Metadata=metadata or {})
    response = stack.invoke("normalize", _sqs_event(key))
    item = stack.ddb.get_item(TableName=stack.state_table, Key={"pk": {"S": f"object#{key}"}, "sk": {"S": "state"}})
    assert "Item" in item, f"{key!r} was not recorded as processed: the handler saw another key"
    counts = {k: int(v["N"]) for k, v in item["Item"]["counts"]["M"].items()}
    return Outcome(response, counts, _lake_table(stack, "dead_letters", key), _lake_table(stack, "traces", key))


def assert_accounted(outcome: Outcome, key: str) -> None:
    """The invariants every hostile object must keep, whatever it is."""
    assert outcome.response == {"batchItemFailures": []}
    c = outcome.counts
    assert c["rows"] + c["dead_letters"] + c["skipped"] == c["read"], c
    assert len(outcome.rows) == c["rows"] and len(outcome.dead) == c["dead_letters"]
    assert {d["source_key"] for d in outcome.dead} <= {key}
    assert {r["source_key"] for r in outcome.rows} <= {key}
    for row in outcome.rows:  # nothing out of contract reached traces
        assert 2000 <= row["ts"].year <= 2100, row
        assert min(row["tokens_in"], row["tokens_out"], row["cache_read_tokens"], row["cache_write_tokens"]) >= 0
        assert row["repo"] == "unknown" or row["repo"].isascii() and ".." not in row["repo"], row
        assert all(row[c] is None or math.isfinite(row[c]) for c in ("latency_ms", "cost_usd", "diff_ratio"))
        assert row["event_date"] == row["ts"].strftime("%Y-%m-%d")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running() as local:
        yield local


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_object_is_dead_lettered_with_reason_never_a_failed_batch(stack, ledger, case):
    # Given a hostile raw object in the raw bucket
    # When the handler receives its S3 notification through SQS
    outcome = deliver(stack, case.object_key, case.body, case.metadata)
    # Then the batch succeeded, the counts balance and are exactly the expected ones
    assert_accounted(outcome, case.object_key)
    assert outcome.counts == case.counts
    # And each rejected record is a dead letter with the contract's reason at its line
    assert sorted((d["line_number"], d["reason"]) for d in outcome.dead) == sorted(case.dead)
    assert all(d["detail"] for d in outcome.dead)
    # And every good record became a row (nothing lost), under a valid repo
    assert {r["repo"] for r in outcome.rows} == case.repos
    ledger["hostile inputs tried"] += 1
    ledger["dead letters checked"] += len(outcome.dead)
    ledger["rows lost"] += case.counts["rows"] - len(outcome.rows)


def test_fifty_megabyte_single_line_is_a_row_or_one_dead_letter(stack, ledger):
    # Given a 50 MB line whose bulk is a field no column reads, next to a good line, and one whose bulk is
    # the seed `metadata` object (which the parser must hold whole)
    pad_top = json.loads(seed_line())
    pad_top["pad"] = "x" * 50_000_000
    pad_meta = json.loads(seed_line(timestamp="2025-10-14T00:00:00Z"))
    pad_meta["metadata"]["pad"] = "x" * 50_000_000
    for name, body, allowed in [
        ("50mb-unread-field", jsonl(GOOD2, json.dumps(pad_top).encode()), [{"read": 2, "rows": 2}]),
        ("50mb-garbage", jsonl(GOOD, b"{" + b"x" * 50_000_000), [{"read": 2, "rows": 1, "dead_letters": 1}]),
        # within max_line_bytes; parsed when memory allows, else the whole object is one too_large dead letter
        ("50mb-metadata", jsonl(json.dumps(pad_meta).encode()),
         [{"read": 1, "rows": 1}, {"read": 1, "dead_letters": 1}]),
    ]:
        key = f"traces/hostile/{name}.jsonl"
        # When it is delivered to the handler
        outcome = deliver(stack, key, body)
        # Then the batch did not fail, and the object is rows or dead letters, accounted for
        assert_accounted(outcome, key)
        assert {k: v for k, v in outcome.counts.items() if v} in allowed, (name, outcome.counts)
        assert {d["reason"] for d in outcome.dead} <= {"invalid_json", "too_large"}
        assert all(len(d["raw"].encode()) <= 64 * 1024 for d in outcome.dead)
        ledger["hostile inputs tried"] += 1
        ledger["dead letters checked"] += len(outcome.dead)
        ledger["rows lost"] += 0 if outcome.counts["rows"] == len(outcome.rows) else 1


def test_gzip_bomb_past_max_object_bytes_is_one_too_large_dead_letter(stack, ledger, monkeypatch):
    # Given the function configured (MAX_OBJECT_BYTES, as template.yaml passes it) for 1 MB objects
    function_environment = stack.template.function_environment
    monkeypatch.setattr(
        stack.template,
        "function_environment",
        lambda logical_id: {**function_environment(logical_id), "MAX_OBJECT_BYTES": str(1_000_000)},
    )
    # And a ~20 KB gzip object that inflates to 20 MB (one compressed stream, no suffix: magic bytes only)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = compressor.compress(GOOD + b"\n" + b" " * 20_000_000) + compressor.flush()
    assert len(bomb) < 50_000
    key = "traces/hostile/bomb.jsonl"
    # When it is delivered
    outcome = deliver(stack, key, bomb)
    # Then decompression stopped at the bound: one dead letter for the whole object, no row, no failure
    assert_accounted(outcome, key)
    assert outcome.counts == _counts(1, 0, 1)
    assert [(d["line_number"], d["reason"]) for d in outcome.dead] == [(0, "too_large")]
    ledger["hostile inputs tried"] += 1
    ledger["dead letters checked"] += 1


@pytest.mark.parametrize(
    "key",
    [
        "traces/team a/with space.jsonl",
        "traces/team+b/plus+sign.jsonl",
        "traces/mixed a+b/ +lead and trail+ .jsonl",
        "traces/%2e%2e/percent-encoded-dots.jsonl",
        "traces/%20literal%2Bescapes/x.jsonl",
        "traces/\u0430cme/cyrillic key é.jsonl",
        "traces/a&b=c?d#e/x.jsonl",
    ],
    ids=["space", "plus", "space-and-plus", "pct-dotdot", "pct-literal", "unicode", "query-chars"],
)
def test_key_encoded_by_s3_is_normalized_under_its_real_key(stack, ledger, key):
    # Given an object whose key needs URL encoding, attributed through object metadata
    body = jsonl(GOOD, b"not json")
    # When its notification (key encoded as S3 does: quote_plus) reaches the handler
    outcome = deliver(stack, key, body, {"repo": "acme/api"})
    # Then the object read and recorded is exactly that key (a `+` is not a space, `%2e` is not `.`)
    assert_accounted(outcome, key)
    assert outcome.counts == _counts(2, 1, 1)
    assert [r["source_key"] for r in outcome.rows] == [key]
    assert [(d["source_key"], d["line_number"], d["reason"]) for d in outcome.dead] == [(key, 2, "invalid_json")]
    ledger["hostile inputs tried"] += 1
    ledger["dead letters checked"] += 1
    ledger["rows lost"] += 1 - len(outcome.rows)


def test_key_outside_the_input_prefixes_is_a_clean_skip(stack, ledger):
    # Given an object outside traces/ and github/ whose encoded key starts like one
    key = "traces-not/../traces/x.jsonl"
    stack.s3.put_object(Bucket=stack.raw_bucket, Key=key, Body=GOOD)
    # When its notification arrives
    response = stack.invoke("normalize", _sqs_event(key))
    # Then the batch succeeded and nothing was written or recorded for it
    assert response == {"batchItemFailures": []}
    item = stack.ddb.get_item(TableName=stack.state_table, Key={"pk": {"S": f"object#{key}"}, "sk": {"S": "state"}})
    assert "Item" not in item
    assert _lake_table(stack, "traces", key) == [] and _lake_table(stack, "dead_letters", key) == []
    ledger["hostile inputs tried"] += 1
