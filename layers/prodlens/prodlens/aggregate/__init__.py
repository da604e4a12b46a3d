"""Domain: the daily tables and the canonical GitHub tables, as DuckDB SQL over local Parquet partition files."""

from prodlens.aggregate.daily import (
    OUTPUT_NAME,
    changed_pr_days,
    commits,
    daily_github_metrics,
    daily_session_metrics,
    pull_requests,
)
from prodlens.aggregate.engine import PartitionFile

__all__ = [
    "OUTPUT_NAME",
    "PartitionFile",
    "changed_pr_days",
    "commits",
    "daily_github_metrics",
    "daily_session_metrics",
    "pull_requests",
]
