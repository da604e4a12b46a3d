"""Claude Code transcripts (`~/.claude/projects/**/*.jsonl`): one row per assistant message with usage; other line
types are skipped. Read vectorized in DuckDB SQL (normalize.jsonl)."""

from __future__ import annotations

from typing import Any

from prodlens.normalize.formats.base import LineFormat
from prodlens.normalize.jsonl import content_hash_sql

_LINE_TYPES = frozenset(
    {"user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation", "progress"}
)


def detects(obj: Any) -> bool:
    return isinstance(obj, dict) and (
        "sessionId" in obj or "requestId" in obj or "parentUuid" in obj or obj.get("type") in _LINE_TYPES
    )


CLAUDE_STRUCTURE = {
    "type": "VARCHAR",
    "sessionId": "VARCHAR",
    "timestamp": "VARCHAR",
    "requestId": "VARCHAR",
    "costUSD": "DOUBLE",
    "isApiErrorMessage": "VARCHAR",
    "uuid": "VARCHAR",
    "gitBranch": "VARCHAR",
    "message": {
        "id": "VARCHAR",
        "model": "VARCHAR",
        "usage": {
            "input_tokens": "VARCHAR",
            "output_tokens": "VARCHAR",
            "cache_creation_input_tokens": "VARCHAR",
            "cache_read_input_tokens": "VARCHAR",
        },
    },
}


_CLAUDE_ID_FIELDS = ["uuid", '"timestamp"', "sessionId", "message.model", "message.usage.output_tokens"]


def claude_sql(source: str) -> str:
    return f"""
WITH j AS ({source}),
c AS (
    SELECT *, message.usage AS u, "timestamp" AS ts_raw, pl_ts("timestamp") AS ts,
        CASE
            WHEN blank THEN 'blank'
            WHEN "type" IS NULL AND sessionId IS NULL AND message IS NULL THEN 'dead'
            WHEN coalesce("type", 'assistant') <> 'assistant' THEN 'skip'
            WHEN message.usage IS NULL OR (message.usage.input_tokens IS NULL
                AND message.usage.output_tokens IS NULL) THEN 'skip'
            WHEN message.model = '<synthetic>' THEN 'skip'
            ELSE 'row' END AS kind
    FROM j
)
SELECT ln, kind,
    CASE WHEN message.id IS NOT NULL AND requestId IS NOT NULL
         THEN md5('claude_code|' || message.id || '|' || requestId)
         ELSE {content_hash_sql(_CLAUDE_ID_FIELDS)} END AS record_id,
    sessionId AS session_id,
    CAST($meta_developer AS VARCHAR) AS developer_id,
    message.model AS model,
    ts_raw, ts,
    coalesce(pl_tok(u.input_tokens), 0) AS tokens_in,
    coalesce(pl_tok(u.output_tokens), 0) AS tokens_out,
    coalesce(pl_tok(u.cache_read_input_tokens), 0) AS cache_read_tokens,
    coalesce(pl_tok(u.cache_creation_input_tokens), 0) AS cache_write_tokens,
    CAST(NULL AS DOUBLE) AS latency_ms,
    CAST(NULL AS INTEGER) AS status_code,
    coalesce(pl_bool(isApiErrorMessage), false) AS is_error,
    CAST(NULL AS BOOLEAN) AS accepted_flag,
    CAST(NULL AS INTEGER) AS accepted_lines,
    CAST(NULL AS DOUBLE) AS diff_ratio,
    pl_fin(costUSD) AS source_cost,
    pl_branch(gitBranch) AS git_branch,
    coalesce(pl_slug(CAST($meta_repo AS VARCHAR)), 'unknown') AS repo
FROM c
"""


FORMAT = LineFormat(
    "claude_code",
    detects,
    lambda typed_metadata: CLAUDE_STRUCTURE,
    lambda source, typed_metadata: claude_sql(source),
    not_a_record="not a Claude Code transcript line",
)
