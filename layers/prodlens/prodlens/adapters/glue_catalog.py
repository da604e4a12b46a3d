"""The Glue catalog: registers the partitions that the functions write, so Athena sees them, and deregisters
partitions left without objects (aggregate only: see docs/architecture.md, "Stale partitions")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from prodlens.adapters.aws_errors import error_for_code, translate
from prodlens.lake import partition_prefix, table_prefix
from prodlens.schema import TABLES

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

_BATCH = 100  # BatchCreatePartition limit
_DELETE_BATCH = 25  # BatchDeletePartition limit


class GlueCatalog:
    def __init__(self, database: str, client: GlueClient | None = None) -> None:
        self.database = database
        self._glue = client or boto3.client("glue")
        self._descriptors: dict[str, dict[str, Any]] = {}

    def _descriptor(self, table: str) -> dict[str, Any]:
        if table not in self._descriptors:
            try:
                response = self._glue.get_table(DatabaseName=self.database, Name=table)
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"glue get_table {self.database}.{table}") from e
            self._descriptors[table] = response["Table"]["StorageDescriptor"]
        return self._descriptors[table]

    def register_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        keys = TABLES[table].partition_keys
        unique = {tuple(p[k] for k in keys) for p in partitions}
        if not unique:
            return 0
        descriptor = self._descriptor(table)
        root = descriptor["Location"].rstrip("/") + "/"
        inputs = []
        for values in sorted(unique):
            suffix = partition_prefix(table, dict(zip(keys, values, strict=True)))[len(table_prefix(table)) :]
            inputs.append({"Values": list(values), "StorageDescriptor": {**descriptor, "Location": root + suffix}})
        created = 0
        for start in range(0, len(inputs), _BATCH):
            batch = inputs[start : start + _BATCH]
            try:
                response = self._glue.batch_create_partition(
                    DatabaseName=self.database, TableName=table, PartitionInputList=batch
                )
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"glue batch_create_partition {table}") from e
            codes = [err["ErrorDetail"]["ErrorCode"] for err in response.get("Errors", [])]
            failed = [code for code in codes if code != "AlreadyExistsException"]
            if failed:
                raise error_for_code(failed[0], f"glue batch_create_partition {table}")
            created += len(batch) - len(response.get("Errors", []))
        return created

    def deregister_partitions(self, table: str, partitions: Iterable[dict[str, str]]) -> int:
        keys = TABLES[table].partition_keys
        unique = sorted({tuple(p[k] for k in keys) for p in partitions})
        deleted = 0
        for start in range(0, len(unique), _DELETE_BATCH):
            batch = [{"Values": list(values)} for values in unique[start : start + _DELETE_BATCH]]
            try:
                response = self._glue.batch_delete_partition(
                    DatabaseName=self.database, TableName=table, PartitionsToDelete=batch
                )
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"glue batch_delete_partition {table}") from e
            codes = [err["ErrorDetail"]["ErrorCode"] for err in response.get("Errors", [])]
            failed = [code for code in codes if code != "EntityNotFoundException"]
            if failed:
                raise error_for_code(failed[0], f"glue batch_delete_partition {table}")
            deleted += len(batch) - len(codes)
        return deleted
