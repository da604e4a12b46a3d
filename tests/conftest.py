"""Fixtures every suite shares: fake AWS credentials under moto, the state table as template.yaml declares it,
and the fault suite's ledger.

The ledger: every fault test adds what it did (events redelivered, crashes injected, hostile inputs tried,
rows lost, ...) and the run ends with one table of the totals, so CI output shows what was proven. Under
pytest-xdist each worker hands its ledger to the controller when it finishes.
"""

from __future__ import annotations

import json
from collections import Counter
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


_LEDGER: Counter[str] = Counter()


@pytest.fixture
def ledger() -> Counter[str]:
    """Add counts with `ledger["crashes injected"] += 1`; `rows lost` and `rows doubled` are always printed, and
    must read 0."""
    return _LEDGER


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: send the ledger to the controller
        workeroutput["fault_ledger"] = json.dumps(_LEDGER)


def pytest_testnodedown(node, error):  # xdist controller: a worker finished
    _LEDGER.update(json.loads(getattr(node, "workeroutput", {}).get("fault_ledger", "{}")))


def pytest_terminal_summary(terminalreporter):
    if not _LEDGER:
        return
    terminalreporter.section("fault suite ledger")
    _LEDGER.setdefault("rows lost", 0)
    _LEDGER.setdefault("rows doubled", 0)
    for name, value in sorted(_LEDGER.items()):
        terminalreporter.write_line(f"{name:<44} {value:>8}")
