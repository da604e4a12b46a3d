"""The embedded pipeline on one LiteLLM object per request: objects/s and CPU per object, end to end.

    .venv/bin/python bench/bench_pipeline.py                # 10,000 objects (5 days x 3 repos, in time order)
    BENCH_QUICK=1 .venv/bin/python bench/bench_pipeline.py  # 1,000 objects

LiteLLM's S3 logger writes one object per request (`traces/litellm/<day>/time-<hh-mm-ss-us>_<id>.json`). The case
runs `prodlens pipeline --input DIR --lake DIR` as a user would, in a child process, on a fresh lake: moto's server
thread, one normalize worker process per core (each uploads its share of the files and delivers SQS batches),
then aggregate and correlate in a worker process, then the lake saved to DIR. Reported, for the whole command:
wall seconds and objects per wall second; CPU seconds of the command and every process it started (user + system,
from getrusage of the waited-for children) and CPU milliseconds per object; peak RSS of the largest process. The
normalize phase alone (upload + delivery, until the queue is empty) is reported from the command's summary
(`load`: its wall time, and the CPU of moto's server process and of the workers). Wall time depends on what else
the machine runs; CPU time much less (`load average` is printed).
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPOS = ["acme/api", "acme/web", "acme/infra"]
MODELS = ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "gpt-4o"]
TARGET_OBJECTS_PER_S = 100


def litellm_object(rng: random.Random, n: int, start: datetime) -> tuple[str, dict]:
    """(key, payload): a StandardLoggingPayload as LiteLLM's S3 logger writes it, prompt and response included."""
    prompt, completion = rng.randrange(200, 20_000), rng.randrange(20, 3_000)
    cache_read = rng.randrange(0, prompt // 2)
    call_id = f"{rng.getrandbits(128):032x}"
    latency = rng.uniform(0.4, 30)
    session = f"{rng.randrange(400):08x}-4f8c-8198-{rng.randrange(60):012x}"
    key = f"traces/litellm/{start:%Y-%m-%d}/time-{start:%H-%M-%S-%f}_chatcmpl-{call_id}.json"
    return key, {
        "id": f"chatcmpl-{call_id}",
        "litellm_call_id": call_id,
        "trace_id": f"{rng.getrandbits(128):032x}",
        "call_type": "acompletion",
        "stream": True,
        "status": "success" if rng.random() > 0.02 else "failure",
        "custom_llm_provider": "anthropic",
        "startTime": start.timestamp(),
        "endTime": start.timestamp() + latency,
        "completionStartTime": start.timestamp() + latency / 3,
        "model": rng.choice(MODELS),
        "model_group": "claude-sonnet",
        "response_cost": round(rng.uniform(0.0005, 0.4), 6),
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "request_tags": [f"repo:{rng.choice(REPOS)}"],
        "end_user": "",
        "metadata": {
            "user_api_key_user_id": "oauth-user",
            "user_api_key_user_email": f"dev{rng.randrange(50)}@acme.dev",
            "user_api_key_team_id": "platform",
            "requester_metadata": {
                "user_id": json.dumps(
                    {"device_id": f"{n % 50:016x}", "account_uuid": f"{n % 50:032x}", "session_id": session}
                )
            },
            "spend_logs_metadata": None,
            "usage_object": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "cache_read_input_tokens": cache_read,
                "cache_creation_input_tokens": rng.randrange(0, 2_000),
            },
        },
        "messages": [{"role": "user", "content": "(prompt text) " * rng.randrange(20, 80)}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "(response text) " * 40}}]},
        "error_information": {"error_code": "", "error_message": ""},
    }


def write_inputs(folder: Path, count: int, days: int = 5) -> None:
    """`count` objects over `days` days, a request every few seconds of the working day, in time order."""
    rng = random.Random(12)
    first = datetime(2026, 10, 5, 8, tzinfo=UTC)
    spacing = days * 10 * 3600 / count  # requests spread over 10 working hours a day
    for n in range(count):
        day, offset = divmod(n * spacing, 10 * 3600)
        start = first + timedelta(days=int(day), seconds=offset + rng.uniform(0, spacing))
        key, payload = litellm_object(rng, n, start)
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))


def run(count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        inputs, lake = Path(tmp) / "input", Path(tmp) / "lake"
        write_inputs(inputs, count)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "prodlens.cli", "pipeline", "--input", str(inputs), "--lake", str(lake)],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        traces = sum(1 for _ in (lake / "lake" / "traces").rglob("*.parquet"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "objects": count,
        "wall": wall,
        "cpu": cpu,
        "peak_rss_mb": after.ru_maxrss / 1024,
        "delivered": summary["delivered"],
        "failed": summary["failed_deliveries"],
        "traces_files": traces,
        "load_wall": summary["load"]["wall_seconds"],
        "load_cpu": summary["load"]["cpu_seconds"],
    }


def main() -> None:
    count = 1_000 if os.environ.get("BENCH_QUICK") == "1" else 10_000
    r = run(count)
    header = (
        f"{'case':<34} {'objects':>8} {'wall s':>7} {'objects/s wall':>15} {'cpu s':>7} {'cpu ms/object':>14} "
        f"{'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    print(
        f"{'prodlens pipeline, whole command':<34} {r['objects']:>8} {r['wall']:>7.1f} "
        f"{r['objects'] / r['wall']:>15.1f} {r['cpu']:>7.1f} {1000 * r['cpu'] / r['objects']:>14.1f} "
        f"{r['peak_rss_mb']:>12.0f}"
    )
    if r["load_wall"]:
        print(
            f"{'  upload + normalize (queue empty)':<34} {r['objects']:>8} {r['load_wall']:>7.1f} "
            f"{r['objects'] / r['load_wall']:>15.1f} {r['load_cpu']:>7.1f} {1000 * r['load_cpu'] / r['objects']:>14.1f}"
        )
    print(
        f"delivered {r['delivered']} messages ({r['failed']} failed), {r['traces_files']} traces files; "
        f"cpu = user + system of every process (moto's server thread, the workers), on a {os.cpu_count()}-core machine"
    )
    capacity = r["objects"] / r["load_cpu"] * (os.cpu_count() or 1)
    met = r["objects"] / r["load_wall"] >= TARGET_OBJECTS_PER_S
    print(
        f"target {TARGET_OBJECTS_PER_S} objects/s loaded (upload + normalize): {'met' if met else 'NOT met'} on wall "
        f"time; the load's CPU per object allows {capacity:.0f} objects/s on {os.cpu_count()} idle cores; "
        f"load average during the run: {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
