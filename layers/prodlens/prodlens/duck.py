"""DuckDB helpers every domain shares: SQL quoting, schema-typed column lists, and Python rows to Parquet.

One place decides how a lake table's current definition is applied to files of any age: each column is
cast to its declared type, and a column an older file lacks reads as NULL (columns are only ever added,
nullable, and always read by name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import orjson

from prodlens.schema import Table


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | Path) -> str:
    """A quoted SQL string literal (paths included)."""
    return "'" + str(value).replace("'", "''") + "'"


def typed_select(columns: Iterable[tuple[str, str]], present: set[str] | None = None, source: str = "") -> str:
    """`CAST(col AS type) AS col, ...` for (name, DuckDB type) pairs; names not in `present` become typed NULLs.

    `present=None` means every column exists; `source` qualifies the column references (e.g. `t.`).
    """
    return ", ".join(
        f"CAST({source}{ident(name)} AS {kind}) AS {ident(name)}"
        if present is None or name in present
        else f"CAST(NULL AS {kind}) AS {ident(name)}"
        for name, kind in columns
    )


class NdjsonSink:
    """Appends dict rows to an NDJSON file (orjson; datetimes as ISO) so DuckDB can load them in one scan.

    The file is created by the first row: a sink that stays empty costs no file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file: BinaryIO | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("wb")
        self._file.write(orjson.dumps(row, option=orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()


def load_ndjson(con: duckdb.DuckDBPyConnection, name: str, path: Path, columns: dict[str, str]) -> None:
    """Create temp table `name` with exactly `columns` (in order) from an NDJSON file."""
    spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    select = typed_select(columns.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident(name)} AS SELECT {select} FROM read_json({literal(path)}, "
        f"format='newline_delimited', columns={spec})"
        if path.exists() and path.stat().st_size
        else f"CREATE OR REPLACE TEMP TABLE {ident(name)} AS SELECT {select} FROM "
        f"(SELECT {', '.join(f'NULL AS {ident(k)}' for k in columns)}) WHERE false"
    )


def write_rows(table: Table, rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write `rows` (dicts keyed by column name; missing keys are NULL) to `path`; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".ndjson")
    sink = NdjsonSink(staging)
    try:
        for row in rows:
            sink.add(row)
    finally:
        sink.close()
    con = duckdb.connect()
    try:
        load_ndjson(con, "rows", staging, table.duckdb_columns())
        con.execute(f"COPY rows TO {literal(path)} (FORMAT PARQUET, COMPRESSION ZSTD)")
    finally:
        con.close()
        staging.unlink(missing_ok=True)
    return sink.count
