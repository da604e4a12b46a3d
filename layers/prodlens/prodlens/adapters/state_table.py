"""The DynamoDB state table (keys pk/sk) as a StateStore. Item layout: docs/architecture.md."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from prodlens.adapters.aws_errors import translate
from prodlens.errors import CheckpointConflict, StorageUnavailable
from prodlens.ports import DirtyPartition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_TRANSACTION_ITEMS = 100  # TransactWriteItems / TransactGetItems limit
_BATCH_WRITE_ITEMS = 25  # BatchWriteItem limit
_BATCH_ATTEMPTS = 5  # BatchWriteItem calls for one chunk while DynamoDB leaves items unprocessed
_BACKOFF_S = 0.05
_ser = TypeSerializer()
_de = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    """Floats are not a DynamoDB type; store them as Decimal (through str, so 0.1 stays 0.1)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return sorted(_from_dynamo(v) for v in value)
    return value


def _item(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(_to_dynamo(v)) for k, v in attributes.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_de.deserialize(v)) for k, v in item.items()}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DynamoStateStore:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._ddb = client or boto3.client("dynamodb")

    # -- low level -------------------------------------------------------------------------------
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            response = self._ddb.get_item(
                TableName=self.table_name, Key=_item({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"get {pk}") from e
        return _plain(response["Item"]) if "Item" in response else None

    def _query(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _item({":pk": pk}),
            "ConsistentRead": True,
        }
        try:
            while True:
                response = self._ddb.query(**kwargs)
                items.extend(_plain(i) for i in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    return items
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"query {pk}") from e

    # -- processed raw objects -------------------------------------------------------------------
    def get_processed(self, source_key: str) -> dict[str, Any] | None:
        return self._get(f"object#{source_key}", "state")

    def put_processed(self, source_key: str, record: dict[str, Any]) -> None:
        item = {**record, "pk": f"object#{source_key}", "sk": "state", "processed_at": now_iso()}
        try:
            self._ddb.put_item(TableName=self.table_name, Item=_item(item))
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"put processed {source_key}") from e

    def get_processed_many(self, source_keys: list[str]) -> dict[str, dict[str, Any] | None]:
        """The processed-object records of several raw objects (None: never seen), strongly consistent, in one
        TransactGetItems per 100 keys (which dynamodb:GetItem grants)."""
        found: dict[str, dict[str, Any] | None] = {}
        keys = list(dict.fromkeys(source_keys))
        for start in range(0, len(keys), _TRANSACTION_ITEMS):
            chunk = keys[start : start + _TRANSACTION_ITEMS]
            gets = [
                {"Get": {"TableName": self.table_name, "Key": _item({"pk": f"object#{key}", "sk": "state"})}}
                for key in chunk
            ]
            try:
                responses = self._ddb.transact_get_items(TransactItems=gets)["Responses"]
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"get processed ({len(chunk)} objects)") from e
            for key, response in zip(chunk, responses, strict=True):  # in the order of the gets
                found[key] = _plain(response["Item"]) if response.get("Item") else None
        return found

    def put_processed_many(self, records: dict[str, dict[str, Any]]) -> None:
        """put_processed for several raw objects, in BatchWriteItem calls of 25. Items DynamoDB leaves unprocessed
        (throttling) are sent again, backing off; still unprocessed after _BATCH_ATTEMPTS, StorageUnavailable."""
        now = now_iso()
        puts = [
            {"PutRequest": {"Item": _item({**record, "pk": f"object#{key}", "sk": "state", "processed_at": now})}}
            for key, record in records.items()
        ]
        for start in range(0, len(puts), _BATCH_WRITE_ITEMS):
            pending = puts[start : start + _BATCH_WRITE_ITEMS]
            for attempt in range(_BATCH_ATTEMPTS):
                try:
                    response = self._ddb.batch_write_item(RequestItems={self.table_name: pending})
                except (ClientError, BotoCoreError) as e:
                    raise translate(e, f"put processed ({len(pending)} objects)") from e
                pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if not pending:
                    break
                time.sleep(_BACKOFF_S * 2**attempt)
            if pending:
                raise StorageUnavailable(f"put processed: {len(pending)} items unprocessed, {_BATCH_ATTEMPTS} tries")

    # -- dirty partitions ------------------------------------------------------------------------
    def mark_dirty(self, table: str, partitions: Iterable[tuple[str, str]]) -> None:
        """Touch every mark in one transaction (chunks of _TRANSACTION_ITEMS): a run reads all or none of them.

        A record moved from day D1 to D2 touches both: a run that saw only D2's mark would count the record in
        D2 while D1's stored row still counts it.
        """
        updates = [
            {
                "TableName": self.table_name,
                "Key": _item({"pk": f"dirty#{table}", "sk": f"{event_date}#{repo}"}),
                "UpdateExpression": "ADD version :one SET event_date = :d, repo = :r, touched_at = :t",
                "ExpressionAttributeValues": _item({":one": 1, ":d": event_date, ":r": repo, ":t": now_iso()}),
            }
            for event_date, repo in sorted(set(partitions))
        ]
        for start in range(0, len(updates), _TRANSACTION_ITEMS):
            chunk = updates[start : start + _TRANSACTION_ITEMS]
            try:
                if len(chunk) == 1:
                    self._ddb.update_item(**chunk[0])
                else:
                    self._ddb.transact_write_items(TransactItems=[{"Update": u} for u in chunk])
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"mark dirty {table} ({len(chunk)} partitions)") from e

    def dirty(self, table: str) -> list[DirtyPartition]:
        return [
            DirtyPartition(table, item["event_date"], item["repo"], int(item["version"]))
            for item in self._query(f"dirty#{table}")
        ]

    def clear_dirty(self, partition: DirtyPartition) -> bool:
        try:
            self._ddb.delete_item(
                TableName=self.table_name,
                Key=_item({"pk": f"dirty#{partition.table}", "sk": f"{partition.event_date}#{partition.repo}"}),
                ConditionExpression="version = :v",
                ExpressionAttributeValues=_item({":v": partition.version}),
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # touched again while we worked: it stays dirty for the next run
            raise translate(e, f"clear dirty {partition}") from e
        except BotoCoreError as e:
            raise translate(e, f"clear dirty {partition}") from e
        return True

    # -- checkpoints -----------------------------------------------------------------------------
    def get_checkpoint(self, job: str, scope: str) -> dict[str, Any] | None:
        return self._get(f"checkpoint#{job}", scope)

    def put_checkpoint(self, job: str, scope: str, value: dict[str, Any], expected_version: int | None) -> int:
        new_version = (expected_version or 0) + 1
        item = {"pk": f"checkpoint#{job}", "sk": scope, "value": value, "version": new_version, "updated_at": now_iso()}
        if expected_version is None:
            condition, values = "attribute_not_exists(pk)", None
        else:
            condition, values = "version = :v", _item({":v": expected_version})
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Item": _item(item), "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self._ddb.put_item(**kwargs)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise CheckpointConflict(f"checkpoint {job}/{scope} moved past version {expected_version}") from e
            raise translate(e, f"put checkpoint {job}/{scope}") from e
        except BotoCoreError as e:
            raise translate(e, f"put checkpoint {job}/{scope}") from e
        return new_version

    # -- generic items (caches) --------------------------------------------------------------------
    def get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self._get(pk, sk)

    def put_item(self, pk: str, sk: str, attributes: dict[str, Any]) -> None:
        try:
            self._ddb.put_item(TableName=self.table_name, Item=_item({**attributes, "pk": pk, "sk": sk}))
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"put {pk}") from e

    def delete_item(self, pk: str, sk: str) -> None:
        try:
            self._ddb.delete_item(TableName=self.table_name, Key=_item({"pk": pk, "sk": sk}))
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"delete {pk}") from e

    def advance(self, pk: str, sk: str, value: str) -> None:
        """Set the item's `value` only if it moves forward (string order, e.g. fixed-format UTC timestamps).

        A stored value at or past `value` raises CheckpointConflict: two runs can never move it backwards.
        """
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key=_item({"pk": pk, "sk": sk}),
                UpdateExpression="SET #value = :value, updated_at = :now ADD version :one",
                ConditionExpression="attribute_not_exists(#value) OR #value < :value",
                ExpressionAttributeNames={"#value": "value"},
                ExpressionAttributeValues=_item({":value": value, ":now": now_iso(), ":one": 1}),
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"advance {pk} {sk}") from e
