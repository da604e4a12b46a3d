"""Fixtures every suite shares: fake AWS credentials under moto, and the state table as template.yaml declares it."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from prodlens.local.template import Template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
STATE_TABLE = "prodlens-state-test"


@pytest.fixture
def aws(monkeypatch):
    """moto for every boto3 client created inside the test; credentials that could never reach AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "ProdLens",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def state_table(aws):
    """The state table with the key schema of template.yaml's StateTable, so tests follow the deployed table."""
    props = Template.from_file(TEMPLATE).properties("StateTable")
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=STATE_TABLE,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb
