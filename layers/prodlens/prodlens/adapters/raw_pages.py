"""The raw bucket as a PageSink for the GitHub fetcher (prodlens.github.sync.PageSink)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from prodlens.adapters.aws_errors import translate
from prodlens.errors import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3PageSink:
    """PUTs each page unmodified under its raw-zone key (`github/<owner>/<name>/<endpoint>/<hash>.json`).

    Page keys are content-addressed, so an existing key already holds these exact bytes: it is left alone
    (one HEAD instead of a PUT), which spares normalize an S3 notification for a page it has processed.
    """

    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self.bucket = bucket
        self._s3 = client or boto3.client("s3")
        self.written = 0
        self.already_stored = 0

    def put(self, key: str, body: bytes) -> None:
        try:
            if self._exists(key):
                self.already_stored += 1
                return
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        except (ClientError, BotoCoreError) as e:
            error = translate(e, f"put s3://{self.bucket}/{key}")
            # A write has no "not found" outcome: a missing bucket is storage the platform must retry or fix.
            raise error if isinstance(error, StorageUnavailable) else StorageUnavailable(str(error)) from e
        self.written += 1

    def _exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True
