"""Reading normalize outputs back with DuckDB (shared by the normalize tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from prodlens.models import NormalizeOutput

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "traces"


def read_table(output: NormalizeOutput, table: str, order: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for table_file in output.files:
        if table_file.table != table:
            continue
        relation = duckdb.sql(f"SELECT * FROM read_parquet('{table_file.path}', hive_partitioning=false)")
        for values in relation.fetchall():
            row = dict(zip(relation.columns, values, strict=True))
            row.update(table_file.partition)
            rows.append(row)
    if order:
        rows.sort(key=lambda r: tuple("" if r[k] is None else r[k] for k in order.split(",")))
    return rows


def traces(output: NormalizeOutput, order: str = "ts,record_id") -> list[dict[str, Any]]:
    return read_table(output, "traces", order)


def dead_letters(output: NormalizeOutput) -> list[dict[str, Any]]:
    return read_table(output, "dead_letters", "line_number,reason")
