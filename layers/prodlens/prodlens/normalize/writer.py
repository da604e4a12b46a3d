"""Writing lake files: python rows via NDJSON into DuckDB, then `COPY ... (FORMAT PARQUET)` per partition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson

from prodlens.lake import escape_partition_value
from prodlens.models import TableFile
from prodlens.schema import Table


class NdjsonSink:
    """Appends dict rows to an NDJSON file (orjson; datetimes as ISO) so DuckDB can load them in one scan."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file = path.open("wb")

    def add(self, row: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(row, option=orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_ndjson(con: duckdb.DuckDBPyConnection, name: str, path: Path, columns: dict[str, str]) -> None:
    """Create temp table `name` with exactly `columns` (in order) from an NDJSON file."""
    spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    select = ", ".join(f"CAST({_ident(k)} AS {v}) AS {_ident(k)}" for k, v in columns.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_ident(name)} AS SELECT {select} FROM read_json({_quote(path)}, "
        f"format='newline_delimited', columns={spec})"
        if path.stat().st_size
        else f"CREATE OR REPLACE TEMP TABLE {_ident(name)} AS SELECT {select} FROM "
        f"(SELECT {', '.join(f'NULL AS {_ident(k)}' for k in columns)}) WHERE false"
    )


def write_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    relation: str,
    out_dir: Path,
    name: str,
    order_by: tuple[str, ...] = (),
    groups: list[tuple] | None = None,
) -> list[TableFile]:
    """COPY `relation` (a temp table holding the table's data columns and partition columns) to Parquet.

    One file per partition under out_dir/<table>/<k>=<v>/..., with exactly the table's data columns and
    types; returns one TableFile per partition (nothing when the relation is empty).
    """
    cols = table.duckdb_columns()
    keys = table.partition_keys
    select = ", ".join(f"CAST({_ident(c)} AS {t}) AS {_ident(c)}" for c, t in cols.items())
    # Without order_by, rows keep insertion order (callers set preserve_insertion_order and one thread).
    order = f" ORDER BY {', '.join(_ident(c) for c in (*keys, *order_by))}" if order_by else ""
    base = out_dir / table.name
    if not keys:
        (n,) = con.execute(f"SELECT count(*) FROM {_ident(relation)}").fetchone()  # type: ignore[misc]
        if not n:
            return []
        base.mkdir(parents=True, exist_ok=True)
        target = base / f"{name}.parquet"
        con.execute(f"COPY (SELECT {select} FROM {_ident(relation)}{order}) TO {_quote(target)} (FORMAT PARQUET)")
        return [TableFile(table.name, {}, target, int(n))]
    if groups is None:  # (partition values..., rows), unless the caller knows them already
        groups = con.execute(
            f"SELECT {', '.join(_ident(k) for k in keys)}, count(*) FROM {_ident(relation)} GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    if not groups:
        return []
    key_list = ", ".join(_ident(k) for k in keys)
    con.execute(
        f"COPY (SELECT {select}, {key_list} FROM {_ident(relation)}{order}) TO {_quote(base)} "
        f"(FORMAT PARQUET, PARTITION_BY ({key_list}), FILENAME_PATTERN '{name}_{{i}}', OVERWRITE_OR_IGNORE true)"
    )
    files = []
    for *values, n in groups:
        partition = dict(zip(keys, (str(v) for v in values), strict=True))
        folder = base.joinpath(*(f"{k}={escape_partition_value(v)}" for k, v in partition.items()))
        found = sorted(folder.glob(f"{name}_*.parquet"))
        if len(found) != 1:
            raise RuntimeError(f"expected one file in {folder}, found {len(found)}")
        files.append(TableFile(table.name, partition, found[0], int(n)))
    return files
