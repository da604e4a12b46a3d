"""The raw bucket as the PageSink of the fetchers (GitHub pages, vendor usage reports), each written unmodified."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from prodlens.adapters.aws_errors import translate
from prodlens.errors import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3PageSink:
    """PUTs each page unmodified under its raw-zone key (`github/<owner>/<name>/<endpoint>/<hash>.json`,
    `usage/<source>/<label>/...`).

    A page fetched again overwrites itself (GitHub keys are content-addressed: same bytes, same ETag, which
    normalize recognises as processed; a usage day's keys are fixed, and normalize replaces a report by the one
    stored last). No HEAD first: each fetcher may only s3:PutObject on its own prefix.
    """

    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self.bucket = bucket
        self._s3 = client or boto3.client("s3")
        self.written = 0

    def put(self, key: str, body: bytes) -> None:
        try:
            content_type = "application/x-ndjson" if key.endswith(".ndjson") else "application/json"
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as e:
            error = translate(e, f"put s3://{self.bucket}/{key}")
            # A write has no "not found" outcome: a missing bucket is storage the platform must retry or fix.
            raise error if isinstance(error, StorageUnavailable) else StorageUnavailable(str(error)) from e
        self.written += 1
