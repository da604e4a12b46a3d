"""The lake's tables: one definition that the writers, the local engine and template.yaml all follow.

Column types are Athena (Hive DDL) types. `template.yaml` declares the same columns for its Glue
tables, and tests/unit/test_schema.py keeps the two identical.
"""

from __future__ import annotations

from dataclasses import dataclass

# Athena type -> DuckDB type, for the local engine and for writing Parquet with the exact physical types
# Athena expects (int -> INT32, bigint -> INT64, timestamp -> INT64 micros).
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "array<string>": "VARCHAR[]",
}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[str, ...] = ()
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def duckdb_columns(self) -> dict[str, str]:
        """Column name -> DuckDB type, data columns only (partition values live in the object key)."""
        return {name: DUCKDB_TYPES[kind] for name, kind in self.columns}


TRACES = Table(
    "traces",
    (
        ("record_id", "string"),
        ("source_format", "string"),
        ("source_key", "string"),
        ("session_id", "string"),
        ("developer_id", "string"),
        ("model", "string"),
        ("ts", "timestamp"),
        ("tokens_in", "bigint"),
        ("tokens_out", "bigint"),
        ("cache_read_tokens", "bigint"),
        ("cache_write_tokens", "bigint"),
        ("total_tokens", "bigint"),
        ("latency_ms", "double"),
        ("status_code", "int"),
        ("is_error", "boolean"),
        ("accepted_flag", "boolean"),
        ("accepted_lines", "int"),
        ("diff_ratio", "double"),
        ("cost_usd", "double"),
        ("cost_source", "string"),
        ("git_branch", "string"),
    ),
    ("event_date", "repo"),
    "One row per AI request.",
)

DEAD_LETTERS = Table(
    "dead_letters",
    (
        ("source_key", "string"),
        ("line_number", "bigint"),
        ("reason", "string"),
        ("detail", "string"),
        ("raw", "string"),
        ("rejected_at", "timestamp"),
    ),
    (),
    "One row per rejected record, with the raw text so it can be fixed and replayed.",
)

# GitHub staging: every record of every raw page, as read. Aggregate folds them into the canonical
# pull_requests / commits tables (latest version of a PR wins, a commit counts once by sha).
_PULL_REQUEST_COLUMNS = (
    ("pr_id", "bigint"),
    ("pr_number", "bigint"),
    ("state", "string"),
    ("author", "string"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
    ("closed_at", "timestamp"),
    ("merged_at", "timestamp"),
    ("head_ref", "string"),
    ("base_ref", "string"),
)
_COMMIT_COLUMNS = (
    ("sha", "string"),
    ("author", "string"),
    ("author_date", "timestamp"),
    ("committer_date", "timestamp"),
)

GITHUB_PULLS = Table(
    "github_pulls",
    (*_PULL_REQUEST_COLUMNS, ("source_key", "string")),
    ("repo",),
    "Every pull-request version seen in a raw page (staging).",
)

GITHUB_COMMITS = Table(
    "github_commits",
    (*_COMMIT_COLUMNS, ("source_key", "string")),
    ("event_date", "repo"),
    "Every commit seen in a raw page, partitioned by the UTC day of commit.author.date (staging).",
)

GITHUB_ISSUE_EVENTS = Table(
    "github_issue_events",
    (
        ("event_id", "bigint"),
        ("event", "string"),
        ("pr_number", "bigint"),
        ("created_at", "timestamp"),
        ("source_key", "string"),
    ),
    ("repo",),
    "Every issue event seen in a raw page (staging).",
)

GITHUB_PULL_COMMITS = Table(
    "github_pull_commits",
    (
        ("pr_number", "bigint"),
        ("sha", "string"),
        ("ai_coauthors", "array<string>"),
        ("source_key", "string"),
    ),
    ("repo",),
    "Every commit seen in a raw page of a pull request's commits, with the AI tools its co-author trailers name "
    "(staging).",
)

PULL_REQUESTS = Table(
    "pull_requests",
    (
        *_PULL_REQUEST_COLUMNS,
        ("reopened_count", "bigint"),
        ("commit_shas", "array<string>"),
        ("ai_coauthors", "array<string>"),
    ),
    ("repo",),
    "One row per pull request, at its latest updated_at.",
)

COMMITS = Table(
    "commits",
    _COMMIT_COLUMNS,
    ("event_date", "repo"),
    "One row per commit sha.",
)

DAILY_SESSION_METRICS = Table(
    "daily_session_metrics",
    (
        ("repo", "string"),
        ("request_count", "bigint"),
        ("session_count", "bigint"),
        ("developer_count", "bigint"),
        ("tokens_in", "bigint"),
        ("tokens_out", "bigint"),
        ("cache_read_tokens", "bigint"),
        ("cache_write_tokens", "bigint"),
        ("total_tokens", "bigint"),
        ("accepted_count", "bigint"),
        ("decided_count", "bigint"),
        ("error_count", "bigint"),
        ("median_latency_ms", "double"),
        ("p95_latency_ms", "double"),
        ("cost_usd", "double"),
        ("accepted_lines", "bigint"),
    ),
    ("event_date",),
    "One row per (event_date, repo) with at least one trace.",
)

DAILY_GITHUB_METRICS = Table(
    "daily_github_metrics",
    (
        ("repo", "string"),
        ("commit_count", "bigint"),
        ("opened_pr_count", "bigint"),
        ("merged_pr_count", "bigint"),
        ("reopened_pr_count", "bigint"),
        ("avg_merge_hours", "double"),
        ("median_merge_hours", "double"),
    ),
    ("event_date",),
    "One row per (event_date, repo) with any GitHub activity.",
)

DAILY_BRANCH_SESSIONS = Table(
    "daily_branch_sessions",
    (
        ("repo", "string"),
        ("git_branch", "string"),
        ("source_format", "string"),
        ("session_id", "string"),
        ("first_ts", "timestamp"),
        ("last_ts", "timestamp"),
        ("requests", "bigint"),
        ("cost_usd", "double"),
    ),
    ("event_date",),
    "One row per (event_date, repo, git_branch, source_format, session_id) of the traces that name a git branch.",
)

CORRELATIONS = Table(
    "correlations",
    (
        ("repo", "string"),
        ("x_metric", "string"),
        ("y_metric", "string"),
        ("lag_days", "int"),
        ("window_start", "date"),
        ("window_end", "date"),
        ("n", "int"),
        ("pearson_r", "double"),
        ("pearson_p", "double"),
        ("pearson_ci_low", "double"),
        ("pearson_ci_high", "double"),
        ("spearman_rho", "double"),
        ("spearman_p", "double"),
        ("pearson_p_adj", "double"),
        ("spearman_p_adj", "double"),
        ("low_sample", "boolean"),
        ("adj_r", "double"),
        ("adj_ci_low", "double"),
        ("adj_ci_high", "double"),
        ("adj_p", "double"),
        ("n_eff", "double"),
        ("adj_p_adj", "double"),
        ("input_version", "string"),
        ("computed_at", "timestamp"),
    ),
    (),
    "One row per (repo, x_metric, y_metric, lag_days): lagged association, raw and calendar-adjusted, with p-values "
    "and BH correction.",
)

# Usage summaries (vendor reports under usage/): every row of every report or metric export, as read (staging).
# Aggregate folds them into developer_daily_usage: a later report replaces an earlier one for the same
# (event_date, tool, developer_id); metric points are counted once each, cumulative ones as increments.
USAGE_MEASURES = (
    ("sessions", "bigint"),
    ("interactions", "bigint"),
    ("suggested_lines", "bigint"),
    ("accepted_lines", "bigint"),
    ("removed_lines", "bigint"),
    ("accepts", "bigint"),
    ("rejects", "bigint"),
    ("commits_by_ai", "bigint"),
    ("prs_by_ai", "bigint"),
    ("tokens_in", "bigint"),
    ("tokens_out", "bigint"),
    ("cache_read_tokens", "bigint"),
    ("cache_write_tokens", "bigint"),
    ("cost_usd", "double"),
    ("active_seconds", "double"),
)

USAGE_RECORDS = Table(
    "usage_records",
    (
        ("record_id", "string"),
        ("kind", "string"),
        ("source_format", "string"),
        ("developer_id", "string"),
        ("repo", "string"),
        *USAGE_MEASURES,
        ("series_id", "string"),
        ("series_start", "timestamp"),
        ("point_time", "timestamp"),
        ("reported_at", "timestamp"),
        ("source_key", "string"),
    ),
    ("event_date", "tool"),
    "Every usage row of every vendor report or metric export, as read (staging).",
)

DEVELOPER_DAILY_USAGE = Table(
    "developer_daily_usage",
    (
        ("tool", "string"),
        ("source_format", "string"),
        ("developer_id", "string"),
        ("person", "string"),
        ("team", "string"),
        ("repo", "string"),
        *USAGE_MEASURES,
        ("source_key", "string"),
    ),
    ("event_date",),
    "One row per (event_date, tool, developer_id): the vendors' own usage figures, one source per key.",
)

_AI_COMMIT_COLUMNS = (
    ("sha", "string"),
    ("tool", "string"),
    ("developer_id", "string"),
    ("committed_at", "timestamp"),
    ("ai_lines_added", "bigint"),
    ("total_lines_added", "bigint"),
    ("is_primary_branch", "boolean"),
)

AI_COMMIT_RECORDS = Table(
    "ai_commit_records",
    (("record_id", "string"), *_AI_COMMIT_COLUMNS, ("reported_at", "timestamp"), ("source_key", "string")),
    ("repo",),
    "Every AI-authored commit item of every AI code tracking page, as read (staging).",
)

AI_COMMITS = Table(
    "ai_commits",
    _AI_COMMIT_COLUMNS,
    ("repo",),
    "One row per (repo, sha): the AI-authored lines of a commit, joins commits on (repo, sha).",
)

DAILY_DEVELOPER_METRICS = Table(
    "daily_developer_metrics",
    (
        ("person", "string"),
        ("team", "string"),
        ("requests", "bigint"),
        ("sessions", "bigint"),
        ("ai_accepted_lines", "bigint"),
        ("cost_usd", "double"),
        ("tools", "array<string>"),
        ("commits_authored", "bigint"),
        ("prs_merged", "bigint"),
        ("prs_opened", "bigint"),
    ),
    ("event_date",),
    "One row per (event_date, person): one person's day across every AI tool and source, and what they delivered.",
)

ROLLOUT_EFFECTS = Table(
    "rollout_effects",
    (
        ("unit", "string"),
        ("metric", "string"),
        ("design", "string"),
        ("rollout_date", "date"),
        ("rollout_source", "string"),
        ("days_before", "int"),
        ("days_after", "int"),
        ("level_change", "double"),
        ("slope_change", "double"),
        ("relative_change", "double"),
        ("ci_low", "double"),
        ("ci_high", "double"),
        ("p", "double"),
        ("p_adj", "double"),
        ("verdict", "string"),
        ("input_version", "string"),
        ("computed_at", "timestamp"),
    ),
    (),
    "One row per (unit, metric, design): what changed in delivery at the unit's AI rollout (its, did), with a 95 "
    "percent interval and a verdict.",
)

COHORT_WEEKLY = Table(
    "cohort_weekly",
    (
        ("week", "date"),
        ("cohort", "string"),
        ("team", "string"),
        ("developers", "int"),
        ("prs_merged_per_developer", "double"),
        ("median_merge_hours", "double"),
        ("reopen_rate", "double"),
        ("ai_accepted_lines_per_developer", "double"),
        ("computed_at", "timestamp"),
    ),
    (),
    "One row per (week, cohort, team): developers grouped by their AI-active days that week, and what they delivered "
    "(self-selected groups, not an effect).",
)

PULL_REQUEST_AI = Table(
    "pull_request_ai",
    (
        ("repo", "string"),
        ("number", "bigint"),
        ("author", "string"),
        ("ai_assisted", "boolean"),
        ("evidence", "array<string>"),
        ("ai_sessions", "bigint"),
        ("ai_cost_usd", "double"),
        ("merged", "boolean"),
        ("created_at", "timestamp"),
        ("merged_at", "timestamp"),
        ("merge_hours", "double"),
        ("reopened", "boolean"),
        ("computed_at", "timestamp"),
    ),
    (),
    "One row per pull request: whether it was written with AI, and the evidence.",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        TRACES,
        DEAD_LETTERS,
        GITHUB_PULLS,
        GITHUB_COMMITS,
        GITHUB_ISSUE_EVENTS,
        GITHUB_PULL_COMMITS,
        PULL_REQUESTS,
        COMMITS,
        DAILY_SESSION_METRICS,
        DAILY_GITHUB_METRICS,
        DAILY_BRANCH_SESSIONS,
        CORRELATIONS,
        ROLLOUT_EFFECTS,
        COHORT_WEEKLY,
        PULL_REQUEST_AI,
        USAGE_RECORDS,
        DEVELOPER_DAILY_USAGE,
        AI_COMMIT_RECORDS,
        AI_COMMITS,
        DAILY_DEVELOPER_METRICS,
    )
}
