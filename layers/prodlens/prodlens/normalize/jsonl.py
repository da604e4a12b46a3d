"""Vectorized JSONL formats (formats.base.LineFormat: seed, Claude Code transcripts): every per-line rule runs in
DuckDB SQL.

Each line is parsed once into typed columns with VARCHAR leaves, by DuckDB's NDJSON reader (fast; a
malformed line becomes a row of NULLs, so it never fails the scan). Its row numbers are line numbers unless
the file has blank lines; that matters only for dead letters, so the object is read again line by line
(a CSV read with a NUL delimiter and no quoting, then `json_transform`) only when it has both.
The field rules (timestamps, tokens, numbers, booleans, repo slugs) are the SQL macros of rules.py, the one
definition the Python-parsed formats use too; a repo's validity is checked afterwards per distinct repo. The
result is the `parsed` table: one row per line, `kind` in row / skip / dead / blank, and `check_reason`
naming why a candidate row is a dead letter. Raw lines of dead letters are fetched afterwards by number.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from prodlens.normalize.formats.base import LineFormat

from prodlens.duck import literal
from prodlens.normalize.rules import MAX_YEAR, MIN_YEAR

MIB = 1024 * 1024


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


# Shared validation of candidate rows: the first failing rule names the dead letter.
# (`ts_raw` is kept only where a dead letter's detail quotes it.)
_VALIDATE = """
CREATE OR REPLACE TEMP TABLE parsed AS
SELECT * REPLACE (CASE WHEN kind = 'row' AND NOT pl_ts_ok(ts) THEN ts_raw END AS ts_raw),
    CASE
        WHEN kind = 'dead' THEN 'invalid_record'
        WHEN kind <> 'row' THEN NULL
        WHEN pl_ts_check(ts_raw, ts) IS NOT NULL THEN pl_ts_check(ts_raw, ts)
        WHEN NOT (pl_tok_ok(tokens_in) AND pl_tok_ok(tokens_out) AND pl_tok_ok(cache_read_tokens)
            AND pl_tok_ok(cache_write_tokens)) THEN 'invalid_tokens'
    END AS check_reason
FROM ({candidates})
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
    line_format: LineFormat,
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
    duckdb.OutOfMemoryException when the object cannot be read within the limits. `con` holds the field-rule
    macros (normalize.session binds them once per connection)."""
    # the object's repo metadata is a leaf like a record's own repo (pl_slug; validity checked with theirs)
    params = {"meta_repo": meta_repo or None, "meta_developer": meta_developer or None}

    def parse(fast: bool, typed_metadata: bool, source: Path = path) -> None:
        reader = source_sql(source, line_format.structure(typed_metadata), max_line_bytes, fast)
        candidates = line_format.candidates(reader, typed_metadata)
        con.execute(_VALIDATE.format(candidates=candidates), params)

    if not exact:
        try:
            parse(fast=True, typed_metadata=True)
            if (
                line_format.rereads_untyped and con.execute("SELECT bool_or(metadata_unread) FROM parsed").fetchone()[0]  # type: ignore[index]
            ):
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
                dst.write(_NOT_UTF8 + (b"\n" if line.endswith(b"\n") else b""))
            else:
                dst.write(line)


def detail_for(line_format: LineFormat, reason: str, ts_raw: str | None, repo: str | None) -> str:
    if reason == "invalid_record":
        return line_format.not_a_record
    if reason == "missing_timestamp":
        return "no timestamp"
    if reason == "invalid_timestamp":
        return f"timestamp {str(ts_raw)[:64]!r} is not a valid time in {MIN_YEAR}-{MAX_YEAR}"
    if reason == "invalid_tokens":
        return "a token count is not a non-negative integer"
    if reason == "invalid_repo":
        return f"repo {str(repo)[:128]!r} is not an owner/name slug"
    return reason
