"""Domain: the daily tables and the canonical GitHub tables, as DuckDB SQL over local Parquet partition files."""

from prodlens.aggregate.daily import (
    OUTPUT_NAME,
    ai_commits,
    changed_pr_days,
    commits,
    daily_branch_sessions,
    daily_developer_metrics,
    daily_github_metrics,
    daily_session_metrics,
    developer_daily_usage,
    pull_requests,
)
from prodlens.aggregate.engine import PartitionFile

__all__ = [
    "OUTPUT_NAME",
    "PartitionFile",
    "ai_commits",
    "changed_pr_days",
    "commits",
    "daily_branch_sessions",
    "daily_developer_metrics",
    "daily_github_metrics",
    "daily_session_metrics",
    "developer_daily_usage",
    "pull_requests",
]
