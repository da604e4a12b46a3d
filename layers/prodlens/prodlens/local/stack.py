"""The embedded stack: moto in-process, resources created from template.yaml, the real handlers invoked.

The local `--lake DIR` is the whole state between runs:
  DIR/lake/...            the lake bucket, object for object
  DIR/raw/...             the raw bucket (so the scheduled sweep and replays work as in AWS)
  DIR/state/state.json    the DynamoDB state table items (checkpoints, dirty days, processed objects)
  DIR/state/glue.json     the Glue partitions registered so far
"""

from __future__ import annotations

import importlib.util
import json
import os
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

from prodlens.local.template import LOCAL_REGION, Template

REPO_ROOT = Path(__file__).resolve().parents[4]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
SIDECAR_SUFFIX = ".meta.json"
RECEIVE_ATTEMPTS = 10  # consecutive failed ReceiveMessage calls before drain_queue gives up
FUNCTIONS = {
    "normalize": "NormalizeFunction",
    "aggregate": "AggregateFunction",
    "correlate": "CorrelateFunction",
    "github_sync": "GitHubSyncFunction",
    "copilot_sync": "CopilotSyncFunction",
    "claude_code_sync": "ClaudeCodeSyncFunction",
}


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

    def __init__(self, template: Template) -> None:
        self.template = template
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
    def restore(self, lake_dir: Path) -> None:
        meta_path = lake_dir / "state" / "raw-metadata.json"
        raw_metadata = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        for bucket, folder in ((self.lake_bucket, lake_dir / "lake"), (self.raw_bucket, lake_dir / "raw")):
            for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []:
                key = path.relative_to(folder).as_posix()
                metadata = raw_metadata.get(key, {}) if bucket == self.raw_bucket else {}
                self.s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), Metadata=metadata)
        state_file = lake_dir / "state" / "state.json"
        if state_file.exists():
            for item in json.loads(state_file.read_text()):
                self.ddb.put_item(TableName=self.state_table, Item=item)
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
            for obj in self._bucket_objects(bucket):
                target = folder / obj["Key"]
                keep.add(target)
                response = self.s3.get_object(Bucket=bucket, Key=obj["Key"])
                if bucket == self.raw_bucket and response.get("Metadata"):
                    raw_metadata[obj["Key"]] = response["Metadata"]
                target.parent.mkdir(parents=True, exist_ok=True)
                body = response["Body"].read()
                if not target.exists() or target.read_bytes() != body:
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
        """Call the function's handler with the environment the template gives it, as a fresh invocation."""
        os.environ.update(self.template.function_environment(FUNCTIONS[name]))
        _clear_caches()
        if name not in self._handlers:
            self._handlers[name] = _load_handler(name, self.template.properties(FUNCTIONS[name])["CodeUri"])
        function_name = self.template.physical_name(FUNCTIONS[name])
        return self._handlers[name].lambda_handler(event, LambdaContext(function_name))

    def upload_inputs(self, input_dir: Path) -> int:
        """Every file under input_dir to the raw bucket (key = relative path); sidecars become user metadata."""
        count = 0
        for path in sorted(p for p in input_dir.rglob("*") if p.is_file() and not p.name.endswith(SIDECAR_SUFFIX)):
            sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
            metadata = {}
            if sidecar.exists():
                metadata = {k: str(v) for k, v in json.loads(sidecar.read_text()).items() if v is not None}
            self.s3.put_object(
                Bucket=self.raw_bucket,
                Key=path.relative_to(input_dir).as_posix(),
                Body=path.read_bytes(),
                Metadata=metadata,
            )
            count += 1
        return count

    def drain_queue(self) -> dict[str, int]:
        """Deliver queued S3 notifications to normalize in SQS-shaped batches, as the event source mapping does."""
        delivered = failed = receive_errors = 0
        while True:
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=0,
                    AttributeNames=["All"],
                    WaitTimeSeconds=0,
                ).get("Messages", [])
            except (ClientError, BotoCoreError):
                # The event source mapping keeps polling through SQS throttling and 5xx: so does this loop.
                receive_errors += 1
                if receive_errors >= RECEIVE_ATTEMPTS:
                    raise
                continue
            receive_errors = 0
            if not messages:
                return {"delivered": delivered, "failed": failed}
            event = {"Records": [_sqs_record(m, self.template.get_att("IngestQueue", "Arn")) for m in messages]}
            response = self.invoke("normalize", event)
            failures = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] in failures:
                    failed += 1
                    continue
                try:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                except (ClientError, BotoCoreError):
                    # Not deleted: SQS delivers it again, and normalize recognises the duplicate (as in AWS).
                    failed += 1
                    continue
                delivered += 1

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


@contextmanager
def running(template_path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None) -> Iterator[LocalStack]:
    """A fresh moto world with the template's resources (`parameters` override the template's defaults), and fake
    credentials that never reach AWS."""
    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "ProdLens",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    saved = dict(os.environ)
    os.environ.update(fake)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    try:
        with mock_aws():
            stack = LocalStack(Template.from_file(template_path, dict(parameters or {})))
            stack.create_resources()
            yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _clear_caches()


def run_pipeline(input_dir: Path, lake_dir: Path, template_path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """`prodlens pipeline`: restore DIR, upload inputs, deliver events, run the schedules, save DIR."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    with running(template_path) as stack:
        stack.restore(lake_dir)
        stack.enable_notifications()
        uploaded = stack.upload_inputs(input_dir)
        delivery = stack.drain_queue()
        results: dict[str, Any] = {}
        for name in ("aggregate", "correlate"):
            payloads = stack.template.schedule_inputs(FUNCTIONS[name]) or [{"job": name}]
            results[name] = stack.invoke(name, payloads[0])
        stack.dump(lake_dir)
        return {
            "uploaded": uploaded,
            "delivered": delivery["delivered"],
            "failed_deliveries": delivery["failed"],
            "dead_lettered_messages": stack.dead_lettered_messages(),
            "aggregate": _summary(results["aggregate"]),
            "correlate": _summary(results["correlate"]),
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
