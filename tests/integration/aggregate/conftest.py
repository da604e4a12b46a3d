"""Moto fixtures for the aggregate handler: lake and raw buckets, state table (keys from template.yaml), Glue tables."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import pytest
from prodlens.schema import DUCKDB_TYPES, TABLES

from tests.conftest import REGION, STATE_TABLE

LAKE_BUCKET = "prodlens-lake-test"
RAW_BUCKET = "prodlens-raw-test"  # aggregate reads config/people.json there
GLUE_DATABASE = "prodlens_test"


@pytest.fixture
def aws(aws, monkeypatch):
    """The shared moto fixture plus the aggregate function's settings."""
    for name, value in {
        "RAW_BUCKET": RAW_BUCKET,
        "LAKE_BUCKET": LAKE_BUCKET,
        "STATE_TABLE": STATE_TABLE,
        "GLUE_DATABASE": GLUE_DATABASE,
    }.items():
        monkeypatch.setenv(name, value)
    return aws


@pytest.fixture
def lake_bucket(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=LAKE_BUCKET)
    s3.create_bucket(Bucket=RAW_BUCKET)
    return s3


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
