"""One place that maps botocore errors to ProdLens errors."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from prodlens.errors import CheckpointConflict, ObjectNotFound, StorageUnavailable

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
_CONFLICT = {"ConditionalCheckFailedException", "TransactionConflictException"}


def translate(error: Exception, what: str) -> Exception:
    """The ProdLens error for a boto3 failure; callers `raise translate(e, ...) from e`."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in _NOT_FOUND:
            return ObjectNotFound(f"{what}: {code}")
        if code in _CONFLICT:
            return CheckpointConflict(f"{what}: {code}")
        return StorageUnavailable(f"{what}: {code}")
    if isinstance(error, BotoCoreError):
        return StorageUnavailable(f"{what}: {error}")
    return error
