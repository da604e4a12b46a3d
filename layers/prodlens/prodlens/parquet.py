"""Write Python rows to a Parquet file with a lake table's exact column names and types (via DuckDB)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from prodlens.schema import Table


def write_rows(table: Table, rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write `rows` (dicts keyed by column name; missing keys are NULL) to `path`; returns the row count."""
    columns = table.duckdb_columns()
    names = list(columns)
    values = [tuple(row.get(name) for name in names) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t (" + ", ".join(f'"{n}" {kind}' for n, kind in columns.items()) + ")")
        if values:
            con.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in names)})", values)
        con.execute(f"COPY t TO '{path.as_posix()}' (FORMAT PARQUET, COMPRESSION ZSTD)")
    finally:
        con.close()
    return len(values)
