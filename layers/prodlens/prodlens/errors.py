"""Typed errors. Data errors become dead letters; infrastructure errors are re-raised so the platform retries."""


class ProdLensError(Exception):
    """Base of every ProdLens error."""


class StorageUnavailable(ProdLensError):
    """S3, DynamoDB or Glue failed in a way that a retry may fix (throttling, 5xx, timeouts)."""


class ObjectNotFound(ProdLensError):
    """A raw object named by an event no longer exists (deleted between the event and the read)."""


class CheckpointConflict(ProdLensError):
    """A conditional write lost a race: another run moved the state first."""


class ConfigurationError(ProdLensError):
    """The function's settings are missing or invalid."""
