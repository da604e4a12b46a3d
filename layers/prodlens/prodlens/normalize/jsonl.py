"""Vectorized JSONL formats (prototype seed, Claude Code transcripts): every per-line rule runs in DuckDB SQL.

Lines are read as one VARCHAR column (a CSV read with a NUL delimiter and no quoting), so a bad line
never fails the scan: it becomes a dead letter. Each line is parsed once with `json_transform` into a
struct of VARCHAR leaves; the rules of fields.py (timestamps, tokens, repo slugs, session prefixes) are
the SQL macros below. The result is the `parsed` table: one row per line with `kind` in
row / skip / dead / blank.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from prodlens.normalize.fields import MAX_YEAR, MIN_YEAR

MACROS = rf"""
CREATE OR REPLACE TEMP MACRO pl_epoch(x) AS make_timestamp(CAST(round(
    CASE WHEN abs(x) < 1e11 THEN x * 1e6 WHEN abs(x) < 1e14 THEN x * 1e3 WHEN abs(x) < 1e17 THEN x ELSE x / 1e3 END
) AS BIGINT));
CREATE OR REPLACE TEMP MACRO pl_ts(s) AS CASE
    WHEN s IS NULL OR s = '' THEN NULL
    WHEN try_cast(s AS DOUBLE) IS NOT NULL THEN try(pl_epoch(try_cast(s AS DOUBLE)))
    ELSE CAST(try_cast(s AS TIMESTAMPTZ) AS TIMESTAMP) END;
CREATE OR REPLACE TEMP MACRO pl_ts_ok(t) AS t IS NOT NULL AND year(t) BETWEEN {MIN_YEAR} AND {MAX_YEAR};
-- token count: NULL when absent, -1 when not a non-negative integer (integral decimals like 12.0 accepted)
CREATE OR REPLACE TEMP MACRO pl_tok(s) AS CASE
    WHEN s IS NULL THEN NULL
    WHEN regexp_full_match(s, '[0-9]{{1,18}}') THEN CAST(s AS BIGINT)
    WHEN regexp_full_match(s, '[0-9]{{1,18}}\.0*') THEN CAST(split_part(s, '.', 1) AS BIGINT)
    ELSE -1 END;
CREATE OR REPLACE TEMP MACRO pl_bool(s) AS CASE
    WHEN lower(s) IN ('true', '1', 'yes') THEN true WHEN lower(s) IN ('false', '0', 'no') THEN false END;
CREATE OR REPLACE TEMP MACRO pl_slug(s) AS nullif(lower(trim(s)), '');
CREATE OR REPLACE TEMP MACRO pl_slug_ok(r) AS r IS NULL OR (
    NOT contains(r, '..') AND regexp_full_match(r, '[a-z0-9._-]+(/[a-z0-9._-]+)?'));
CREATE OR REPLACE TEMP MACRO pl_dbl(s) AS CASE WHEN isfinite(try_cast(s AS DOUBLE)) THEN try_cast(s AS DOUBLE) END;
"""


def lines_sql(path: Path, max_line_bytes: int) -> str:
    quoted = str(path).replace("'", "''")
    return (
        f"SELECT row_number() OVER () AS ln, line FROM read_csv('{quoted}', columns={{'line': 'VARCHAR'}}, "
        f"header=false, delim=chr(0), quote='', escape='', auto_detect=false, "
        f"max_line_size={int(max_line_bytes)})"
    )


_SEED_STRUCTURE = json.dumps(
    {
        "timestamp": "VARCHAR",
        "start_time": "VARCHAR",
        "model": "VARCHAR",
        "latency_ms": "VARCHAR",
        "status_code": "VARCHAR",
        "cost_usd": "VARCHAR",
        "usage": {
            "input_tokens": "VARCHAR",
            "output_tokens": "VARCHAR",
            "total_tokens": "VARCHAR",
            "cache_read_input_tokens": "VARCHAR",
            "cache_creation_input_tokens": "VARCHAR",
        },
        "metadata": "VARCHAR",
        "attributes": {
            "llm.model_name": "VARCHAR",
            "model": "VARCHAR",
            "latency_ms": "VARCHAR",
            "status_code": "VARCHAR",
            "prod_lens.accepted": "VARCHAR",
            "accepted_lines": "VARCHAR",
            "diff_ratio": "VARCHAR",
            "repo": "VARCHAR",
            "llm.cost.total": "VARCHAR",
        },
    }
)
_META_STRUCTURE = json.dumps({"repo": "VARCHAR", "session_id": "VARCHAR", "developer_id": "VARCHAR"})

# Columns every JSONL format computes before the shared validation step.
_VALIDATE = """
CREATE OR REPLACE TEMP TABLE parsed AS
SELECT *,
    CASE
        WHEN kind <> 'row' THEN NULL
        WHEN ts_raw IS NULL THEN 'missing_timestamp'
        WHEN NOT pl_ts_ok(ts) THEN 'invalid_timestamp'
        WHEN least(tokens_in, tokens_out, cache_read_tokens, cache_write_tokens) < 0 THEN 'invalid_tokens'
        WHEN NOT pl_slug_ok(repo) THEN 'invalid_repo'
    END AS check_reason
FROM candidates;
"""


def seed_sql(path: Path, max_line_bytes: int) -> str:
    return f"""
CREATE OR REPLACE TEMP TABLE candidates AS
WITH l AS ({lines_sql(path, max_line_bytes)}),
j AS (
    SELECT ln, line, CASE WHEN line IS NOT NULL THEN try(json_transform(line, '{_SEED_STRUCTURE}')) END AS j
    FROM l
),
m AS (
    SELECT ln, line, j,
        CASE WHEN j.metadata IS NOT NULL THEN try(json_transform(j.metadata, '{_META_STRUCTURE}')) END AS md,
        coalesce(j.timestamp, j.start_time) AS ts_raw,
        j.usage AS u, j.attributes AS a
    FROM j
),
c AS (
    SELECT ln, line, ts_raw, md, a, u, pl_ts(ts_raw) AS ts,
        CASE
            WHEN line IS NULL OR trim(line) = '' THEN 'blank'
            WHEN j IS NULL THEN 'dead'
            WHEN u IS NULL OR (u.input_tokens IS NULL AND u.output_tokens IS NULL AND u.total_tokens IS NULL) THEN 'dead'
            ELSE 'row' END AS kind,
        CASE
            WHEN line IS NULL OR trim(line) = '' THEN NULL
            WHEN j IS NULL THEN CASE WHEN json_valid(line) THEN 'invalid_record' ELSE 'invalid_json' END
            WHEN u IS NULL OR (u.input_tokens IS NULL AND u.output_tokens IS NULL AND u.total_tokens IS NULL)
                THEN 'invalid_record'
        END AS reason,
        pl_tok(u.output_tokens) AS out_t,
        pl_tok(u.total_tokens) AS total_t,
        pl_tok(u.input_tokens) AS in_t
    FROM m
)
SELECT ln, kind, reason,
    CASE WHEN reason = 'invalid_record' THEN 'not a seed record: needs a JSON object with usage{{...}}'
         WHEN reason = 'invalid_json' THEN 'line is not valid JSON' END AS detail,
    md5(line) AS record_id,
    md.session_id AS raw_session,
    CASE WHEN regexp_matches(md.session_id, '^session[-_].') THEN substr(md.session_id, 9) ELSE md.session_id END
        AS session_id,
    nullif(md.developer_id, '') AS developer_id,
    coalesce(a."llm.model_name", a.model, NULL) AS model,
    ts_raw, ts,
    CASE WHEN in_t IS NOT NULL THEN in_t
         WHEN total_t < 0 THEN -1
         WHEN total_t IS NOT NULL THEN total_t - coalesce(greatest(out_t, 0), 0)
         ELSE 0 END AS tokens_in,
    coalesce(out_t, 0) AS tokens_out,
    coalesce(pl_tok(u.cache_read_input_tokens), 0) AS cache_read_tokens,
    coalesce(pl_tok(u.cache_creation_input_tokens), 0) AS cache_write_tokens,
    pl_dbl(a.latency_ms) AS latency_ms,
    CAST(try_cast(pl_dbl(a.status_code) AS INTEGER) AS INTEGER) AS status_code,
    coalesce(pl_dbl(a.status_code) >= 400, false) AS is_error,
    pl_bool(a."prod_lens.accepted") AS accepted_flag,
    try_cast(pl_dbl(a.accepted_lines) AS INTEGER) AS accepted_lines,
    pl_dbl(a.diff_ratio) AS diff_ratio,
    pl_dbl(a."llm.cost.total") AS source_cost,
    coalesce(pl_slug(md.repo), pl_slug(a.repo)) AS own_repo,
    CASE WHEN kind = 'dead' THEN line END AS raw
FROM c;
"""


_CLAUDE_STRUCTURE = json.dumps(
    {
        "type": "VARCHAR",
        "sessionId": "VARCHAR",
        "timestamp": "VARCHAR",
        "requestId": "VARCHAR",
        "costUSD": "VARCHAR",
        "isApiErrorMessage": "VARCHAR",
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
)


def claude_sql(path: Path, max_line_bytes: int) -> str:
    return f"""
CREATE OR REPLACE TEMP TABLE candidates AS
WITH l AS ({lines_sql(path, max_line_bytes)}),
j AS (
    SELECT ln, line, CASE WHEN line IS NOT NULL THEN try(json_transform(line, '{_CLAUDE_STRUCTURE}')) END AS j
    FROM l
),
c AS (
    SELECT ln, line, j, j.message.usage AS u, j.timestamp AS ts_raw, pl_ts(j.timestamp) AS ts,
        CASE
            WHEN line IS NULL OR trim(line) = '' THEN 'blank'
            WHEN j IS NULL THEN 'dead'
            WHEN coalesce(j.type, 'assistant') <> 'assistant' THEN 'skip'
            WHEN j.message.usage IS NULL OR (j.message.usage.input_tokens IS NULL
                AND j.message.usage.output_tokens IS NULL) THEN 'skip'
            WHEN j.message.model = '<synthetic>' THEN 'skip'
            ELSE 'row' END AS kind,
        CASE
            WHEN line IS NULL OR trim(line) = '' THEN NULL
            WHEN j IS NULL THEN CASE WHEN json_valid(line) THEN 'invalid_record' ELSE 'invalid_json' END
        END AS reason
    FROM j
)
SELECT ln, kind, reason,
    CASE WHEN reason = 'invalid_record' THEN 'not a transcript line: needs a JSON object'
         WHEN reason = 'invalid_json' THEN 'line is not valid JSON' END AS detail,
    CASE WHEN j.message.id IS NOT NULL AND j.requestId IS NOT NULL
         THEN md5('claude_code|' || j.message.id || '|' || j.requestId)
         ELSE md5(line) END AS record_id,
    j.sessionId AS session_id,
    CAST(NULL AS VARCHAR) AS developer_id,
    j.message.model AS model,
    ts_raw, ts,
    coalesce(pl_tok(u.input_tokens), 0) AS tokens_in,
    coalesce(pl_tok(u.output_tokens), 0) AS tokens_out,
    coalesce(pl_tok(u.cache_read_input_tokens), 0) AS cache_read_tokens,
    coalesce(pl_tok(u.cache_creation_input_tokens), 0) AS cache_write_tokens,
    CAST(NULL AS DOUBLE) AS latency_ms,
    CAST(NULL AS INTEGER) AS status_code,
    coalesce(pl_bool(j.isApiErrorMessage), false) AS is_error,
    CAST(NULL AS BOOLEAN) AS accepted_flag,
    CAST(NULL AS INTEGER) AS accepted_lines,
    CAST(NULL AS DOUBLE) AS diff_ratio,
    pl_dbl(j.costUSD) AS source_cost,
    CAST(NULL AS VARCHAR) AS own_repo,
    CASE WHEN kind = 'dead' THEN line END AS raw
FROM c;
"""


def run(
    con: duckdb.DuckDBPyConnection,
    source_format: str,
    path: Path,
    max_line_bytes: int,
    meta_repo: str | None,
    meta_developer: str | None,
) -> None:
    """Fill the `parsed` table for one JSONL object (see module docstring)."""
    con.execute(MACROS)
    sql = seed_sql(path, max_line_bytes) if source_format == "seed" else claude_sql(path, max_line_bytes)
    con.execute(sql)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE candidates AS SELECT * REPLACE ("
        " coalesce(own_repo, pl_slug($meta_repo), 'unknown') AS own_repo,"
        " coalesce(developer_id, nullif($meta_developer, '')) AS developer_id) FROM candidates",
        {"meta_repo": meta_repo, "meta_developer": meta_developer},
    )
    con.execute("ALTER TABLE candidates RENAME COLUMN own_repo TO repo")
    con.execute(_VALIDATE)


def detail_for(reason: str, ts_raw: str | None, repo: str | None) -> str:
    if reason == "missing_timestamp":
        return "no timestamp"
    if reason == "invalid_timestamp":
        return f"timestamp {str(ts_raw)[:64]!r} is not a valid time in {MIN_YEAR}-{MAX_YEAR}"
    if reason == "invalid_tokens":
        return "a token count is not a non-negative integer"
    if reason == "invalid_repo":
        return f"repo {str(repo)[:128]!r} is not an owner/name slug"
    return reason
