"""One place that maps botocore errors to ProdLens errors."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from prodlens.errors import CheckpointConflict, ObjectNotFound, StorageUnavailable

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
_CONFLICT = {"ConditionalCheckFailedException", "TransactionConflictException"}


def error_for_code(code: str, what: str) -> Exception:
    """The ProdLens error for an AWS error code (also the per-item codes of batch APIs)."""
    if code in _NOT_FOUND:
        return ObjectNotFound(f"{what}: {code}")
    if code in _CONFLICT:
        return CheckpointConflict(f"{what}: {code}")
    return StorageUnavailable(f"{what}: {code}")


def translate(error: Exception, what: str) -> Exception:
    """The ProdLens error for a boto3 failure; callers `raise translate(e, ...) from e`."""
    if isinstance(error, ClientError):
        return error_for_code(error.response.get("Error", {}).get("Code", ""), what)
    if isinstance(error, BotoCoreError):
        return StorageUnavailable(f"{what}: {error}")
    return error
