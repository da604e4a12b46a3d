"""S3 bucket as an ObjectStore."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from prodlens.adapters.aws_errors import error_for_code, translate
from prodlens.ports import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_DELETE_BATCH = 1000  # DeleteObjects limit
_NOT_MODIFIED = 304  # a conditional GET whose ETag matched


class S3ObjectStore:
    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self.bucket = bucket
        self._s3 = client or boto3.client("s3")
        self.get_count = 0  # GETs issued by this instance: benchmarks show that work follows the change

    def list(self, prefix: str) -> Iterator[StoredObject]:
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"], item["Size"], item["ETag"].strip('"'))
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"list s3://{self.bucket}/{prefix}") from e

    def head(self, key: str) -> StoredObject | None:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise translate(e, f"head s3://{self.bucket}/{key}") from e
        except BotoCoreError as e:
            raise translate(e, f"head s3://{self.bucket}/{key}") from e
        return StoredObject(key, head["ContentLength"], head["ETag"].strip('"'))

    def download(self, key: str, path: Path, unless_etag: str | None = None) -> dict[str, str] | None:
        """Stream the object to `path` (no full copy in memory) and return its user metadata, with `etag` and
        `last_modified`. With `unless_etag`, a conditional GET: None, and nothing read, when that is its ETag."""
        condition = {"IfNoneMatch": f'"{unless_etag}"'} if unless_etag else {}
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key, **condition)
            self.get_count += 1
            with path.open("wb") as out:
                for chunk in response["Body"].iter_chunks(chunk_size=8 * 1024 * 1024):
                    out.write(chunk)
        except ClientError as e:
            if unless_etag and e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == _NOT_MODIFIED:
                return None
            raise translate(e, f"get s3://{self.bucket}/{key}") from e
        except BotoCoreError as e:
            raise translate(e, f"get s3://{self.bucket}/{key}") from e
        metadata = {k.lower(): v for k, v in response.get("Metadata", {}).items()}
        metadata["etag"] = response.get("ETag", "").strip('"')
        if response.get("LastModified") is not None:  # the object's version time: a later report replaces an earlier
            metadata["last_modified"] = response["LastModified"].astimezone(UTC).replace(tzinfo=None).isoformat()
        return metadata

    def upload(self, path: Path, key: str) -> None:
        # One PUT: lake objects are Parquet files of one partition, far below the 5 GB single-PUT limit.
        try:
            with path.open("rb") as body:
                self._s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"put s3://{self.bucket}/{key}") from e

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"put s3://{self.bucket}/{key}") from e

    def delete(self, keys: Iterable[str]) -> None:
        batch = [{"Key": k} for k in keys]
        for start in range(0, len(batch), _DELETE_BATCH):
            chunk = batch[start : start + _DELETE_BATCH]
            try:
                result = self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"delete from s3://{self.bucket}") from e
            if result.get("Errors"):
                first = result["Errors"][0]
                raise error_for_code(first.get("Code", ""), f"delete s3://{self.bucket}/{first.get('Key')}")
