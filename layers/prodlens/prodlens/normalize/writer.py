"""Writing lake files: a DuckDB relation to `COPY ... (FORMAT PARQUET)`, one file per partition."""

from __future__ import annotations

from pathlib import Path

import duckdb

from prodlens.duck import ident, literal, typed_select
from prodlens.lake import partition_prefix
from prodlens.models import TableFile
from prodlens.schema import Table


def write_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    relation: str,
    out_dir: Path,
    name: str,
    order_by: tuple[str, ...] = (),
    groups: list[tuple] | None = None,
    ranges: tuple[str, list[tuple[int, int]]] | None = None,
) -> list[TableFile]:
    """COPY `relation` (a temp table holding the table's data columns and partition columns) to Parquet.

    One file per partition under out_dir/<table>/<k>=<v>/..., with exactly the table's data columns and
    types; returns one TableFile per partition (nothing when the relation is empty). `groups` are the
    (partition values..., rows) when the caller knows them already.

    `ranges` = (column, [(low, high) per group]) says that each partition's rows, and only they, have that
    column between low and high (a chronological log of one repo, say): each partition is then a range scan
    and a plain COPY, cheaper than DuckDB's PARTITION_BY, which shuffles every row.
    """
    cols = table.duckdb_columns()
    keys = table.partition_keys
    select = typed_select(cols.items())
    # Without order_by, rows keep insertion order (callers set preserve_insertion_order and one thread).
    order = f" ORDER BY {', '.join(ident(c) for c in (*keys, *order_by))}" if order_by else ""
    base = out_dir / table.name
    if not keys:
        (n,) = con.execute(f"SELECT count(*) FROM {ident(relation)}").fetchone()  # type: ignore[misc]
        if not n:
            return []
        base.mkdir(parents=True, exist_ok=True)
        target = base / f"{name}.parquet"
        con.execute(f"COPY (SELECT {select} FROM {ident(relation)}{order}) TO {literal(target)} (FORMAT PARQUET)")
        return [TableFile(table.name, {}, target, int(n))]
    if groups is None:  # one COPY, which reports the partitions it wrote
        select = f"SELECT {select}, {', '.join(ident(k) for k in keys)} FROM {ident(relation)}{order}"
        return write_partitioned(con, table, select, out_dir, name)
    if not groups:
        return []
    if len(groups) == 1 or ranges is not None:  # one plain COPY per partition
        column, bounds = ranges or ("", [None])
        files = []
        for (*values, n), bound in zip(groups, bounds, strict=True):
            partition = dict(zip(keys, (str(v) for v in values), strict=True))
            target = _partition_folder(out_dir, table, partition) / f"{name}_0.parquet"
            where = f" WHERE {ident(column)} BETWEEN {int(bound[0])} AND {int(bound[1])}" if bound else ""
            (written,) = con.execute(
                f"COPY (SELECT {select} FROM {ident(relation)}{where}{order}) TO {literal(target)} (FORMAT PARQUET)"
            ).fetchone()  # type: ignore[misc]
            if written != n:
                raise RuntimeError(f"partition {partition} of {relation}: wrote {written} rows, expected {n}")
            files.append(TableFile(table.name, partition, target, int(n)))
        return files
    select = f"SELECT {select}, {', '.join(ident(k) for k in keys)} FROM {ident(relation)}{order}"
    files = write_partitioned(con, table, select, out_dir, name)
    expected = {tuple(str(v) for v in values): n for *values, n in groups}
    found = {tuple(f.partition[k] for k in keys): f.rows for f in files}
    if found != expected:
        raise RuntimeError(f"{relation}: wrote partitions {found}, expected {expected}")
    return files


def write_partitioned(
    con: duckdb.DuckDBPyConnection, table: Table, select: str, out_dir: Path, name: str
) -> list[TableFile]:
    """COPY `select` (the table's data columns, then its partition columns) to one Parquet file per partition under
    out_dir/<table>/ (copy_partitioned). Returns the files in partition order."""
    found = copy_partitioned(con, select, out_dir / table.name, table.partition_keys, name)
    return [TableFile(table.name, partition, path, rows) for partition, path, rows in found]


def copy_partitioned(
    con: duckdb.DuckDBPyConnection, select: str, target: Path, keys: tuple[str, ...], name: str
) -> list[tuple[dict[str, str], Path, int]]:
    """COPY `select` (data columns, then the `keys` columns) to one Parquet file per value of `keys` under `target`,
    in one statement: DuckDB's PARTITION_BY reports the partition and row count of each file it wrote
    (RETURN_STATS), so nothing is counted or listed beforehand. Returns (partition, file, rows) in partition order;
    the files hold the data columns only."""
    key_list = ", ".join(ident(k) for k in keys)
    target.parent.mkdir(parents=True, exist_ok=True)
    cursor = con.execute(
        f"COPY ({select}) TO {literal(target)} (FORMAT PARQUET, PARTITION_BY ({key_list}), "
        f"FILENAME_PATTERN '{name}_{{i}}', OVERWRITE_OR_IGNORE true, RETURN_STATS)"
    )
    columns = [column[0] for column in cursor.description or ()]
    found = []
    for row in cursor.fetchall():
        stats = dict(zip(columns, row, strict=True))
        partition = {k: str(stats["partition_keys"][k]) for k in keys}
        found.append((partition, Path(stats["filename"]), int(stats["count"])))
    if len({tuple(partition.values()) for partition, _, _ in found}) != len(found):
        raise RuntimeError(f"{target}: more than one file for a partition")
    return sorted(found, key=lambda item: tuple(item[0][k] for k in keys))


def _partition_folder(out_dir: Path, table: Table, partition: dict[str, str]) -> Path:
    """The partition's folder under out_dir, laid out as its lake prefix (Hive-escaped values)."""
    folder = out_dir / partition_prefix(table.name, partition)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def record_ids(path: Path, column: str) -> frozenset[str]:
    """The distinct non-null values of `column` in one Parquet file (the records an output object holds)."""
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT DISTINCT {ident(column)} FROM read_parquet({literal(path)}) WHERE {ident(column)} IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    return frozenset(str(row[0]) for row in rows)
