"""Delivery faults on the embedded stack: redelivery and reordering, crashes at every write, throttling.

Every case compares lake *rows* (read with LocalEngine from a mirror of the lake bucket, sorted) with a
fault-free run. Two columns are wall-clock stamps and are left out of every comparison: dead_letters.rejected_at
(when normalize rejected the line) and correlations.computed_at.

Faults are injected at the boto3 layer with botocore `before-call` hooks registered on the default boto3
session: every client the handlers create after registration carries them, the test's own clients (created
earlier by `running()`) do not. A hook raising in `before-call` (or `before-parameter-build`, which sees the API
parameters) fails the call before it is sent, so the write it stands for never happens and botocore's own
retries never see it: an injected error models one that outlived them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError
from prodlens.lake import parse_partition, source_id
from prodlens.lake_engine import LocalEngine
from prodlens.local.stack import FUNCTIONS, LocalStack, running
from prodlens.local.stack import _clear_caches as clear_adapter_caches
from prodlens.local.template import Template
from prodlens.schema import TABLES

REPO = Path(__file__).resolve().parents[2]
DEMO_INPUT = REPO / "demo" / "input"
CONFIG_FILES = len(list((DEMO_INPUT / "config").iterdir()))  # people.json, rollouts.json: read, not notified
pytestmark = pytest.mark.faults

# wall-clock stamps, different in any two runs (reported_at: when the raw object was uploaded)
VOLATILE = {"rejected_at", "computed_at", "reported_at"}
CONTRACT_TABLES = (
    "traces",
    "dead_letters",
    "daily_session_metrics",
    "daily_github_metrics",
    "pull_requests",
    "commits",
    "correlations",
)
# The unit a reader can see change in one step: one object per group (per source, or per derived partition).
OBJECT_GROUPS = {
    "traces": ("source_key", "event_date", "repo"),
    "dead_letters": ("source_key",),
    "github_pulls": ("source_key", "repo"),
    "github_commits": ("source_key", "event_date", "repo"),
    "github_issue_events": ("source_key", "repo"),
    "pull_requests": ("repo",),
    "commits": ("event_date", "repo"),
    "daily_session_metrics": ("event_date",),
    "daily_github_metrics": ("event_date",),
}
WRITE_CALLS = {
    "s3": ("PutObject", "DeleteObjects"),
    "dynamodb": ("UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems"),
    "glue": ("BatchCreatePartition", "BatchDeletePartition"),
}
# The columns that name one row of each table: a row whose key is already taken is a doubled row.
ROW_KEYS = {
    "traces": ("record_id",),
    "dead_letters": ("source_key", "line_number", "reason"),
    "daily_session_metrics": ("event_date", "repo"),
    "daily_github_metrics": ("event_date", "repo"),
    "pull_requests": ("repo", "pr_number"),
    "commits": ("repo", "sha"),
    "correlations": ("repo", "x_metric", "y_metric", "lag_days"),
}
WRITE_EVENTS = [f"before-call.{service}.{op}" for service, ops in WRITE_CALLS.items() for op in ops]
MAX_RECEIVE_COUNT = int(
    Template.from_file(REPO / "template.yaml").properties("IngestQueue")["RedrivePolicy"]["maxReceiveCount"]
)

Rows = list[dict[str, str]]
Lake = dict[str, Rows]


class Crash(BaseException):  # noqa: N818 - a process death, not an error anyone handles
    """The Lambda process dying mid-invocation (timeout, OOM): not an Exception, so no handler catches it."""


# -- helpers ------------------------------------------------------------------------------------------------
@contextmanager
def boto_hooks(events: list[str], handler: Callable[..., Any]) -> Iterator[None]:
    """`handler` on every listed botocore event of the clients created while the block runs."""
    session = boto3._get_default_session()  # noqa: SLF001 - the session boto3.client() builds clients from
    for event in events:
        session.events.register(event, handler)
    try:
        yield
    finally:
        for event in events:
            session.events.unregister(event, handler)


def _canon(row: dict[str, Any]) -> dict[str, str]:
    return {k: repr(v) for k, v in row.items() if k not in VOLATILE}


def read_lake(stack: LocalStack, root: Path) -> Lake:
    """Every table's rows (volatile columns left out, values as repr, sorted), from a mirror of the lake bucket."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=stack.lake_bucket):
        for obj in page.get("Contents", []):
            target = root / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(stack.s3.get_object(Bucket=stack.lake_bucket, Key=obj["Key"])["Body"].read())
    engine = LocalEngine(root, threads=1)
    try:
        return {
            name: sorted(
                (_canon(r) for r in engine.query_dicts(f"SELECT * FROM {name}", dialect="duckdb")),
                key=lambda r: json.dumps(r, sort_keys=True),
            )
            for name in TABLES
        }
    finally:
        engine.con.close()


def lake_keys(stack: LocalStack) -> dict[str, str]:
    pages = stack.s3.get_paginator("list_objects_v2").paginate(Bucket=stack.lake_bucket)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def doubled_rows(rows: Rows, table: str) -> int:
    """Rows of one table that repeat an earlier row's key (ROW_KEYS; the whole row for the staging tables)."""
    keys = ROW_KEYS.get(table)
    seen = Counter(tuple(r[k] for k in keys) if keys else json.dumps(r, sort_keys=True) for r in rows)
    return sum(n - 1 for n in seen.values())


def assert_same_rows(actual: Lake, expected: Lake, tables: tuple[str, ...], ledger: Counter[str]) -> None:
    """No row doubled, then identical rows per table; then (and only then) 0 rows lost and 0 rows doubled are
    added to the ledger."""
    assert_no_doubled_rows(actual, tables, ledger)
    for table in tables:
        missing = [r for r in expected[table] if r not in actual[table]]
        extra = [r for r in actual[table] if r not in expected[table]]
        assert not missing and not extra, f"{table}: {len(missing)} rows lost, {len(extra)} rows extra or doubled"
        assert actual[table] == expected[table], f"{table}: same rows, different multiplicities"
        assert expected[table] or table in ("dead_letters",), f"{table} is empty: the comparison proves nothing"
    ledger["rows lost"] += 0


def groups(rows: Rows, keys: tuple[str, ...]) -> dict[tuple[str, ...], Rows]:
    out: dict[tuple[str, ...], Rows] = {}
    for row in rows:
        out.setdefault(tuple(row[k] for k in keys), []).append(row)
    return out


def assert_each_object_old_or_new(seen: Lake, old: Lake, new: Lake, tables: tuple[str, ...]) -> None:
    """A reader at this instant sees, for every object, either its old rows or its new rows: never a mix."""
    for table in tables:
        keys = OBJECT_GROUPS[table]
        now, before, after = groups(seen[table], keys), groups(old[table], keys), groups(new[table], keys)
        for group in set(now) | set(before) | set(after):
            rows = now.get(group, [])
            assert rows in (before.get(group, []), after.get(group, [])), f"{table} {group}: neither old nor new"


def assert_no_doubled_rows(seen: Lake, tables: tuple[str, ...], ledger: Counter[str]) -> None:
    """No table holds a row twice (doubled_rows); the rows looked at and the doubles found go to the ledger."""
    doubled = {table: doubled_rows(seen[table], table) for table in tables}
    ledger["rows doubled"] += sum(doubled.values())
    ledger["rows checked for doubles"] += sum(len(seen[table]) for table in tables)
    assert not any(doubled.values()), f"rows doubled: {doubled}"


def run_schedules(stack: LocalStack, names: tuple[str, ...] = ("aggregate", "correlate")) -> dict[str, Any]:
    results = {}
    for name in names:
        payloads = stack.template.schedule_inputs(FUNCTIONS[name]) or [{"job": name}]
        results[name] = stack.invoke(name, payloads[0])
    return results


def take_messages(stack: LocalStack, url: str) -> list[str]:
    """Receive and delete every message of a queue; their bodies in the order the queue gave them."""
    bodies = []
    while messages := stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    ):
        for message in messages:
            bodies.append(message["Body"])
            stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def deliver(stack: LocalStack, bodies: list[str], batch: int = 10) -> int:
    """Send `bodies` to the IngestQueue in this order, a batch at a time, each batch drained before the next."""
    delivered = 0
    for start in range(0, len(bodies), batch):
        for body in bodies[start : start + batch]:
            stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
        result = stack.drain_queue()
        assert result["failed"] == 0
        delivered += result["delivered"]
    return delivered


def raw_keys(body: str) -> list[str]:
    from urllib.parse import unquote_plus

    return [unquote_plus(r["s3"]["object"]["key"]) for r in json.loads(body).get("Records", [])]


@pytest.fixture(scope="module")
def demo_reference(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The fault-free run: the demo input uploaded and delivered once, in order; then aggregate and correlate."""
    with running() as stack:
        stack.enable_notifications()
        stack.upload_inputs(DEMO_INPUT)
        assert stack.drain_queue()["failed"] == 0
        run_schedules(stack)
        return read_lake(stack, tmp_path_factory.mktemp("reference") / "lake")


# -- 1. redelivery and reordering -------------------------------------------------------------------------------
def test_every_event_twice_and_out_of_order_gives_the_same_tables(demo_reference, tmp_path, ledger):
    with running() as stack:
        # Given the demo input uploaded, and every S3 notification it produced
        stack.enable_notifications()
        uploaded = stack.upload_inputs(DEMO_INPUT)
        bodies = take_messages(stack, stack.queue_url)
        # plus the s3:TestEvent; the config files are uploaded but not notified (aggregate and correlate read them)
        assert len(bodies) == uploaded - CONFIG_FILES + 1
        # When each is delivered twice, shuffled: second copies of some before the first copies of others
        order = [(i, copy) for i in range(len(bodies)) for copy in (0, 1)]
        random.Random(7).shuffle(order)
        first_at = {i: pos for pos, (i, copy) in enumerate(order) if copy == 0}
        second_at = {i: pos for pos, (i, copy) in enumerate(order) if copy == 1}
        assert any(second_at[i] < first_at[j] for i in first_at for j in first_at if i != j)
        out_of_order, newest = 0, -1
        for i, _ in order:
            out_of_order += i < newest
            newest = max(newest, i)
        # ... with an aggregate run in the middle, so some redeliveries land on already aggregated days
        half = len(order) // 2
        delivered = deliver(stack, [bodies[i] for i, _ in order[:half]])
        run_schedules(stack, ("aggregate",))
        delivered += deliver(stack, [bodies[i] for i, _ in order[half:]])
        run_schedules(stack)
        # Then every table holds exactly the rows of one in-order delivery
        assert delivered == len(order)
        assert stack.dead_lettered_messages() == 0
        lake = read_lake(stack, tmp_path / "lake")
        assert_same_rows(lake, demo_reference, tuple(TABLES), ledger)
        assert_no_doubled_rows(lake, tuple(TABLES), ledger)
        ledger["events delivered"] += delivered
        ledger["events redelivered"] += len(bodies)
        ledger["out-of-order deliveries"] += out_of_order

        # And the same objects re-uploaded with identical bytes change nothing
        before = lake_keys(stack)
        again = stack.upload_inputs(DEMO_INPUT)
        # every upload is notified but the config files (aggregate and correlate read them)
        assert stack.drain_queue() == {"delivered": again - CONFIG_FILES, "failed": 0}
        results = run_schedules(stack)
        assert results["aggregate"]["days_recomputed"] == 0
        assert results["correlate"]["status"] == "cached"
        assert lake_keys(stack) == before  # same keys, same ETags: nothing rewritten
        assert_same_rows(read_lake(stack, tmp_path / "lake"), demo_reference, tuple(TABLES), ledger)
        ledger["events delivered"] += again - CONFIG_FILES
        ledger["events redelivered"] += again - CONFIG_FILES


# -- 2. crashes at every write ---------------------------------------------------------------------------------
SEED_KEY = "traces/seed/crash-test.jsonl"
PULLS_KEY = "github/acme/api/pulls/page-0001.json"
COMMITS_KEY = "github/acme/api/commits/page-0001.json"
STATIC = ("github/acme/api/issue_events/*.json", "traces/litellm/2026-09-02/*.json")  # unchanged objects
STAGING = ("traces", "dead_letters", "github_pulls", "github_commits", "github_issue_events")
DERIVED = ("pull_requests", "commits", "daily_session_metrics", "daily_github_metrics")


def _versions() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Two versions of three raw objects. B drops a day, rewrites a day, keeps a day, adds a day (traces);
    merges an open PR, drops one, adds one (pulls); drops and adds commits (commits)."""
    lines = [ln for ln in (DEMO_INPUT / "traces/seed/acme-api.jsonl").read_text().splitlines() if ln.strip()]
    by_day: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        record = json.loads(line)
        by_day.setdefault(record["timestamp"][:10], []).append(record)
    d1, d2, d3, d4 = sorted(by_day)[:4]
    changed = [{**r, "usage": {**r["usage"], "output_tokens": r["usage"]["output_tokens"] + 1}} for r in by_day[d3][:4]]
    seed_a = by_day[d1][:4] + by_day[d2][:4] + by_day[d3][:4] + [{"timestamp": d1, "broken": True}]
    seed_b = by_day[d2][:4] + changed + by_day[d4][:4] + ["not json"]
    pulls = json.loads((DEMO_INPUT / PULLS_KEY).read_text())
    merged = {
        **pulls[0],
        "state": "closed",
        "merged_at": "2026-10-13T09:00:00Z",
        "closed_at": "2026-10-13T09:00:00Z",
        "updated_at": "2026-10-13T09:00:00Z",
    }
    assert pulls[0]["merged_at"] is None
    commits = json.loads((DEMO_INPUT / COMMITS_KEY).read_text())

    def jsonl(records: list[Any]) -> bytes:
        return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()

    a = {
        SEED_KEY: jsonl(seed_a),
        PULLS_KEY: json.dumps(pulls[:8]).encode(),
        COMMITS_KEY: json.dumps(commits[:12]).encode(),
    }
    b = {
        SEED_KEY: jsonl(seed_b),
        PULLS_KEY: json.dumps([merged, *pulls[2:9]]).encode(),
        COMMITS_KEY: json.dumps(commits[6:20]).encode(),
    }
    return a, b


def _upload(stack: LocalStack, objects: dict[str, bytes]) -> None:
    for key, body in objects.items():
        stack.s3.put_object(Bucket=stack.raw_bucket, Key=key, Body=body)


def _dirty(stack: LocalStack) -> dict[tuple[str, str], int]:
    items = [i for page in stack.ddb.get_paginator("scan").paginate(TableName=stack.state_table) for i in page["Items"]]
    return {(i["pk"]["S"], i["sk"]["S"]): int(i["version"]["N"]) for i in items if i["pk"]["S"].startswith("dirty#")}


def _glue_partitions(stack: LocalStack) -> set[tuple[str, tuple[str, ...]]]:
    found = set()
    for table in TABLES:
        if TABLES[table].partition_keys:
            pages = stack.glue.get_paginator("get_partitions").paginate(DatabaseName=stack.database, TableName=table)
            found |= {(table, tuple(p["Values"])) for page in pages for p in page["Partitions"]}
    return found


def _lake_partitions(stack: LocalStack) -> set[tuple[str, tuple[str, ...]]]:
    """The partitions that hold at least one object: what Glue must list, no more, no less."""
    found = set()
    for key in lake_keys(stack):
        table = key.split("/", 1)[0]
        if table in TABLES and TABLES[table].partition_keys:
            found.add((table, tuple(parse_partition(table, key).values())))
    return found


class WriteCounter:
    """Counts the write calls; raises Crash before write number `crash_at` (0-based) is sent."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.crash_at = crash_at
        self.writes = 0
        self.crashed = False

    def __call__(self, **kwargs: Any) -> None:
        if self.crash_at is not None and not self.crashed and self.writes == self.crash_at:
            self.crashed = True
            raise Crash(f"died before write {self.writes}")
        self.writes += 1


@contextmanager
def crash_stack(tmp_path: Path) -> Iterator[tuple[LocalStack, dict[str, Any]]]:
    """A stack with version A of the three objects delivered and aggregated, then B; references for both."""
    a, b = _versions()
    with running() as stack:
        stack.enable_notifications()
        stack.drain_queue()  # the s3:TestEvent
        static = {
            p.relative_to(DEMO_INPUT).as_posix(): p.read_bytes() for pattern in STATIC for p in DEMO_INPUT.glob(pattern)
        }
        refs: dict[str, Any] = {"objects": {"A": a, "B": b}}
        for name, objects in (("static", static), ("A", a), ("B", b)):
            _upload(stack, objects)
            assert stack.drain_queue()["failed"] == 0
            # the partitions a transition between A and B marks dirty: those of A and of B (its stale outputs)
            refs["marks"] = set(_dirty(stack))
            run_schedules(stack, ("aggregate",))
            refs[name] = read_lake(stack, tmp_path / f"ref{name}")
            assert not _dirty(stack)
        assert _glue_partitions(stack) == _lake_partitions(stack)
        yield stack, refs


def _count_writes(stack: LocalStack, action: Callable[[], Any]) -> int:
    counter = WriteCounter()
    with boto_hooks(WRITE_EVENTS, counter):
        action()
    return counter.writes


def test_normalize_crash_at_every_write_converges_on_redelivery(tmp_path, ledger):
    with crash_stack(tmp_path) as (stack, refs):
        # The state is B; each crash point moves the three objects to the other version (A, B, A, ...)
        current = "B"
        counted = 0

        def transition(crash_at: int | None) -> WriteCounter:
            nonlocal current
            target = "A" if current == "B" else "B"
            _upload(stack, refs["objects"][target])
            counter = WriteCounter(crash_at)
            with boto_hooks(WRITE_EVENTS, counter):
                if crash_at is None:
                    stack.drain_queue()
                else:
                    with pytest.raises(Crash):
                        stack.drain_queue()
            return counter

        # Given the number of writes one normalize invocation of the three objects makes (a clean transition)
        total = transition(None).writes
        current = "A"
        assert_same_rows(read_lake(stack, tmp_path / "lake"), refs["A"], STAGING, ledger)
        assert total >= 10
        for crash_at in range(total):
            old, new = current, ("A" if current == "B" else "B")
            marks_before = _dirty(stack)
            # When the invocation dies before write number crash_at
            counter = transition(crash_at)
            assert counter.crashed
            ledger["crashes injected"] += 1
            # Then a reader sees, per source and partition, the old rows or the new ones, and no record twice
            seen = read_lake(stack, tmp_path / "lake")
            assert_each_object_old_or_new(seen, refs[old], refs[new], STAGING + DERIVED)
            assert_no_doubled_rows(seen, tuple(TABLES), ledger)
            # And the redelivery converges on the lake of a run without the crash, with every partition marked
            assert stack.drain_queue() == {"delivered": 3, "failed": 0}
            current = new
            assert_same_rows(read_lake(stack, tmp_path / "lake"), refs[new], STAGING, ledger)
            marks = _dirty(stack)
            assert all(marks.get(k, 0) > marks_before.get(k, 0) for k in refs["marks"]), crash_at
            counted += 1
            ledger["crash points converged"] += 1
            ledger["events redelivered"] += 3
            ledger["events delivered"] += 6
        # And the next aggregate run derives the same tables as after a clean run
        run_schedules(stack, ("aggregate",))
        assert_same_rows(read_lake(stack, tmp_path / "lake"), refs[current], STAGING + DERIVED, ledger)
        assert _glue_partitions(stack) == _lake_partitions(stack)
        assert counted == total


@pytest.mark.parametrize("part", range(3))
def test_aggregate_crash_at_every_write_converges_on_the_next_run(part, tmp_path, ledger):
    with crash_stack(tmp_path) as (stack, refs):
        current = "B"

        def normalize_other() -> str:
            target = "A" if current == "B" else "B"
            _upload(stack, refs["objects"][target])
            assert stack.drain_queue()["failed"] == 0
            return target

        # Given the number of writes of one aggregate run after a change (a clean run, B -> A)
        current = normalize_other()
        total = _count_writes(stack, lambda: run_schedules(stack, ("aggregate",)))
        assert_same_rows(read_lake(stack, tmp_path / "lake"), refs["A"], STAGING + DERIVED, ledger)
        assert total >= 10
        for crash_at in range(part, total, 3):
            old = current
            current = normalize_other()
            # When the aggregate run dies before write number crash_at
            counter = WriteCounter(crash_at)
            with boto_hooks(WRITE_EVENTS, counter), pytest.raises(Crash):
                run_schedules(stack, ("aggregate",))
            ledger["crashes injected"] += 1
            # Then every derived object a reader sees is complete: the old computation or the new one
            seen = read_lake(stack, tmp_path / "lake")
            assert_each_object_old_or_new(seen, refs[old], refs[current], DERIVED)
            assert_same_rows(seen, refs[current], STAGING, ledger)
            # And the next scheduled run converges on the tables of a run without the crash
            run_schedules(stack, ("aggregate",))
            assert_same_rows(read_lake(stack, tmp_path / "lake"), refs[current], STAGING + DERIVED, ledger)
            assert not _dirty(stack), f"marks left after the run that followed a crash at write {crash_at}"
            ledger["crash points converged"] += 1
        assert _glue_partitions(stack) == _lake_partitions(stack)


# -- 2b. records that move to another day --------------------------------------------------------------------
MOVE_KEY = "traces/claude/move/session.jsonl"
MOVE_REPO = "acme/move"
MOVE_TABLES = ("traces", "daily_session_metrics", "dead_letters")
# record -> day of November 2026, per version. A -> B swaps records between days 1 and 2 (a cycle of moves),
# moves one from day 2 to day 5 (a new object), and every record of day 3 to day 4 (day 3 left empty); B -> A
# undoes it all. Record i has 16**i output tokens, so a day's tokens_out says which records it counts.
MOVE_DAYS = {
    "A": {0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4},
    "B": {0: 2, 1: 1, 2: 1, 3: 5, 4: 4, 5: 4, 6: 4},
}
AFTER_WRITE_EVENTS = [f"after-call.{service}.{op}" for service, ops in WRITE_CALLS.items() for op in ops]


def _moving_transcript(version: str) -> bytes:
    """A Claude Code transcript: calls named by (message.id, requestId), so a call keeps its record_id when its
    timestamp (and so its day) changes."""
    lines = [
        {
            "type": "assistant",
            "sessionId": "move-session",
            "timestamp": f"2026-11-{day:02d}T09:{i:02d}:00.000Z",
            "requestId": f"req_move_{i}",
            "message": {
                "id": f"msg_move_{i}",
                "model": "claude-sonnet-4-5-20250929",
                "usage": {"input_tokens": 1, "output_tokens": 16**i},
            },
        }
        for i, day in MOVE_DAYS[version].items()
    ]
    return "\n".join(json.dumps(line) for line in lines).encode()


def _upload_move(stack: LocalStack, version: str) -> None:
    stack.s3.put_object(
        Bucket=stack.raw_bucket,
        Key=MOVE_KEY,
        Body=_moving_transcript(version),
        Metadata={"repo": MOVE_REPO, "developer": "dev@acme.dev"},
    )


def _fresh_ingest(version: str, root: Path) -> Lake:
    """The tables of a stack that only ever saw `version`: what every redelivery must converge on."""
    with running() as stack:
        stack.enable_notifications()
        _upload_move(stack, version)
        assert stack.drain_queue()["failed"] == 0
        run_schedules(stack, ("aggregate",))
        return read_lake(stack, root)


def counted_in_daily(seen: Lake) -> Counter[int]:
    """How many times daily_session_metrics counts each moving record (digit i of the tokens_out sum, base 16)."""
    total = sum(int(r["tokens_out"]) for r in seen["daily_session_metrics"] if r["repo"] == repr(MOVE_REPO))
    return Counter({i: (total // 16**i) % 16 for i in MOVE_DAYS["A"]})


class ReaderSawIt(BaseException):  # noqa: N818 - an assertion, raised past the handler under test
    """An assertion that failed in a reader called from inside a handler: not an Exception, so no handler
    catches it."""


class MoveReader:
    """A reader of the lake at one instant: the SQL engine over the lake, then the real aggregate run (as its
    schedule would start it), then the SQL engine again. Called after every write (a botocore after-call hook),
    it also sees the writes of the aggregate run it starts, and skips them (it is reading, not observing)."""

    def __init__(self, stack: LocalStack, root: Path, known: Rows, ledger: Counter[str]) -> None:
        self.stack, self.root, self.known, self.ledger = stack, root, known, ledger
        self.busy = False
        self.observations = 0

    def __call__(self, **kwargs: Any) -> None:
        if self.busy:
            return
        try:
            self.observe()
        except AssertionError as e:  # inside normalize: its batch processor would report a failed record
            raise ReaderSawIt(str(e)) from e

    def observe(self) -> None:
        self.busy = True
        saved = dict(os.environ)
        try:
            self.check()
            run_schedules(self.stack, ("aggregate",))
            self.check()
        finally:
            # the aggregate run used its own environment and adapters: normalize's next record uses its own
            os.environ.clear()
            os.environ.update(saved)
            clear_adapter_caches()
            self.busy = False

    def check(self) -> None:
        seen = read_lake(self.stack, self.root)
        assert_no_doubled_rows(seen, MOVE_TABLES, self.ledger)
        counted = counted_in_daily(seen)
        doubled = sum(max(0, n - 1) for n in counted.values())
        self.ledger["rows doubled"] += doubled
        self.ledger["rows checked for doubles"] += len(counted)
        assert doubled == 0, f"daily_session_metrics counts records twice: {dict(counted)}"
        assert all(row in self.known for row in seen["traces"]), "a traces row of neither version"
        self.observations += 1
        self.ledger["reads between two writes"] += 1


def test_reupload_moving_records_to_other_days_never_doubles_a_row(tmp_path, ledger):
    fresh = {version: _fresh_ingest(version, tmp_path / f"fresh{version}") for version in MOVE_DAYS}
    known = fresh["A"]["traces"] + fresh["B"]["traces"]
    with running() as stack:
        # Given version A of a transcript delivered and aggregated
        stack.enable_notifications()
        stack.drain_queue()  # the s3:TestEvent
        _upload_move(stack, "A")
        assert stack.drain_queue()["failed"] == 0
        run_schedules(stack, ("aggregate",))
        assert_same_rows(read_lake(stack, tmp_path / "lake"), fresh["A"], MOVE_TABLES, ledger)
        reader = MoveReader(stack, tmp_path / "seen", known, ledger)
        writes = WriteCounter()

        def normalize_writes(**kwargs: Any) -> None:
            if not reader.busy:  # not the writes of the aggregate run the reader starts
                writes(**kwargs)

        # When it is re-uploaded as B (records moved to other days), then as A again, with a reader (SQL engine,
        # aggregate run) after every single write of normalize
        for version in ("B", "A"):
            _upload_move(stack, version)
            before = reader.observations
            with boto_hooks(WRITE_EVENTS, normalize_writes), boto_hooks(AFTER_WRITE_EVENTS, reader):
                assert stack.drain_queue() == {"delivered": 1, "failed": 0}
            # Then no reader ever saw a record twice, in traces or in daily_session_metrics (MoveReader.check)
            assert reader.observations - before >= 16
            # And the lake and the catalog end as a fresh ingest of that version
            run_schedules(stack, ("aggregate",))
            assert_same_rows(read_lake(stack, tmp_path / "lake"), fresh[version], MOVE_TABLES, ledger)
            assert _glue_partitions(stack) == _lake_partitions(stack)
            ledger["events delivered"] += 1
            ledger["events redelivered"] += 1
        emptied = ("traces", ("2026-11-03", MOVE_REPO))
        assert emptied in _glue_partitions(stack)  # A again: day 3 holds rows again and is registered again

        # And a normalize dying before any one of its writes (A <-> B), read by the same reader after the crash,
        # converges on redelivery to a fresh ingest of the version it was delivering
        total = writes.writes // 2
        current = "A"
        for crash_at in range(total):
            target = "B" if current == "A" else "A"
            _upload_move(stack, target)
            counter = WriteCounter(crash_at)
            with boto_hooks(WRITE_EVENTS, counter), pytest.raises(Crash):
                stack.drain_queue()
            ledger["crashes injected"] += 1
            reader.observe()
            assert stack.drain_queue() == {"delivered": 1, "failed": 0}
            run_schedules(stack, ("aggregate",))
            assert_same_rows(read_lake(stack, tmp_path / "lake"), fresh[target], MOVE_TABLES, ledger)
            assert _glue_partitions(stack) == _lake_partitions(stack)
            assert (emptied in _glue_partitions(stack)) == (target == "A")
            current = target
            ledger["crash points converged"] += 1
            ledger["events delivered"] += 2
            ledger["events redelivered"] += 1


# -- 3. throttling and transient errors ---------------------------------------------------------------------------
def _client_error(code: str, operation: str) -> ClientError:
    status = 503 if code in {"SlowDown", "ServiceUnavailable"} else 500 if code == "InternalError" else 400
    return ClientError(
        {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


class Faults:
    """Fails chosen calls made for chosen raw keys while normalize works; `times` failures each (None: always).

    A plan names a call by what it does (CALLS): reading the raw object, writing a lake object, reading or writing
    processed records, touching dirty marks, registering partitions. A call is made for the raw keys it names (an
    object's GET, its lake objects by their source id, its processed record) or, for the marks and the catalog,
    for the raw keys whose lake objects of that partition this invocation wrote or deleted. Normalize batches the
    calls of an SQS batch's objects and redoes a failed shared call object by object, so a record may be reported
    failed only when an injected error met a call made for it alone (`alone`)."""

    CALLS = {
        "raw.get": {"s3.GetObject"},
        "lake.put": {"s3.PutObject"},
        "state.read": {"dynamodb.TransactGetItems", "dynamodb.GetItem"},
        "state.write": {"dynamodb.BatchWriteItem", "dynamodb.PutItem"},
        "marks": {"dynamodb.UpdateItem", "dynamodb.TransactWriteItems"},
        "catalog": {"glue.BatchCreatePartition"},
    }

    def __init__(self, plan: dict[str, tuple[str, str, int | None]], stack: LocalStack, keys: list[str]) -> None:
        self.plan = plan  # raw key -> (call of CALLS, error code or "ConnectTimeout", times)
        self.raw_bucket, self.lake_bucket = stack.raw_bucket, stack.lake_bucket
        self.by_source = {source_id(key): key for key in keys}
        self.remaining = {key: times for key, (_, _, times) in plan.items()}
        self.writers: dict[tuple[str, ...], set[str]] = {}  # (table, partition or mark) -> raw keys, this invocation
        self.alone: set[str] = set()  # raw keys whose own call (made for it alone) met an injected error
        self.injected = 0
        self.attempts: Counter[str] = Counter()  # invocations that delivered each planned key

    @property
    def events(self) -> list[str]:
        return sorted({f"before-parameter-build.{call}" for calls in self.CALLS.values() for call in calls})

    def invocation(self, keys: set[str]) -> None:
        """A normalize invocation starts, for these raw keys."""
        self.writers, self.alone = {}, set()
        self.attempts.update(keys & set(self.plan))

    def _lake_key(self, key: str) -> set[str]:
        table = key.split("/", 1)[0]
        raw = self.by_source.get(key.rsplit("/", 1)[-1].removesuffix(".parquet"), "")
        if table in TABLES and TABLES[table].partition_keys and raw:
            partition = parse_partition(table, key)
            other = [k for k in TABLES[table].partition_keys if k != "event_date"]
            mark = f"{partition.get('event_date', '')}#{partition[other[0]] if other else ''}"
            self.writers.setdefault((table, *partition.values()), set()).add(raw)
            self.writers.setdefault((f"dirty#{table}", mark), set()).add(raw)
        return {raw} if raw else set()

    def concerned(self, call: str, params: dict[str, Any]) -> tuple[set[str], set[str]]:
        """The raw keys a call may be made for, and those it is surely made for. A call naming raw keys (or their
        lake objects) is made for them; a call on partitions (marks, catalog) may be made for any object that wrote
        one of them, and surely for those that wrote all of them (the objects whose own call it may be)."""
        if call.startswith("s3."):
            keys = [o["Key"] for o in params["Delete"]["Objects"]] if call == "s3.DeleteObjects" else [params["Key"]]
            named = set(keys) if params["Bucket"] == self.raw_bucket else set().union(*map(self._lake_key, keys))
            return named, named
        if call == "glue.BatchCreatePartition":
            parts = [(params["TableName"], *p["Values"]) for p in params["PartitionInputList"]]
            return self._writers(parts)
        items = {
            "dynamodb.GetItem": lambda: [params["Key"]],
            "dynamodb.PutItem": lambda: [params["Item"]],
            "dynamodb.UpdateItem": lambda: [params["Key"]],
            "dynamodb.TransactGetItems": lambda: [i["Get"]["Key"] for i in params["TransactItems"]],
            "dynamodb.TransactWriteItems": lambda: [i["Update"]["Key"] for i in params["TransactItems"]],
            "dynamodb.BatchWriteItem": lambda: [
                r["PutRequest"]["Item"] for requests in params["RequestItems"].values() for r in requests
            ],
        }[call]()
        named = {i["pk"]["S"].removeprefix("object#") for i in items if i["pk"]["S"].startswith("object#")}
        marks = [(i["pk"]["S"], i["sk"]["S"]) for i in items if i["pk"]["S"].startswith("dirty#")]
        may, surely = self._writers(marks) if marks else (set(), set())
        return named | may, named | surely

    def _writers(self, parts: list[tuple[str, ...]]) -> tuple[set[str], set[str]]:
        found = [self.writers.get(part, set()) for part in parts]
        return set().union(*found), set.intersection(*found) if found else set()

    def __call__(self, event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        call = event_name.removeprefix("before-parameter-build.")
        if call in ("s3.PutObject", "s3.DeleteObjects") and params.get("Bucket") == self.lake_bucket:
            self.concerned(call, params)  # whose partitions this invocation writes
        may, surely = self.concerned(call, params)
        planned = [
            key
            for key in sorted(may & set(self.plan))
            if call in self.CALLS[self.plan[key][0]] and self.remaining[key] != 0
        ]
        if not planned or (call == "s3.GetObject") != (params.get("Bucket") == self.raw_bucket):
            return  # (a raw read is planned as raw.get; a GET of a lake object is no planned call)
        key = planned[0]
        if self.remaining[key] is not None:
            self.remaining[key] -= 1
        self.injected += 1
        if len(surely) == 1:
            self.alone |= surely
        code = self.plan[key][1]
        if code == "ConnectTimeout":
            raise ConnectTimeoutError(endpoint_url="https://injected.example")
        raise _client_error(code, call.split(".")[1])


class SqsFaults:
    """Throttles the event source mapping's own SQS calls: the first receive of a drain, every 3rd batch delete.

    The messages of a batch whose delete is throttled stay in the queue although their objects were processed: SQS
    delivers them again (processing them again changes nothing), and a message whose last allowed receive that was
    moves to the DLQ like a failed one. `throttled_keys` are the raw keys of such messages (receipt handles mapped
    back to bodies)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.injected = 0
        self.bodies: dict[str, str] = {}  # receipt handle -> message body, from every receive
        self.deleting: list[str] = []  # the receipt handles of the batch delete being sent
        self.throttled_keys: set[str] = set()

    def __call__(self, event_name: str, **kwargs: Any) -> None:
        op = event_name.rsplit(".", 1)[1]
        self.calls[op] += 1
        if (op == "ReceiveMessage" and self.calls[op] == 1) or (op == "DeleteMessageBatch" and self.calls[op] % 3 == 0):
            self.injected += 1
            if op == "DeleteMessageBatch":
                for handle in self.deleting:
                    self.throttled_keys.update(raw_keys(self.bodies.get(handle, "{}")))
            raise _client_error("ThrottlingException" if op == "DeleteMessageBatch" else "ServiceUnavailable", op)

    def delete_params(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.deleting = [entry["ReceiptHandle"] for entry in params["Entries"]]

    def received(self, parsed: dict[str, Any], **kwargs: Any) -> None:
        for message in parsed.get("Messages", []):
            self.bodies[message["ReceiptHandle"]] = message["Body"]


def test_throttling_fails_only_the_affected_records_and_a_dlq_redrive_completes_the_data(
    demo_reference, tmp_path, ledger
):
    files = sorted(
        p.relative_to(DEMO_INPUT).as_posix()
        for p in DEMO_INPUT.rglob("*")
        if p.is_file() and not p.name.endswith(".meta.json")
    )
    pick = {
        name: next(f for f in files if name in f)
        for name in (
            "acme-web.jsonl",
            "otlp/",
            "litellm/2026-09-20",
            "claude/",
            "web/pulls",
            "api/commits/page-0003",
            "api/issue_events",
            "broken-upload",
            "litellm/2026-10-05",
            "web/commits/page-0002",
            "acme-api.jsonl",
        )
    }
    plan = {
        pick["acme-web.jsonl"]: ("raw.get", "SlowDown", 2),
        pick["otlp/"]: ("raw.get", "InternalError", 1),
        pick["litellm/2026-09-20"]: ("raw.get", "ConnectTimeout", 3),
        pick["claude/"]: ("state.read", "ProvisionedThroughputExceededException", 1),
        pick["web/pulls"]: ("state.write", "ThrottlingException", 2),
        pick["api/commits/page-0003"]: ("marks", "ProvisionedThroughputExceededException", 1),
        pick["api/issue_events"]: ("catalog", "ThrottlingException", 1),
        pick["acme-api.jsonl"]: ("lake.put", "SlowDown", 4),  # some of its day objects written, then fails
        # these never recover: they must reach the IngestDLQ after maxReceiveCount receives
        pick["broken-upload"]: ("lake.put", "ServiceUnavailable", None),
        pick["litellm/2026-10-05"]: ("state.read", "ThrottlingException", None),
        pick["web/commits/page-0002"]: ("raw.get", "InternalError", None),
    }
    persistent = {key for key, (_, _, times) in plan.items() if times is None}
    with running() as stack:
        stack.enable_notifications()
        uploaded = stack.upload_inputs(DEMO_INPUT)
        faults = Faults(plan, stack, files)
        sqs_faults = SqsFaults()
        invoke = stack.invoke
        checked = 0

        def checked_invoke(name: str, event: dict[str, Any]) -> Any:
            # Every normalize invocation: only records whose own call met an injected error are reported failed
            nonlocal checked
            if name != "normalize":
                return invoke(name, event)
            faults.invocation({key for r in event["Records"] for key in raw_keys(r["body"])})
            response = invoke(name, event)
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            allowed = {r["messageId"] for r in event["Records"] if set(raw_keys(r["body"])) & faults.alone}
            assert failed <= allowed, "a record failed without an error of its own"
            checked += 1
            return response

        stack.invoke = checked_invoke  # type: ignore[method-assign]
        for op in ("ReceiveMessage", "DeleteMessageBatch"):
            stack.sqs.meta.events.register(f"before-call.sqs.{op}", sqs_faults)
        stack.sqs.meta.events.register("after-call.sqs.ReceiveMessage", sqs_faults.received)
        stack.sqs.meta.events.register("before-parameter-build.sqs.DeleteMessageBatch", sqs_faults.delete_params)
        with boto_hooks(faults.events, faults):
            result = stack.drain_queue()
        for op in ("ReceiveMessage", "DeleteMessageBatch"):
            stack.sqs.meta.events.unregister(f"before-call.sqs.{op}", sqs_faults)
        stack.sqs.meta.events.unregister("after-call.sqs.ReceiveMessage", sqs_faults.received)
        stack.sqs.meta.events.unregister("before-parameter-build.sqs.DeleteMessageBatch", sqs_faults.delete_params)
        stack.invoke = invoke  # type: ignore[method-assign]
        # Then every planned fault was met, every object that recovered was delivered, and the others failed
        # maxReceiveCount times, then left
        assert checked > 0 and sqs_faults.injected >= 2
        assert all(faults.remaining[key] == 0 for key in plan if key not in persistent), faults.remaining
        assert result["failed"] >= len(persistent) * MAX_RECEIVE_COUNT
        assert {k: faults.attempts[k] for k in persistent} == dict.fromkeys(persistent, MAX_RECEIVE_COUNT)
        dead_lettered = stack.dead_lettered_messages()
        ledger["transient errors injected"] += faults.injected + sqs_faults.injected
        ledger["events delivered"] += result["delivered"] + result["failed"]
        ledger["events redelivered"] += result["failed"]

        # When the DLQ is redriven (what start-message-move-task does: receive, send to the source, delete)
        dlq = stack.sqs.get_queue_url(QueueName=stack.dlq_name)["QueueUrl"]
        moved = take_messages(stack, dlq)
        # In the DLQ: every object that never recovered, and at most the processed ones whose delete was throttled
        moved_keys = {k for body in moved for k in raw_keys(body)}
        assert len(moved) == dead_lettered
        assert persistent <= moved_keys <= persistent | sqs_faults.throttled_keys, moved_keys - persistent
        for body in moved:
            stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
        assert stack.drain_queue() == {"delivered": len(moved), "failed": 0}
        run_schedules(stack)
        # Then the tables are those of a fault-free run
        assert_same_rows(read_lake(stack, tmp_path / "lake"), demo_reference, tuple(TABLES), ledger)
        assert stack.dead_lettered_messages() == 0
        ledger["messages dead-lettered then redriven"] += len(moved)
        ledger["events delivered"] += len(moved)
        assert uploaded == len(files)
