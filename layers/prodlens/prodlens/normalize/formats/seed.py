"""The prototype's JSONL (`seed`): `timestamp`/`start_time`, `usage{...}`, `metadata` (an object or a JSON string
holding one) and `attributes{...}`; read vectorized in DuckDB SQL (normalize.jsonl)."""

from __future__ import annotations

import json
from typing import Any

from prodlens.normalize.formats.base import LineFormat
from prodlens.normalize.jsonl import content_hash_sql


def detects(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("usage"), dict)
        and any(k in obj for k in ("timestamp", "start_time", "attributes"))
    )


SEED_STRUCTURE = {
    "timestamp": "VARCHAR",
    "start_time": "VARCHAR",
    "usage": {
        "input_tokens": "VARCHAR",
        "output_tokens": "VARCHAR",
        "total_tokens": "VARCHAR",
        "cache_read_input_tokens": "VARCHAR",
        "cache_creation_input_tokens": "VARCHAR",
    },
    "metadata": "JSON",
    "attributes": {
        "llm.model_name": "VARCHAR",
        "model": "VARCHAR",
        "latency_ms": "VARCHAR",
        "status_code": "DOUBLE",
        "prod_lens.accepted": "VARCHAR",
        "accepted_lines": "DOUBLE",
        "diff_ratio": "DOUBLE",
        "repo": "VARCHAR",
        "llm.cost.total": "DOUBLE",
    },
}
_META_FIELDS = {"repo": "VARCHAR", "session_id": "VARCHAR", "developer_id": "VARCHAR"}
# The NDJSON reader reads `metadata` straight into these fields. A prototype line may hold metadata as a JSON
# string instead, which that read leaves as all-NULL fields (`metadata_unread`): such an object is read again
# with metadata as JSON text, parsed in SQL.
SEED_STRUCTURE_TYPED_METADATA = {**SEED_STRUCTURE, "metadata": _META_FIELDS}
_META_STRUCTURE = json.dumps(_META_FIELDS)
# A seed line has no id: its record id hashes the fields that make it (time, usage, session, developer, repo,
# model, latency), so an identical line delivered twice counts once.
_SEED_ID_FIELDS = [
    '"timestamp"',
    "start_time",
    "usage.input_tokens",
    "usage.output_tokens",
    "usage.total_tokens",
    "metadata.session_id",
    "metadata.developer_id",
    "metadata.repo",
    'attributes."llm.model_name"',
    "attributes.latency_ms",
]


def seed_sql(source: str, typed_metadata: bool) -> str:
    # metadata is an object, or (prototype) a JSON string holding one
    metadata = (
        "metadata"
        if typed_metadata
        else f"""CASE WHEN NOT starts_with(metadata, '"') THEN json_transform(metadata, '{_META_STRUCTURE}')
             WHEN json_valid(json_extract_string(metadata, '$'))
             THEN json_transform(json_extract_string(metadata, '$'), '{_META_STRUCTURE}') END"""
    )
    unread = (
        "metadata IS NOT NULL AND metadata.repo IS NULL AND metadata.session_id IS NULL"
        " AND metadata.developer_id IS NULL"
        if typed_metadata
        else "false"
    )
    return f"""
WITH j AS (SELECT * REPLACE ({metadata} AS metadata) FROM ({source})),
c AS (
    SELECT ln, usage AS u, attributes AS a, coalesce("timestamp", start_time) AS ts_raw, pl_ts(ts_raw) AS ts,
        {content_hash_sql(_SEED_ID_FIELDS)} AS record_id,
        metadata AS md,
        {unread} AS metadata_unread,
        CASE
            WHEN blank THEN 'blank'
            WHEN usage IS NULL OR (usage.input_tokens IS NULL AND usage.output_tokens IS NULL
                AND usage.total_tokens IS NULL) THEN 'dead'
            ELSE 'row' END AS kind,
        pl_tok(usage.output_tokens) AS out_t,
        pl_tok(usage.total_tokens) AS total_t,
        pl_tok(usage.input_tokens) AS in_t,
        pl_fin(attributes.status_code) AS status,
        pl_fin(attributes.accepted_lines) AS lines
    FROM j
)
SELECT ln, kind,
    record_id,
    CASE WHEN (starts_with(md.session_id, 'session-') OR starts_with(md.session_id, 'session_'))
        AND length(md.session_id) > 8 THEN substr(md.session_id, 9) ELSE md.session_id END AS session_id,
    coalesce(nullif(md.developer_id, ''), CAST($meta_developer AS VARCHAR)) AS developer_id,
    coalesce(a."llm.model_name", a.model) AS model,
    ts_raw, ts,
    CASE WHEN in_t IS NOT NULL THEN in_t
         WHEN total_t < 0 THEN -1
         WHEN total_t IS NOT NULL THEN total_t - coalesce(greatest(out_t, 0), 0)
         ELSE 0 END AS tokens_in,
    coalesce(out_t, 0) AS tokens_out,
    coalesce(pl_tok(u.cache_read_input_tokens), 0) AS cache_read_tokens,
    coalesce(pl_tok(u.cache_creation_input_tokens), 0) AS cache_write_tokens,
    pl_dbl(a.latency_ms) AS latency_ms,
    pl_whole(status) AS status_code,
    coalesce(status >= 400, false) AS is_error,
    pl_bool(a."prod_lens.accepted") AS accepted_flag,
    pl_whole(lines) AS accepted_lines,
    pl_fin(a.diff_ratio) AS diff_ratio,
    pl_fin(a."llm.cost.total") AS source_cost,
    CAST(NULL AS VARCHAR) AS git_branch,
    coalesce(pl_slug(md.repo), pl_slug(a.repo), pl_slug(CAST($meta_repo AS VARCHAR)), 'unknown') AS repo,
    metadata_unread
FROM c
"""


def structure(typed_metadata: bool) -> dict[str, Any]:
    return SEED_STRUCTURE_TYPED_METADATA if typed_metadata else SEED_STRUCTURE


FORMAT = LineFormat(
    "seed",
    detects,
    structure,
    seed_sql,
    not_a_record="not a seed record: needs a JSON object with usage{...}",
    rereads_untyped=True,
)
