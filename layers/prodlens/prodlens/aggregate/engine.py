"""DuckDB plumbing for the aggregate domain: read partition files by column name, write schema-typed Parquet.

Partition values live in object keys, not in the files, so every input file comes with its partition
(PartitionFile). Files are read with union_by_name: an object written before a column was added simply
has that column NULL (columns are only ever added, nullable, and always read by name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from prodlens.duck import ident, literal, typed_select
from prodlens.schema import DUCKDB_TYPES, Table


@dataclass(frozen=True)
class PartitionFile:
    """A local copy of one lake object and the partition values encoded in its key."""

    path: Path
    partition: dict[str, str] = field(default_factory=dict)


def connect(spill_dir: Path, threads: int = 2, memory_limit: str = "1GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to `spill_dir` (Lambda's working directory is read-only; /tmp is not)."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET temp_directory = ?", [str(spill_dir)])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # on by default; a Lambda has no terminal to draw it on
    return con


def _columns_with_partitions(table: Table) -> list[tuple[str, str]]:
    data = {name for name, _ in table.columns}
    extra = [(k, "string") for k in table.partition_keys if k not in data]
    return list(table.columns) + extra


def load_table(con: duckdb.DuckDBPyConnection, name: str, table: Table, files: Sequence[PartitionFile]) -> int:
    """Create temp table `name` holding every row of `files`, typed as `table`'s current definition.

    Columns missing from every file (an older schema) are NULL; partition columns come from the keys.
    Returns the row count.
    """
    columns = _columns_with_partitions(table)
    ddl = ", ".join(f"{ident(c)} {DUCKDB_TYPES[t]}" for c, t in columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(name)} ({ddl})")
    if not files:
        return 0
    paths = [str(f.path) for f in files]
    file_table = ident(f"_files_{name}")
    keys = list(table.partition_keys)
    key_ddl = "".join(f", {ident(k)} VARCHAR" for k in keys)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {file_table} (filename VARCHAR{key_ddl})")
    con.executemany(
        f"INSERT INTO {file_table} VALUES (?{', ?' * len(keys)})",
        [[str(f.path), *(f.partition[k] for k in keys)] for f in files],
    )
    present = {
        row[0]
        for row in con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true, hive_partitioning = false)", [paths]
        ).fetchall()
    }
    # Partition values come from the file's key (f), data columns from the file itself (t), in table order.
    select = [
        typed_select([(c, DUCKDB_TYPES[t])], None, source="f.") if c in keys
        else typed_select([(c, DUCKDB_TYPES[t])], present, source="t.")
        for c, t in columns
    ]
    con.execute(
        f"INSERT INTO {ident(name)} SELECT {', '.join(select)} "
        f"FROM read_parquet(?, union_by_name = true, filename = true, hive_partitioning = false) AS t "
        f"JOIN {file_table} AS f ON f.filename = t.filename",
        [paths],
    )
    con.execute(f"DROP TABLE {file_table}")
    return con.execute(f"SELECT count(*) FROM {ident(name)}").fetchone()[0]


def write_parquet(
    con: duckdb.DuckDBPyConnection,
    source: str,
    table: Table,
    path: Path,
    where: str = "",
    params: dict[str, Any] | None = None,
    order_by: Sequence[str] = (),
) -> int:
    """Write the data columns of `table` (cast to their exact types) from temp table `source` to `path`.

    `where` is a SQL predicate over `source` with named parameters from `params`. Returns rows written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = typed_select(table.duckdb_columns().items())
    query = f"SELECT {cols} FROM {ident(source)}"
    if where:
        query += f" WHERE {where}"
    if order_by:
        query += " ORDER BY " + ", ".join(ident(c) for c in order_by)
    con.execute(f"COPY ({query}) TO {literal(str(path))} (FORMAT parquet)", params or {})
    count_query = f"SELECT count(*) FROM {ident(source)}" + (f" WHERE {where}" if where else "")
    return con.execute(count_query, params or {}).fetchone()[0]
