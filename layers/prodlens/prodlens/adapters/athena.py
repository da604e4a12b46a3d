"""Run a statement on real Athena (for `prodlens query --athena`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import boto3

from prodlens.errors import ProdLensError

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient


def run_athena_query(
    sql: str,
    *,
    workgroup: str,
    database: str,
    client: AthenaClient | None = None,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 300,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    athena = client or boto3.client("athena")
    execution_id = athena.start_query_execution(
        QueryString=sql, WorkGroup=workgroup, QueryExecutionContext={"Database": database}
    )["QueryExecutionId"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            break
        if status["State"] in {"FAILED", "CANCELLED"}:
            raise ProdLensError(f"Athena query {status['State']}: {status.get('StateChangeReason', '')}")
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=execution_id)
            raise ProdLensError(f"Athena query {execution_id} still running after {timeout_seconds}s; stopped")
        time.sleep(poll_seconds)
    names: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        result_rows = page["ResultSet"]["Rows"]
        if not names:
            names = [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
            result_rows = result_rows[1:]  # the first row of the first page repeats the header
        rows.extend(tuple(d.get("VarCharValue") for d in r["Data"]) for r in result_rows)
    return names, rows
