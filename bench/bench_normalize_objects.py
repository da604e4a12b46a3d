"""Normalize cost of the Python-parsed trace formats: small objects (CPU per object) and large ones (rows/s).

    .venv/bin/python bench/bench_normalize_objects.py
    BENCH_QUICK=1 .venv/bin/python bench/bench_normalize_objects.py   # fewer objects and records

LiteLLM's S3 logger writes one object per request, so a one-record object's CPU time is the cost that counts
for it: each small case normalizes N objects of one record in one warm process (imports, DuckDB and the price
table loaded once, as in a warm Lambda) and reports CPU and wall milliseconds per object. The large cases are
one object of many records: LiteLLM payloads as JSON lines, and one OTLP export of many LLM spans. `litellm-batch10`
is the small LiteLLM case in SQS batches of 10 (normalize_objects: one rules query and one COPY per batch), as the
normalize function reads them.
Each case runs in a fresh child process with DuckDB threads=1; the fastest of three runs is reported.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ["claude-sonnet-4-5-20250929", "gpt-4o", "claude-haiku-4-5-20251001"]


def litellm_payload(rng: random.Random, n: int) -> dict:
    """A StandardLoggingPayload as LiteLLM's S3 logger writes it (prompt and response text included)."""
    prompt, completion = rng.randrange(50, 5000), rng.randrange(10, 2000)
    cached = rng.randrange(0, prompt)
    start = f"2025-10-{1 + n % 28:02d} {n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}.{rng.randrange(10**6):06d}"
    return {
        "id": f"chatcmpl-{n:08x}",
        "litellm_call_id": f"call-{n:012x}",
        "trace_id": f"trace-{n // 5}",
        "call_type": "acompletion",
        "status": "success" if rng.random() > 0.02 else "failure",
        "startTime": start,
        "endTime": start[:-6] + f"{min(999999, int(start[-6:]) + rng.randrange(10**5)):06d}",
        "model": rng.choice(MODELS),
        "model_group": "default",
        "response_cost": round(rng.uniform(0.0001, 0.2), 6),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "request_tags": ["repo:acme/app"],
        "end_user": "",
        "metadata": {
            "user_api_key_user_id": f"dev{rng.randrange(40)}@example.com",
            "spend_logs_metadata": {"session_id": f"s-{n // 20}"},
            "requester_metadata": None,
            "usage_object": {"prompt_tokens_details": {"cached_tokens": cached}},
        },
        "messages": [{"role": "user", "content": "explain this function " * 40}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "it does " * 60}}]},
        "hidden_params": {"litellm_model_name": "gpt-4o", "response_cost": None},
        "error_information": {"error_code": "429" if n % 50 == 0 else "", "error_message": ""},
    }


def otlp_document(rng: random.Random, spans: int) -> dict:
    """One OTLP/JSON trace export of `spans` OpenInference LLM spans."""

    def attr(key: str, value: object) -> dict:
        kind = "intValue" if isinstance(value, int) else "stringValue"
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}

    items = []
    for n in range(spans):
        start = 1_760_000_000_000_000_000 + n * 1_000_000_000 + rng.randrange(10**9)
        items.append(
            {
                "traceId": f"{n:032x}",
                "spanId": f"{n:016x}",
                "name": "llm",
                "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(start + rng.randrange(10**10)),
                "attributes": [
                    attr("openinference.span.kind", "LLM"),
                    attr("llm.model_name", rng.choice(MODELS)),
                    attr("llm.token_count.prompt", rng.randrange(50, 5000)),
                    attr("llm.token_count.completion", rng.randrange(10, 2000)),
                    attr("session.id", f"s-{n // 20}"),
                    attr("user.id", f"dev{rng.randrange(40)}@example.com"),
                ],
            }
        )
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", "agent"), attr("repo", "acme/app")]},
                "scopeSpans": [{"scope": {"name": "openinference"}, "spans": items}],
            }
        ]
    }


def write_case(case: str, folder: Path, count: int) -> list[tuple[str, Path]]:
    """(key, path) of the objects of one case."""
    rng = random.Random(5)
    objects = []
    if case in ("litellm-small", "litellm-batch10"):
        for n in range(count):
            path = folder / f"{n}.json"
            path.write_text(json.dumps(litellm_payload(rng, n)))
            objects.append((f"traces/litellm/2025/10/01/{n}.json", path))
    elif case == "otlp-small":
        for n in range(count):
            path = folder / f"{n}.json"
            path.write_text(json.dumps(otlp_document(rng, 1)))
            objects.append((f"traces/otlp/{n}.json", path))
    elif case == "litellm-lines":
        path = folder / "litellm.jsonl"
        path.write_text("".join(json.dumps(litellm_payload(rng, n)) + "\n" for n in range(count)))
        objects.append(("traces/litellm/batch.jsonl", path))
    elif case == "otlp-large":
        path = folder / "otlp.json"
        path.write_text(json.dumps(otlp_document(rng, count)))
        objects.append(("traces/otlp/export.json", path))
    return objects


def child(case: str, count: str) -> None:
    from prodlens.models import SourceObject
    from prodlens.normalize import Limits, normalize_object
    from prodlens.normalize.core import normalize_objects

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        objects = write_case(case, root / "in", int(count))
        (root / "warm").mkdir()
        for key, path in write_case("litellm-small", root / "warm", 3):  # imports, DuckDB, prices: once
            normalize_object(SourceObject(key, path, {}), root / "warm-out", Limits(threads=1))
        for attempt in range(3):
            rows = 0
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            if case == "litellm-batch10":  # an SQS batch of 10 objects, normalized together (normalize_objects)
                for n in range(0, len(objects), 10):
                    sources = [SourceObject(key, path, {}) for key, path in objects[n : n + 10]]
                    for output in normalize_objects(sources, root / f"out{attempt}-{n}", Limits(threads=1)):
                        rows += output.counts.rows  # type: ignore[union-attr]
            else:
                for n, (key, path) in enumerate(objects):
                    source = SourceObject(key, path, {})
                    output = normalize_object(source, root / f"out{attempt}-{n}", Limits(threads=1))
                    rows += output.counts.rows
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            runs.append({"case": case, "objects": len(objects), "rows": rows, "seconds": elapsed, "cpu": cpu})
    print(json.dumps(min(runs, key=lambda r: r["cpu"])))


def main() -> None:
    quick = os.environ.get("BENCH_QUICK") == "1"
    small, large = (50, 5_000) if quick else (300, 50_000)
    cases = [
        ("litellm-small", small),
        ("litellm-batch10", small),
        ("otlp-small", small),
        ("litellm-lines", large),
        ("otlp-large", large),
    ]
    results = []
    for case, count in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--child", case, str(count)], capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    header = f"{'case':<16} {'objects':>8} {'rows':>8} {'cpu ms/object':>14} {'wall ms/object':>15} {'rows/s cpu':>11}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['case']:<16} {r['objects']:>8} {r['rows']:>8} {1000 * r['cpu'] / r['objects']:>14.2f} "
            f"{1000 * r['seconds'] / r['objects']:>15.2f} {r['rows'] / r['cpu']:>11,.0f}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:4])
    else:
        main()
