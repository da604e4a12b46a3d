"""Where things live in the lake bucket: Hive-style partition paths and deterministic object keys.

A partition value is escaped the way Hive (and so Athena and DuckDB) does, so `acme/api` becomes
`repo=acme%2Fapi`. Object names derive from the source object, so a redelivered or re-uploaded
source overwrites its own output instead of adding a copy.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote

from prodlens.schema import TABLES

# Characters Hive escapes in partition values (FileUtils.escapePathName): '/', '=', '%', ':', '#', ...
_SAFE = "-_.~ "


def escape_partition_value(value: str) -> str:
    return quote(value, safe=_SAFE)


def unescape_partition_value(value: str) -> str:
    return unquote(value)


def source_id(source_key: str) -> str:
    """A short stable id for a raw object key; output objects of that source are named after it."""
    return hashlib.sha256(source_key.encode("utf-8")).hexdigest()[:24]


def table_prefix(table: str) -> str:
    return f"{table}/"


def partition_prefix(table: str, partition: dict[str, str]) -> str:
    keys = TABLES[table].partition_keys
    if set(partition) != set(keys):
        raise ValueError(f"{table} is partitioned by {keys}, got {sorted(partition)}")
    parts = "".join(f"{k}={escape_partition_value(partition[k])}/" for k in keys)
    return f"{table}/{parts}"


def object_key(table: str, partition: dict[str, str], name: str) -> str:
    return f"{partition_prefix(table, partition)}{name}.parquet"


def parse_partition(table: str, key: str) -> dict[str, str]:
    """The partition values encoded in an object key of `table` (inverse of partition_prefix)."""
    keys = TABLES[table].partition_keys
    segments = key[len(table_prefix(table)) :].split("/")
    values = {}
    for segment in segments[: len(keys)]:
        name, _, value = segment.partition("=")
        values[name] = unescape_partition_value(value)
    if list(values) != list(keys):
        raise ValueError(f"{key!r} is not a partition path of {table}")
    return values
