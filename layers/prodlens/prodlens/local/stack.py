"""The embedded stack: moto in-process, resources created from template.yaml, the real handlers invoked.

`prodlens pipeline` uses both cores as Lambda concurrency would: moto also answers over HTTP (a server thread of
this process, on the same in-memory backends), and worker processes, each a warm normalize container, upload a
share of the input and deliver the queue's messages in SQS batches, as the event source mapping does, until the
queue is empty (`load`). aggregate and correlate then run in a worker process too, as their schedules would.

The local `--lake DIR` is the whole state between runs:
  DIR/lake/...            the lake bucket, object for object
  DIR/raw/...             the raw bucket (so the scheduled sweep and replays work as in AWS)
  DIR/state/state.json    the DynamoDB state table items (checkpoints, dirty days, processed objects)
  DIR/state/glue.json     the Glue partitions registered so far
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import multiprocessing
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from moto import mock_aws

from prodlens.local.template import LOCAL_ACCOUNT, LOCAL_REGION, Template

REPO_ROOT = Path(__file__).resolve().parents[4]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
SIDECAR_SUFFIX = ".meta.json"
RECEIVE_ATTEMPTS = 10  # consecutive failed ReceiveMessage calls before drain_queue gives up
_USER_METADATA = "x-amz-meta-"
FUNCTIONS = {
    "normalize": "NormalizeFunction",
    "aggregate": "AggregateFunction",
    "correlate": "CorrelateFunction",
    "github_sync": "GitHubSyncFunction",
    "copilot_sync": "CopilotSyncFunction",
    "claude_code_sync": "ClaudeCodeSyncFunction",
}


@dataclass(frozen=True)
class InputFile:
    """A file of `--input DIR` as it is uploaded: its raw key, its local path and its S3 user metadata."""

    key: str
    path: Path
    metadata: dict[str, str]


@dataclass
class LambdaContext:
    """What the handlers read from the Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 2048
    timeout_ms: int = 900_000
    aws_request_id: str = ""

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_ms / 1000
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.function_version = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _load_handler(name: str, code_uri: str) -> ModuleType:
    """The function's app.py from its CodeUri (two functions may share one code folder)."""
    path = REPO_ROOT / code_uri / "app.py"
    spec = importlib.util.spec_from_file_location(f"prodlens_function_{name}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clear_caches() -> None:
    """Adapters are cached per execution environment; a new local stack is a new environment."""
    from prodlens.adapters.factory import lake_adapters
    from prodlens.config import get_settings

    get_settings.cache_clear()
    lake_adapters.cache_clear()


class LocalStack:
    """Resources of template.yaml on moto. Use inside `running()`."""

    def __init__(self, template: Template, *, warm: bool = False) -> None:
        """`warm`: a function invoked again keeps its adapters (a warm Lambda container); otherwise every invocation
        builds them afresh (the tests' botocore hooks reach the clients of the next invocation)."""
        self.template = template
        self.warm = warm
        self._invoked = ""
        self.endpoint_url = ""  # moto over HTTP, for worker processes (running(server=True))
        self.moto_lock: Any = contextlib.nullcontext()  # the server's: one request at a time
        t = template
        self.raw_bucket = t.physical_name("RawBucket")
        self.lake_bucket = t.physical_name("LakeBucket")
        self.state_table = t.physical_name("StateTable")
        self.queue_name = t.physical_name("IngestQueue")
        self.dlq_name = t.physical_name("IngestDLQ")
        self.database = t.physical_name(next(iter(t.of_type("AWS::Glue::Database"))))
        self.s3 = boto3.client("s3", region_name=LOCAL_REGION)
        self.sqs = boto3.client("sqs", region_name=LOCAL_REGION)
        self.ddb = boto3.client("dynamodb", region_name=LOCAL_REGION)
        self.glue = boto3.client("glue", region_name=LOCAL_REGION)
        self.queue_url = ""
        self._handlers: dict[str, ModuleType] = {}

    # -- resources -----------------------------------------------------------------------------------
    def create_resources(self) -> None:
        t = self.template
        for logical_id in t.of_type("AWS::S3::Bucket"):
            self.s3.create_bucket(Bucket=t.physical_name(logical_id))
        dlq_url = self.sqs.create_queue(QueueName=self.dlq_name)["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_props = t.resolve(t.properties("IngestQueue"))
        redrive = queue_props.get("RedrivePolicy", {})
        self.queue_url = self.sqs.create_queue(
            QueueName=self.queue_name,
            Attributes={
                "VisibilityTimeout": str(queue_props.get("VisibilityTimeout", 30)),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": int(redrive.get("maxReceiveCount", 5))}
                ),
            },
        )["QueueUrl"]
        table = t.resolve(t.properties("StateTable"))
        self.ddb.create_table(
            TableName=self.state_table,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        self.glue.create_database(DatabaseInput={"Name": self.database})
        for logical_id in t.of_type("AWS::Glue::Table"):
            table_input = t.resolve(t.properties(logical_id)["TableInput"])
            self.glue.create_table(DatabaseName=self.database, TableInput=table_input)

    def enable_notifications(self) -> None:
        """The raw bucket → IngestQueue notification as the template declares it, in the S3 API's shape."""
        t = self.template
        config = t.resolve(t.properties("RawBucket").get("NotificationConfiguration", {}))
        queue_arn = t.get_att("IngestQueue", "Arn")
        entries = [
            {
                "QueueArn": queue_arn,
                "Events": [entry["Event"]],
                "Filter": {"Key": {"FilterRules": entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])}},
            }
            for entry in config.get("QueueConfigurations", [])
        ]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.raw_bucket, NotificationConfiguration={"QueueConfigurations": entries}
        )

    # -- state on disk ---------------------------------------------------------------------------------
    # Bucket contents are read and written on moto's S3 backend in this process, not through the API: a lake of
    # 10,000 objects is 20,000 objects to save, which GETs would take minutes to read. Nothing is notified.
    def _s3_backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[LOCAL_ACCOUNT]["aws"]

    def _stored(self, bucket: str) -> Iterator[tuple[str, bytes, dict[str, str]]]:
        """(key, bytes, user metadata) of every object of a bucket."""
        for key, fake in list(self._s3_backend().buckets[bucket].keys.items()):
            metadata = {k[len(_USER_METADATA) :]: v for k, v in fake.metadata.items() if k.startswith(_USER_METADATA)}
            yield key, fake.value, metadata

    def _store(self, bucket: str, key: str, body: bytes, metadata: Mapping[str, str], *, notify: bool = False) -> None:
        """An object put on moto's S3 backend; with `notify`, its S3 notification sent as a PUT's would be. Under
        the server's lock (when it runs): no request sees the object without its metadata."""
        with self.moto_lock:
            fake = self._s3_backend().put_object(bucket, key, body, disable_notification=not notify)
            fake.set_metadata({f"{_USER_METADATA}{k}": v for k, v in metadata.items()})

    def restore(self, lake_dir: Path) -> None:
        meta_path = lake_dir / "state" / "raw-metadata.json"
        raw_metadata = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        for bucket, folder in ((self.lake_bucket, lake_dir / "lake"), (self.raw_bucket, lake_dir / "raw")):
            for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []:
                key = path.relative_to(folder).as_posix()
                metadata = raw_metadata.get(key, {}) if bucket == self.raw_bucket else {}
                self._store(bucket, key, path.read_bytes(), metadata)
        state_file = lake_dir / "state" / "state.json"
        if state_file.exists():
            items = json.loads(state_file.read_text())
            for start in range(0, len(items), 25):  # BatchWriteItem limit
                requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                while requests:
                    response = self.ddb.batch_write_item(RequestItems={self.state_table: requests})
                    requests = response.get("UnprocessedItems", {}).get(self.state_table, [])
        glue_file = lake_dir / "state" / "glue.json"
        if glue_file.exists():
            for table, partitions in json.loads(glue_file.read_text()).items():
                for start in range(0, len(partitions), 100):
                    self.glue.batch_create_partition(
                        DatabaseName=self.database, TableName=table, PartitionInputList=partitions[start : start + 100]
                    )

    def _bucket_objects(self, bucket: str) -> Iterator[dict[str, Any]]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            yield from page.get("Contents", [])

    def dump(self, lake_dir: Path) -> None:
        raw_metadata: dict[str, dict[str, str]] = {}
        for bucket, folder in ((self.lake_bucket, lake_dir / "lake"), (self.raw_bucket, lake_dir / "raw")):
            keep = set()
            for key, body, metadata in self._stored(bucket):
                target = folder / key
                keep.add(target)
                if bucket == self.raw_bucket and metadata:
                    raw_metadata[key] = metadata
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists() or target.stat().st_size != len(body) or target.read_bytes() != body:
                    target.write_bytes(body)
            if folder.exists():  # the bucket is the truth: objects deleted there are deleted here
                for path in [p for p in folder.rglob("*") if p.is_file() and p not in keep]:
                    path.unlink()
        state_dir = lake_dir / "state"
        state_dir.mkdir(parents=True, exist_ok=True)
        items = [
            i for page in self.ddb.get_paginator("scan").paginate(TableName=self.state_table) for i in page["Items"]
        ]
        items.sort(key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        (state_dir / "state.json").write_text(json.dumps(items, indent=1, sort_keys=True))
        (state_dir / "raw-metadata.json").write_text(json.dumps(raw_metadata, indent=1, sort_keys=True))
        partitions: dict[str, list[dict[str, Any]]] = {}
        for table in self.glue.get_tables(DatabaseName=self.database)["TableList"]:
            pages = self.glue.get_paginator("get_partitions").paginate(
                DatabaseName=self.database, TableName=table["Name"]
            )
            found = [
                {"Values": p["Values"], "StorageDescriptor": p["StorageDescriptor"]}
                for page in pages
                for p in page["Partitions"]
            ]
            if found:
                partitions[table["Name"]] = sorted(found, key=lambda p: p["Values"])
        (state_dir / "glue.json").write_text(json.dumps(partitions, indent=1, sort_keys=True, default=str))

    # -- functions ---------------------------------------------------------------------------------------
    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """Call the function's handler with the environment the template gives it, as a fresh invocation (or, on a
        warm stack, as the next invocation of the same container)."""
        os.environ.update(self.template.function_environment(FUNCTIONS[name]))
        if not (self.warm and name == self._invoked):
            _clear_caches()
        self._invoked = name
        if name not in self._handlers:
            self._handlers[name] = _load_handler(name, self.template.properties(FUNCTIONS[name])["CodeUri"])
        function_name = self.template.physical_name(FUNCTIONS[name])
        return self._handlers[name].lambda_handler(event, LambdaContext(function_name))

    @staticmethod
    def input_files(input_dir: Path) -> list[InputFile]:
        """Every file under input_dir (key = relative path) with its sidecar's user metadata, in key order."""
        files = []
        for path in sorted(p for p in input_dir.rglob("*") if p.is_file() and not p.name.endswith(SIDECAR_SUFFIX)):
            sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
            metadata = {}
            if sidecar.exists():
                metadata = {k: str(v) for k, v in json.loads(sidecar.read_text()).items() if v is not None}
            files.append(InputFile(path.relative_to(input_dir).as_posix(), path, metadata))
        return files

    def upload(self, files: list[InputFile]) -> None:
        for file in files:
            body = file.path.read_bytes()
            self.s3.put_object(Bucket=self.raw_bucket, Key=file.key, Body=body, Metadata=file.metadata)

    def upload_inputs(self, input_dir: Path) -> int:
        """Every file under input_dir to the raw bucket (key = relative path); sidecars become user metadata."""
        files = self.input_files(input_dir)
        self.upload(files)
        return len(files)

    def receive(self, visibility_timeout: int = 0) -> list[dict[str, Any]]:
        """Up to 10 messages of the IngestQueue. The event source mapping keeps polling through SQS throttling and
        5xx: so does this, up to RECEIVE_ATTEMPTS failed calls in a row."""
        for attempt in range(1, RECEIVE_ATTEMPTS + 1):
            try:
                return self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=visibility_timeout,
                    AttributeNames=["All"],
                    WaitTimeSeconds=0,
                ).get("Messages", [])
            except (ClientError, BotoCoreError):
                if attempt == RECEIVE_ATTEMPTS:
                    raise
        return []

    def deliver(self, messages: list[dict[str, Any]], *, retry_now: bool = False) -> tuple[int, int]:
        """One SQS-shaped batch to normalize, as the event source mapping hands it over; the records it reports
        done are deleted, the failed ones stay in the queue (made visible again at once with `retry_now`).
        Returns (delivered, failed); a record whose delete fails counts as failed: SQS delivers it again, and
        normalize recognises the duplicate (as in AWS)."""
        event = {"Records": [_sqs_record(m, self.template.get_att("IngestQueue", "Arn")) for m in messages]}
        response = self.invoke("normalize", event)
        failures = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failures]
        failed = len(messages) - len(done)
        if done:
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)]
            try:
                result = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
                not_deleted = len(result.get("Failed", []))
            except (ClientError, BotoCoreError):
                not_deleted = len(done)
            failed += not_deleted
        if retry_now and failures:
            again = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(messages)
                if m["MessageId"] in failures
            ]
            with contextlib.suppress(ClientError, BotoCoreError):  # visible again when their timeout ends
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=again)
        return len(messages) - failed, failed

    def drain_queue(self) -> dict[str, int]:
        """Deliver queued S3 notifications to normalize in SQS-shaped batches, as the event source mapping does,
        until the queue is empty (in this process; a failed record is visible again at once)."""
        delivered = failed = 0
        while messages := self.receive():
            done, not_done = self.deliver(messages)
            delivered, failed = delivered + done, failed + not_done
        return {"delivered": delivered, "failed": failed}

    def load(self, files: list[InputFile], workers: int) -> dict[str, Any]:
        """Upload `files` and deliver the queue's messages to normalize with `workers` processes, each a warm
        normalize container (module docstring). The files are put on moto's S3 backend by this process, with their
        notifications, as fast as the workers take the messages; through the API, an upload would cost this
        process more than the workers' GET of it. Needs `running(server=True)`."""
        from moto.sqs.models import sqs_backends

        context = multiprocessing.get_context("spawn")
        uploading = context.Value("i", 1)
        queued = sqs_backends[LOCAL_ACCOUNT][LOCAL_REGION].get_queue(self.queue_name)
        result: dict[str, Any] = {}

        def upload() -> None:
            try:
                for file in files:
                    while len(queued._messages) > QUEUED_PER_WORKER * workers:  # noqa: SLF001 - moto's queue
                        time.sleep(IDLE_POLL_S / 5)
                    self._store(self.raw_bucket, file.key, file.path.read_bytes(), file.metadata, notify=True)
            except BaseException as exc:  # noqa: BLE001 - raised again by load, once the workers are told
                result["error"] = exc
            finally:
                uploading.value = 0

        uploader = threading.Thread(target=upload, name="uploads", daemon=True)
        uploader.start()
        try:
            reports = _in_workers(_load_share, [(self.endpoint_url, self.template, uploading)] * workers)
        finally:
            uploading.value = 0
            uploader.join()
        if "error" in result:
            raise result["error"]
        return {
            "delivered": sum(r["delivered"] for r in reports),
            "failed": sum(r["failed"] for r in reports),
            "cpu_seconds": sum(r["cpu_seconds"] for r in reports),
        }

    def invoke_apart(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """invoke() of each (function, event) in one worker process, one after the other: the functions' own work
        does not share this process's core with moto's server. Needs `running(server=True)`."""
        (report,) = _in_workers(_invoke_share, [(self.endpoint_url, self.template, calls)])
        return report["results"]

    def dead_lettered_messages(self) -> int:
        url = self.sqs.get_queue_url(QueueName=self.dlq_name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": LOCAL_REGION,
    }


def _fake_environment() -> dict[str, str]:
    """Fake credentials that never reach AWS, and the Powertools settings of the functions."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "ProdLens",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def _serve() -> tuple[Any, str, threading.Lock]:
    """moto over HTTP on a free local port, answered by a thread of this process from the backends mock_aws uses."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class Dispatcher(DomainDispatcherApplication):
        """moto's dispatcher, answering one request at a time (moto's backends are not safe for concurrent
        requests: two ReceiveMessage calls could both take a message), and looking each host's backend up once
        (moto lists its own package folder to find it, on every request, which costs more than most requests)."""

        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self.hosts: dict[str | None, Any] = {}
            self.one_at_a_time = threading.Lock()

        def get_backend_for_host(self, host: str | None) -> Any:
            if host not in self.hosts:
                self.hosts[host] = super().get_backend_for_host(host)
            return self.hosts[host]

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            with self.one_at_a_time:
                return list(super().__call__(environ, start_response))

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    dispatcher = Dispatcher()
    server = make_server("127.0.0.1", 0, dispatcher, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", dispatcher.one_at_a_time


@contextmanager
def running(
    template_path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None, *, server: bool = False
) -> Iterator[LocalStack]:
    """A fresh moto world with the template's resources (`parameters` override the template's defaults), and fake
    credentials that never reach AWS. With `server`, moto also answers over HTTP at `stack.endpoint_url`, for
    worker processes (`LocalStack.load`, `LocalStack.invoke_apart`)."""
    saved = dict(os.environ)
    os.environ.update(_fake_environment())
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    http = None
    try:
        with mock_aws():
            stack = LocalStack(Template.from_file(template_path, dict(parameters or {})))
            stack.create_resources()
            if server:
                http, stack.endpoint_url, stack.moto_lock = _serve()
            yield stack
    finally:
        if http is not None:
            http.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        _clear_caches()


# -- worker processes (LocalStack.load, LocalStack.invoke_apart) ----------------------------------------------------
QUEUED_PER_WORKER = 20  # uploads wait while more messages than this per worker are queued: the queue stays short
VISIBILITY_S = 900  # a batch being delivered by one worker is invisible to the others
IDLE_POLL_S = 0.05  # a worker with an empty queue waits this long while others still upload


def _worker_stack(endpoint: str, template: Template) -> LocalStack:
    """This worker process's view of the stack: clients of moto over HTTP, warm functions. Function logs and
    metrics go to stderr (stdout is the command's one-line answer)."""
    os.dup2(2, 1)
    os.environ.update(_fake_environment())
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    stack = LocalStack(template, warm=True)
    stack.queue_url = stack.sqs.get_queue_url(QueueName=stack.queue_name)["QueueUrl"]
    return stack


def _load_share(endpoint: str, template: Template, uploading: Any, report: Any) -> None:
    """A worker of `load`: delivers batches until the queue is empty and nothing is being uploaded any more."""
    stack = _worker_stack(endpoint, template)
    delivered = failed = 0
    while True:
        messages = stack.receive(VISIBILITY_S)
        if messages:
            done, not_done = stack.deliver(messages, retry_now=True)
            delivered, failed = delivered + done, failed + not_done
        elif uploading.value:
            time.sleep(IDLE_POLL_S)
        else:
            break
    report.put({"delivered": delivered, "failed": failed, "cpu_seconds": time.process_time()})


def _invoke_share(endpoint: str, template: Template, calls: list[tuple[str, dict[str, Any]]], report: Any) -> None:
    """A worker of `invoke_apart`: the functions invoked one after the other."""
    stack = _worker_stack(endpoint, template)
    report.put({"results": [stack.invoke(name, event) for name, event in calls], "cpu_seconds": time.process_time()})


def _in_workers(target: Any, shares: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Run target(*share, report) in one spawned process per share; their reports (raises if one of them fails)."""
    context = multiprocessing.get_context("spawn")
    report = context.Queue()
    processes = [context.Process(target=target, args=(*share, report), daemon=True) for share in shares]
    for process in processes:
        process.start()
    reports: list[dict[str, Any]] = []
    try:
        while len(reports) < len(processes):
            try:
                reports.append(report.get(timeout=1))
            except queue.Empty:
                if any(process.exitcode not in (None, 0) for process in processes):
                    raise RuntimeError("a worker process of the local stack failed (its error is on stderr)") from None
    finally:
        for process in processes:
            if process.exitcode is None and len(reports) < len(processes):
                process.terminate()
            process.join()
    return reports


def run_pipeline(
    input_dir: Path, lake_dir: Path, template_path: Path = TEMPLATE_PATH, workers: int | None = None
) -> dict[str, Any]:
    """`prodlens pipeline`: restore DIR, upload inputs and deliver events (`workers` normalize processes, default
    one per core), run the schedules, save DIR."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    with running(template_path, server=True) as stack:
        stack.restore(lake_dir)
        stack.enable_notifications()
        files = stack.input_files(input_dir)
        started, cpu = time.perf_counter(), time.process_time()
        delivery = stack.load(files, max(1, workers or os.cpu_count() or 1))
        # upload + delivery until the queue is empty: wall time, and CPU of this process (moto) and the workers
        load = {
            "wall_seconds": round(time.perf_counter() - started, 3),
            "cpu_seconds": round(time.process_time() - cpu + delivery["cpu_seconds"], 3),
        }
        calls = [
            (name, (stack.template.schedule_inputs(FUNCTIONS[name]) or [{"job": name}])[0])
            for name in ("aggregate", "correlate")
        ]
        aggregate, correlate = stack.invoke_apart(calls)
        stack.dump(lake_dir)
        return {
            "uploaded": len(files),
            "delivered": delivery["delivered"],
            "failed_deliveries": delivery["failed"],
            "dead_lettered_messages": stack.dead_lettered_messages(),
            "load": load,
            "aggregate": _summary(aggregate),
            "correlate": _summary(correlate),
            "lake": str(lake_dir),
        }


def _summary(result: Any) -> Any:
    """A function's result without its per-item lists and maps, for the one-line pipeline summary."""
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if not isinstance(v, list | dict)}
    return result


def run_backfill(lake_dir: Path, start: str, end: str, template_path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """`prodlens aggregate --start --end`: the aggregate function's backfill event on the local lake."""
    with running(template_path) as stack:
        stack.restore(lake_dir)
        result = stack.invoke("aggregate", {"job": "aggregate", "backfill": {"start": start, "end": end}})
        stack.dump(lake_dir)
        return result


def run_status(lake_dir: Path, template_path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """`prodlens status`: what an operator sees in the state table and the lake."""
    from prodlens.adapters.s3_store import S3ObjectStore
    from prodlens.adapters.state_table import DynamoStateStore
    from prodlens.services.aggregate import status

    with running(template_path) as stack:
        stack.restore(lake_dir)
        return status(DynamoStateStore(stack.state_table), S3ObjectStore(stack.lake_bucket))
