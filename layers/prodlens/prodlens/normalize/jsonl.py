"""Vectorized JSONL formats (prototype seed, Claude Code transcripts): every per-line rule runs in DuckDB SQL.

Each line is parsed once into typed columns with VARCHAR leaves, by DuckDB's NDJSON reader (fast; a
malformed line becomes a row of NULLs, so it never fails the scan). Its row numbers are line numbers unless
the file has blank lines; that matters only for dead letters, so the object is read again line by line
(a CSV read with a NUL delimiter and no quoting, then `json_transform`) only when it has both.
The rules of fields.py (timestamps, tokens, repo normalisation, session prefixes) are the SQL macros below;
a repo's validity is checked afterwards per distinct repo with fields.is_repo_slug. The result is the
`parsed` table: one row per line, `kind` in row / skip / dead / blank, and `check_reason` naming why a
candidate row is a dead letter. Raw lines of dead letters are fetched afterwards by number.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from prodlens.duck import literal
from prodlens.normalize.fields import MAX_TOKENS, MAX_YEAR, MIN_YEAR, normalize_repo

MIB = 1024 * 1024

MACROS = rf"""
CREATE OR REPLACE TEMP MACRO pl_epoch(x) AS make_timestamp(CAST(round(
    CASE WHEN abs(x) < 1e11 THEN x * 1e6 WHEN abs(x) < 1e14 THEN x * 1e3 WHEN abs(x) < 1e17 THEN x ELSE x / 1e3 END
) AS BIGINT));
-- ISO strings (the common case) are tried first: they hold '-' or ':', an epoch number does not (a negative
-- epoch would, and is rejected either way as out of range).
CREATE OR REPLACE TEMP MACRO pl_ts(s) AS CASE
    WHEN s IS NULL OR s = '' THEN NULL
    WHEN contains(s, '-') OR contains(s, ':') THEN make_timestamp(epoch_us(try_cast(s AS TIMESTAMPTZ)))
    ELSE try(pl_epoch(try_cast(s AS DOUBLE))) END;
CREATE OR REPLACE TEMP MACRO pl_ts_ok(t) AS t IS NOT NULL AND year(t) BETWEEN {MIN_YEAR} AND {MAX_YEAR};
-- token count: NULL when absent, -1 when not a non-negative integer (integral decimals like 12.0 accepted)
CREATE OR REPLACE TEMP MACRO pl_tok(s) AS CASE
    WHEN s IS NULL THEN NULL
    WHEN contains(s, '.') THEN CASE WHEN regexp_full_match(s, '[0-9]{{1,18}}\.0*')
        THEN CAST(split_part(s, '.', 1) AS BIGINT) ELSE -1 END
    ELSE coalesce(try_cast(s AS BIGINT), -1) END;
CREATE OR REPLACE TEMP MACRO pl_bool(s) AS CASE
    WHEN lower(s) IN ('true', '1', 'yes') THEN true WHEN lower(s) IN ('false', '0', 'no') THEN false END;
-- lower() only on ASCII text (as many bytes as characters): Unicode case folding maps look-alikes such as
-- KELVIN SIGN to ASCII letters; non-ASCII text is kept as is and fails the slug check (invalid_repo).
CREATE OR REPLACE TEMP MACRO pl_slug(s) AS nullif(CASE WHEN strlen(s) = length(s) THEN lower(trim(s))
    ELSE trim(s) END, '');
-- NaN / Infinity (Python writers emit them; DuckDB's JSON reader accepts them) are unknown values, not numbers
CREATE OR REPLACE TEMP MACRO pl_fin(x) AS CASE WHEN isfinite(x) THEN x END;
CREATE OR REPLACE TEMP MACRO pl_dbl(s) AS CASE WHEN isfinite(try_cast(s AS DOUBLE)) THEN try_cast(s AS DOUBLE) END;
"""


def lines_sql(path: Path, max_line_bytes: int) -> str:
    """Every line of the file as VARCHAR with its 1-based number (blank lines included, as NULL or spaces)."""
    return (
        f"SELECT row_number() OVER () AS ln, line FROM read_csv({literal(path)}, columns={{'line': 'VARCHAR'}}, "
        f"header=false, delim=chr(0), quote='', escape='', auto_detect=false, "
        f"max_line_size={int(max_line_bytes)})"
    )


def _duck_type(spec: object) -> str:
    if isinstance(spec, dict):
        return "STRUCT(" + ", ".join(f'"{k}" {_duck_type(v)}' for k, v in spec.items()) + ")"
    return str(spec)


def content_hash_sql(leaves: list[str]) -> str:
    """md5 over the identifying fields of a line (a record id for lines that carry none)."""
    parts = ", chr(31), ".join(f"coalesce({leaf}, chr(0))" for leaf in leaves)
    return f"md5(concat({parts}))"


def source_sql(path: Path, structure: dict, max_line_bytes: int, fast: bool) -> str:
    """Rows (ln, blank, <top-level keys of structure>) for a JSONL file (see module docstring)."""
    names = ", ".join(f'"{k}"' for k in structure)
    if fast:
        columns = "{" + ", ".join(f"'{k}': '{_duck_type(v)}'" for k, v in structure.items()) + "}"
        return (
            f"SELECT row_number() OVER () AS ln, false AS blank, {names} "
            f"FROM read_ndjson({literal(path)}, columns={columns}, ignore_errors=true, "
            f"maximum_object_size={int(max_line_bytes)})"
        )
    text = json.dumps(structure)
    return (
        f"SELECT ln, (line IS NULL OR trim(line) = '') AS blank, j.* FROM ("
        f"SELECT ln, line, CASE WHEN json_valid(line) AND starts_with(ltrim(line), '{{') "
        f"THEN json_transform(line, '{text}') END AS j FROM ({lines_sql(path, max_line_bytes)}))"
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

# Shared validation of candidate rows: the first failing rule names the dead letter.
# (`ts_raw` is kept only where a dead letter's detail quotes it.)
_VALIDATE = """
CREATE OR REPLACE TEMP TABLE parsed AS
SELECT * REPLACE (CASE WHEN kind = 'row' AND NOT pl_ts_ok(ts) THEN ts_raw END AS ts_raw),
    CASE
        WHEN kind = 'dead' THEN 'invalid_record'
        WHEN kind <> 'row' THEN NULL
        WHEN ts_raw IS NULL OR ts_raw = '' THEN 'missing_timestamp'
        WHEN NOT pl_ts_ok(ts) THEN 'invalid_timestamp'
        WHEN least(tokens_in, tokens_out, cache_read_tokens, cache_write_tokens) < 0 THEN 'invalid_tokens'
        WHEN greatest(tokens_in, tokens_out, cache_read_tokens, cache_write_tokens) > MAX_TOKENS
            THEN 'invalid_tokens'
    END AS check_reason
FROM ({candidates})
""".replace("MAX_TOKENS", str(MAX_TOKENS))


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
        pl_tok(usage.input_tokens) AS in_t
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
    try_cast(pl_fin(a.status_code) AS INTEGER) AS status_code,
    coalesce(pl_fin(a.status_code) >= 400, false) AS is_error,
    pl_bool(a."prod_lens.accepted") AS accepted_flag,
    try_cast(pl_fin(a.accepted_lines) AS INTEGER) AS accepted_lines,
    pl_fin(a.diff_ratio) AS diff_ratio,
    pl_fin(a."llm.cost.total") AS source_cost,
    coalesce(pl_slug(md.repo), pl_slug(a.repo), CAST($meta_repo AS VARCHAR), 'unknown') AS repo,
    metadata_unread
FROM c
"""


CLAUDE_STRUCTURE = {
    "type": "VARCHAR",
    "sessionId": "VARCHAR",
    "timestamp": "VARCHAR",
    "requestId": "VARCHAR",
    "costUSD": "DOUBLE",
    "isApiErrorMessage": "VARCHAR",
    "uuid": "VARCHAR",
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
    coalesce(CAST($meta_repo AS VARCHAR), 'unknown') AS repo
FROM c
"""


class NumberedLines:
    """One pass over a file for the raw text of chosen lines, counting all its lines on the way.

    A few dead letters in a large object must cost little more than reading it, so lines are never split one
    by one: newlines are counted per 16 KiB block (C speed), and only in the block holding a wanted line are
    they found one at a time. Memory: one chunk plus the longest line."""

    BLOCK = 16 * 1024

    def __init__(self, path: Path, chunk_bytes: int = 8 * MIB) -> None:
        self.path, self.chunk_bytes = path, chunk_bytes
        self.total: int | None = None  # number of lines (a last line without a newline counts), once read

    def lines_at(self, numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        """(number, raw bytes without the line end) for each of `numbers` (1-based, ascending); a number past
        the end yields b"". Reads to the end of the file, which sets `total`."""
        wanted = iter(numbers)
        target = next(wanted, None)
        base = 1  # the number of the first line that starts in the buffer
        buffer = bytearray(self.chunk_bytes)  # reused: a fresh 8 MiB object per read costs page faults
        kept = 0  # bytes at the start of the buffer: the unfinished line of the previous read
        with self.path.open("rb", buffering=0) as handle:
            while True:
                if kept == len(buffer):  # a line longer than the buffer
                    buffer.extend(bytes(len(buffer)))
                got = handle.readinto(memoryview(buffer)[kept:])
                if not got:
                    break
                size = kept + got
                if target is None:  # only counting now
                    ended = buffer.count(b"\n", 0, size)
                else:
                    cumulative = list(
                        itertools.accumulate(
                            buffer.count(b"\n", at, min(at + self.BLOCK, size)) for at in range(0, size, self.BLOCK)
                        )
                    )
                    ended = cumulative[-1]
                    while target is not None and target - base < ended:
                        yield target, _line(buffer, cumulative, target - base, self.BLOCK)
                        target = next(wanted, None)
                start = buffer.rfind(b"\n", 0, size) + 1
                kept = size - start
                buffer[:kept] = buffer[start:size]
                base += ended
        # what is left is the last line, without a line end
        if kept and target == base:
            yield target, bytes(buffer[:kept]).rstrip(b"\r")
            target = next(wanted, None)
        self.total = base - 1 + bool(kept)
        while target is not None:
            yield target, b""
            target = next(wanted, None)


def _line(data: bytearray, cumulative: list[int], index: int, block: int) -> bytes:
    """Line `index` (0-based, ending in data) of a buffer, given its per-block cumulative newline counts."""
    start = 0
    if index:  # the line starts after the index-th newline: find its block, then scan within it
        at = bisect.bisect_left(cumulative, index)
        start = at * block - 1
        for _ in range(index - (cumulative[at - 1] if at else 0)):
            start = data.find(b"\n", start + 1)
        start += 1
    return bytes(data[start : data.index(b"\n", start)]).rstrip(b"\r")


def run(
    con: duckdb.DuckDBPyConnection,
    source_format: str,
    path: Path,
    max_line_bytes: int,
    meta_repo: str | None,
    meta_developer: str | None,
    scratch: Path | None = None,
    exact: bool = False,
) -> bool:
    """Fill the `parsed` table for one JSONL object (see module docstring); True when `ln` is a row number.

    The NDJSON reader yields one row per non-blank line, so its row numbers are line numbers unless the file
    has blank lines. Only dead letters need line numbers: the caller checks the file's line count while it
    reads their raw text, and runs again with exact=True when they differ. The exact path reads every line;
    its reader refuses invalid UTF-8, and such lines are then replaced (in a copy under `scratch`) by a
    non-JSON marker, so each becomes its own dead letter. Raises duckdb.InvalidInputException or
    duckdb.OutOfMemoryException when the object cannot be read within the limits."""
    con.execute(MACROS)
    # the object's repo metadata, normalised like a record's own; its validity is checked with theirs
    params = {"meta_repo": normalize_repo(meta_repo or ""), "meta_developer": meta_developer or None}

    def parse(fast: bool, typed_metadata: bool, source: Path = path) -> None:
        if source_format == "seed":
            structure = SEED_STRUCTURE_TYPED_METADATA if typed_metadata else SEED_STRUCTURE
            candidates = seed_sql(source_sql(source, structure, max_line_bytes, fast), typed_metadata)
        else:
            candidates = claude_sql(source_sql(source, CLAUDE_STRUCTURE, max_line_bytes, fast))
        con.execute(_VALIDATE.format(candidates=candidates), params)

    if not exact:
        try:
            parse(fast=True, typed_metadata=True)
            if source_format == "seed" and con.execute("SELECT bool_or(metadata_unread) FROM parsed").fetchone()[0]:
                parse(fast=True, typed_metadata=False)
            return True
        except (duckdb.InvalidInputException, duckdb.OutOfMemoryException):  # e.g. an over-long line
            pass
    try:
        parse(fast=False, typed_metadata=False)
    except duckdb.InvalidInputException as exc:
        if scratch is None or "unicode" not in str(exc).lower():
            raise
        clean = scratch / "lines.utf8"
        _replace_invalid_utf8(path, clean)
        parse(fast=False, typed_metadata=False, source=clean)
    return False


_NOT_UTF8 = "\ufffd".encode()  # not JSON: the line becomes a dead letter, its raw bytes read from the original


def _replace_invalid_utf8(path: Path, target: Path) -> None:
    """A copy of `path` with every line that is not valid UTF-8 replaced by a marker (line numbers kept)."""
    with path.open("rb") as src, target.open("wb") as dst:
        for line in src:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                line = _NOT_UTF8 + (b"\n" if line.endswith(b"\n") else b"")
            dst.write(line)


_NOT_A_RECORD = {
    "seed": "not a seed record: needs a JSON object with usage{...}",
    "claude_code": "not a Claude Code transcript line",
}


def detail_for(source_format: str, reason: str, ts_raw: str | None, repo: str | None) -> str:
    if reason == "invalid_record":
        return _NOT_A_RECORD[source_format]
    if reason == "missing_timestamp":
        return "no timestamp"
    if reason == "invalid_timestamp":
        return f"timestamp {str(ts_raw)[:64]!r} is not a valid time in {MIN_YEAR}-{MAX_YEAR}"
    if reason == "invalid_tokens":
        return "a token count is not a non-negative integer"
    if reason == "invalid_repo":
        return f"repo {str(repo)[:128]!r} is not an owner/name slug"
    return reason
