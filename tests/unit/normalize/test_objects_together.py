"""Objects normalized together (an SQS batch: normalize_objects) give each object the outputs it gets alone, and
the two ways Python-parsed rows reach DuckDB (one JSON text for a small object, an NDJSON file for a large one)
give the same rows for every sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prodlens.models import NormalizeOutput, SourceObject
from prodlens.normalize import core, normalize_object
from prodlens.normalize.core import normalize_objects
from prodlens.normalize.rules import Rules

from tests.unit.normalize.normalize_helpers import FIXTURES, read_table

# the samples of the Python-parsed formats that hold rows (not codex__legacy_session: no token counts; not
# otlp-proto-examples__trace: no LLM span)
PYTHON_SAMPLES = [
    "claude_code_otel__logs.json",
    "codex__forked_subagent.jsonl",
    "codex__modern_session.jsonl",
    "gcs_pub_sub_body__spend_logs_payload.json",
    "gcs_pub_sub_body__standard_logging_payload.json",
    "litellm__claude_code_identity.json",
    "litellm__legacy_identity.json",
    "open_telemetry_data__captured_kwargs.json",
    "otlp__llm_spans.json",
]
# wall-clock stamp of a dead letter: differs between any two runs
VOLATILE = {"rejected_at"}


def _payload(n: int, **changes: Any) -> dict[str, Any]:
    """A LiteLLM StandardLoggingPayload as its S3 logger writes one per request."""
    payload = {
        "id": f"chatcmpl-{n}",
        "litellm_call_id": f"call-{n}",
        "trace_id": f"trace-{n}",
        "startTime": 1760295600 + n * 3600 * 7,
        "endTime": 1760295601.5 + n * 3600 * 7,
        "model": "claude-sonnet-4-5-20250929" if n % 2 else "gpt-4o",
        "prompt_tokens": 100 + n,
        "completion_tokens": 20 + n,
        "response_cost": None if n % 3 else 0.01 * n,
        "status": "success",
        "request_tags": [f"repo:acme/app-{n % 2}"],
        "metadata": {"user_api_key_user_id": f"dev{n}@acme.dev"},
    }
    payload.update(changes)
    return payload


def _outputs_rows(output: NormalizeOutput) -> dict[str, list[dict[str, Any]]]:
    tables = {f.table for f in output.files}
    return {
        table: sorted(
            ({k: repr(v) for k, v in row.items() if k not in VOLATILE} for row in read_table(output, table)),
            key=lambda row: sorted(row.items()),
        )
        for table in tables
    }


def _same(together: NormalizeOutput, alone: NormalizeOutput) -> None:
    assert (together.source_key, together.source_format) == (alone.source_key, alone.source_format)
    assert together.counts == alone.counts
    assert together.skipped_reason == alone.skipped_reason
    assert sorted((f.table, sorted(f.partition.items()), f.rows) for f in together.files) == sorted(
        (f.table, sorted(f.partition.items()), f.rows) for f in alone.files
    )
    assert _outputs_rows(together) == _outputs_rows(alone)


@pytest.fixture
def batch(tmp_path: Path) -> list[SourceObject]:
    """An SQS batch as a team sends it: LiteLLM objects of one request each (one with a bad timestamp, one over two
    repos' metadata), an OTLP export, a seed JSONL object, an object that is not JSON, an audit record and a key
    that is not input."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()

    def put(name: str, body: str | bytes, key: str | None = None, metadata: dict[str, str] | None = None) -> None:
        path = inputs / name
        path.write_bytes(body.encode() if isinstance(body, str) else body)
        sources.append(SourceObject(key or f"traces/litellm/2026/10/{name}", path, metadata or {}))

    sources: list[SourceObject] = []
    for n in range(6):
        put(f"{n}.json", json.dumps(_payload(n)), metadata={"developer": "meta-dev"} if n == 2 else None)
    put("bad-ts.json", json.dumps(_payload(9, startTime="yesterday")))
    put("otlp.json", (FIXTURES / "otlp__llm_spans.json").read_bytes(), key="traces/otlp/export.json")
    put("seed.jsonl", (FIXTURES / "seed__litellm-traces.jsonl").read_bytes(), key="traces/seed/log.jsonl")
    put("broken.json", '{"startTime": 1760295600, "prompt_tokens": ', key="traces/litellm/broken.json")
    put("audit.json", json.dumps({"action": "created"}), key="traces/litellm/audit_logs/1.json")
    put("other.json", "{}", key="exports/other.json")
    return sources


def test_objects_normalized_together_get_the_outputs_each_gets_alone(batch, tmp_path):
    # When the batch is normalized together, and each object alone
    together = normalize_objects(batch, tmp_path / "together")
    alone = [normalize_object(source, tmp_path / "alone" / str(i)) for i, source in enumerate(batch)]
    # Then every object has the same format, accounting, partitions and rows (dead letters included)
    assert len(together) == len(batch)
    for output, expected in zip(together, alone, strict=True):
        assert isinstance(output, NormalizeOutput)
        _same(output, expected)
    assert sum(o.counts.rows for o in alone) > 0 and sum(o.counts.dead_letters for o in alone) >= 2


def test_one_request_objects_share_one_field_rules_query_and_one_parquet_copy(batch, tmp_path, monkeypatch):
    evaluations, copies = [], []
    evaluate, copy = Rules._evaluate, core.copy_partitioned

    def counted_evaluate(self: Rules) -> None:
        evaluations.append(1)
        evaluate(self)

    def counted_copy(*args: Any, **kwargs: Any) -> Any:
        copies.append(1)
        return copy(*args, **kwargs)

    monkeypatch.setattr(Rules, "_evaluate", counted_evaluate)
    monkeypatch.setattr(core, "copy_partitioned", counted_copy)
    # Given six LiteLLM objects of one request each
    litellm = [s for s in batch if s.path.name[0].isdigit()]
    assert len(litellm) == 6
    # When they are normalized together
    outputs = normalize_objects(litellm, tmp_path / "out")
    # Then their field rules took one query and their Parquet files one COPY (one file per object and partition)
    assert all(isinstance(o, NormalizeOutput) and o.counts.rows == 1 for o in outputs)
    assert (len(evaluations), len(copies)) == (1, 1)
    assert len({f.path for o in outputs for f in o.files}) == 6


def test_a_failure_of_the_shared_write_is_redone_object_by_object(batch, tmp_path, monkeypatch):
    write = core._write_small_objects

    def fails_together(held: Any, objects: list[Any], out_dir: Path) -> Any:
        if len(objects) > 1:
            raise OSError("disk full")
        return write(held, objects, out_dir)

    monkeypatch.setattr(core, "_write_small_objects", fails_together)
    # When the shared COPY of the batch fails
    together = normalize_objects(batch, tmp_path / "together")
    # Then each object was normalized on its own, with the outputs it gets alone
    for i, (output, source) in enumerate(zip(together, batch, strict=True)):
        assert isinstance(output, NormalizeOutput)
        _same(output, normalize_object(source, tmp_path / "alone" / str(i)))


def test_an_object_whose_normalization_raises_is_its_error_and_the_others_are_normalized(batch, tmp_path):
    # Given an object whose local copy is missing (an infrastructure error, not bad data)
    missing = SourceObject("traces/litellm/2026/10/missing.json", tmp_path / "missing.json", {})
    sources = [*batch[:3], missing, *batch[3:]]
    # When the batch is normalized together
    outputs = normalize_objects(sources, tmp_path / "out")
    # Then that object's place holds its error, and every other object is normalized
    assert isinstance(outputs[3], FileNotFoundError)
    assert all(isinstance(o, NormalizeOutput) for i, o in enumerate(outputs) if i != 3)
    assert [o.counts.rows for o in outputs[:3]] == [1, 1, 1]


@pytest.mark.parametrize("name", PYTHON_SAMPLES)
def test_rows_handed_over_as_json_text_equal_rows_read_from_an_ndjson_file(name, tmp_path, monkeypatch):
    # Given a sample of a Python-parsed format, normalized as a small object (its rows as one JSON text)
    source = SourceObject(f"traces/samples/{name}", FIXTURES / name, {"repo": "acme/app", "developer": "meta-dev"})
    small = normalize_object(source, tmp_path / "small")
    # When it is normalized again through the large-object path (an NDJSON file and temp tables)
    monkeypatch.setattr(core, "SMALL_OBJECT_ROWS", 0)
    large = normalize_object(source, tmp_path / "large")
    # Then both give the same rows and files
    _same(small, large)
    assert small.counts.rows + small.counts.dead_letters > 0
