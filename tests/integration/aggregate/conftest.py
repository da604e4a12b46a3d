"""Moto fixtures for the aggregate handler: lake bucket, state table (keys from template.yaml), Glue tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws
from prodlens.schema import DUCKDB_TYPES, TABLES

LAKE_BUCKET = "prodlens-lake-test"
STATE_TABLE = "prodlens-state-test"
GLUE_DATABASE = "prodlens_test"
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[3]


class _CfnLoader(yaml.SafeLoader):
    """Loads template.yaml, tolerating CloudFormation short-form tags (!Ref, !Sub, ...)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "ProdLens",
        "RAW_BUCKET": "prodlens-raw-test",
        "LAKE_BUCKET": LAKE_BUCKET,
        "STATE_TABLE": STATE_TABLE,
        "GLUE_DATABASE": GLUE_DATABASE,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def lake_bucket(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=LAKE_BUCKET)
    return s3


@pytest.fixture
def state_table(aws):
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    props = template["Resources"]["StateTable"]["Properties"]
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=STATE_TABLE,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


@pytest.fixture
def glue(aws):
    client = boto3.client("glue", region_name=REGION)
    client.create_database(DatabaseInput={"Name": GLUE_DATABASE})
    for name, table in TABLES.items():
        client.create_table(
            DatabaseName=GLUE_DATABASE,
            TableInput={
                "Name": name,
                "PartitionKeys": [{"Name": k, "Type": "string"} for k in table.partition_keys],
                "StorageDescriptor": {
                    "Columns": [{"Name": c, "Type": t} for c, t in table.columns if t in DUCKDB_TYPES],
                    "Location": f"s3://{LAKE_BUCKET}/{name}/",
                },
            },
        )
    return client


@dataclass
class FakeContext:
    function_name: str = "aggregate"
    memory_limit_in_mb: int = 2048
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:aggregate"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def handler(lake_bucket, state_table, glue):
    from prodlens.adapters.factory import lake_adapters
    from prodlens.config import get_settings

    from functions.aggregate import app

    get_settings.cache_clear()
    lake_adapters.cache_clear()
    yield lambda event: app.lambda_handler(event, FakeContext())
    get_settings.cache_clear()
    lake_adapters.cache_clear()
