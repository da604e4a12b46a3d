"""DuckDB views over a lake directory, one per table, typed as the Glue tables declare.

Functions use it on the objects they download; `prodlens query` uses it on the local lake, after sqlglot
has transpiled the Athena (Trino) statement to DuckDB.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from prodlens.duck import literal, typed_select
from prodlens.schema import DUCKDB_TYPES, TABLES, Table

NAMED_QUERIES_DIR = Path(__file__).resolve().parent / "sql"


def transpile(sql: str) -> str:
    """Athena (Trino) → DuckDB. Raises sqlglot.errors.ParseError on invalid Athena SQL."""
    import sqlglot  # a development dependency: functions run DuckDB SQL and never need it

    return ";\n".join(sqlglot.transpile(sql, read="athena", write="duckdb"))


def _view_sql(table: Table, root: Path, present: set[str] | None) -> str:
    """SELECT that gives `table` its declared columns, types and order, whatever the age of each object.

    Objects written before a column existed lack it: they are read by column name (union_by_name) and the
    missing column is NULL, as Athena does for Parquet.
    """
    partition_types = dict.fromkeys(table.partition_keys, "VARCHAR")
    columns = [(name, DUCKDB_TYPES[kind]) for name, kind in table.columns] + list(partition_types.items())
    if present is None:
        return f"SELECT {typed_select(columns, set())} WHERE false"
    select = typed_select(columns, present)
    hive_types = "{" + ", ".join(f"'{k}': 'VARCHAR'" for k in partition_types) + "}"
    hive = f"hive_partitioning = true, hive_types = {hive_types}" if partition_types else "hive_partitioning = false"
    source = f"read_parquet({literal(root.as_posix() + '/**/*.parquet')}, union_by_name = true, {hive})"
    return f"SELECT {select} FROM {source}"


class LocalEngine:
    """A DuckDB connection with one view per lake table over `lake_dir/<table>/`."""

    def __init__(self, lake_dir: Path, threads: int | None = None) -> None:
        self.lake_dir = lake_dir
        self.con = duckdb.connect()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        for table in TABLES.values():
            root = lake_dir / table.name
            present = None
            if root.exists() and any(root.rglob("*.parquet")):
                present = set(self._columns_in_files(root, table))
            self.con.execute(f"CREATE OR REPLACE VIEW {table.name} AS {_view_sql(table, root, present)}")

    def _columns_in_files(self, root: Path, table: Table) -> list[str]:
        hive = "true" if table.partition_keys else "false"
        rows = self.con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({literal(root.as_posix() + '/**/*.parquet')}, union_by_name = true, "
            f"hive_partitioning = {hive})"
        ).fetchall()
        return [row[0] for row in rows]

    def execute(self, sql: str, dialect: str = "athena") -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.con.execute(transpile(sql) if dialect == "athena" else sql)
        names = [d[0] for d in cursor.description or []]
        return names, cursor.fetchall()

    def query_dicts(self, sql: str, dialect: str = "athena") -> list[dict[str, Any]]:
        names, rows = self.execute(sql, dialect)
        return [dict(zip(names, row, strict=True)) for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def format_csv(names: list[str], rows: list[tuple[Any, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])
    return out.getvalue()


def format_json_lines(names: list[str], rows: list[tuple[Any, ...]]) -> str:
    return "".join(json.dumps({n: _plain(v) for n, v in zip(names, row, strict=True)}) + "\n" for row in rows)


def named_query(name: str) -> str:
    return (NAMED_QUERIES_DIR / f"{name}.sql").read_text()
