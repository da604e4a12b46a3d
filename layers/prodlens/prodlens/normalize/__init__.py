"""The normalize domain: raw trace objects and GitHub pages -> canonical Parquet rows + dead letters.

No boto3 and no environment reads here: callers pass a local copy of the object and a work directory.
"""

from prodlens.normalize.core import Limits, normalize_object, normalize_paths

__all__ = ["Limits", "normalize_object", "normalize_paths"]
