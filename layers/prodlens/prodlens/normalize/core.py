"""normalize_object: one raw object -> canonical Parquet files + dead letters, with exact accounting.

Flow: route by key (traces/ | github/ | usage/ | ignored) -> decompress to the workdir in chunks (gzip by suffix or
magic bytes, bounded by Limits) -> detect the format -> parse (DuckDB SQL for JSONL, Python for JSON
documents) -> write Parquet with DuckDB COPY. No boto3, no environment reads.
"""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from prodlens.duck import NdjsonSink, ident, literal, load_ndjson, typed_select
from prodlens.lake import object_key, source_id
from prodlens.models import Counts, NormalizeOutput, SourceObject, TableFile
from prodlens.normalize import jsonl, pricing, session, usage
from prodlens.normalize.fields import dead_letter_raw
from prodlens.normalize.formats import (
    Dead,
    DocumentFormat,
    LineFormat,
    Outcome,
    Row,
    Skip,
    StreamFormat,
    TraceFormat,
    classify,
    skipped_by_key,
)
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.rules import Rules
from prodlens.normalize.writer import copy_partitioned, write_table
from prodlens.schema import AI_COMMIT_RECORDS, DEAD_LETTERS, TABLES, TRACES, USAGE_RECORDS

GIB = 1024**3
MIB = 1024**2
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_TRACE_ORDER = ("ts", "record_id")
INPUT_PREFIXES = ("traces/", "github/", "usage/")


@dataclass(frozen=True)
class Limits:
    """Resource bounds for one object. Exceeding a size bound makes the object a dead letter, never an OOM."""

    max_decompressed_bytes: int = 4 * GIB
    max_line_bytes: int = 64 * MIB
    chunk_rows: int = 10_000  # dead-letter line numbers fetched from DuckDB per batch
    max_document_bytes: int = 256 * MIB  # whole-document formats (LiteLLM, OTLP) are parsed in Python
    memory_limit: str = "256MB"  # DuckDB spills to the workdir beyond this (peak RSS stays < 512 MB)
    threads: int = 1  # one thread keeps line numbers and output bytes deterministic


class _ObjectRejected(Exception):
    def __init__(self, reason: str, detail: str, raw: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail, self.raw = reason, detail, raw


class _Run:
    """State of one normalize_object call: the DuckDB session, sinks and counts.

    The session is the process's (normalize.session), kept across objects. `con` is for the steps that make temp
    tables or views (dropped when the object ends); the fast path of small Python-parsed objects makes none and
    uses `session.con`. The scratch folder (spill copies, NDJSON sinks) is made only when a step needs it."""

    def __init__(self, source: SourceObject, workdir: Path, limits: Limits, rules: Rules | None = None) -> None:
        self.source, self.workdir, self.limits = source, workdir, limits
        self.name = source_id(source.key)
        self._scratch = workdir / f".scratch-{self.name}"
        shutil.rmtree(self._scratch, ignore_errors=True)
        self.session = session.session(limits.threads, limits.memory_limit)
        self.made_tables = False
        self.counts = Counts()
        self.rejected_at = datetime.now(UTC).replace(tzinfo=None)
        self.dead = NdjsonSink(self._scratch / "dead.ndjson")
        self.ctx = ObjectContext(
            source.key, source.metadata.get("repo") or None, source.metadata.get("developer") or None, rules or Rules()
        )

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if not self.made_tables:  # rows in any order while parsing (less memory); writers ask for order
            self.made_tables = True
            self.session.preserve_order(False)
        return self.session.con

    @property
    def scratch(self) -> Path:
        self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    def dead_letter(self, line_number: int, reason: str, detail: str, raw: str) -> None:
        if not self.dead.count:
            self.scratch  # noqa: B018 - the sink's folder
        self.dead.add(
            {
                "source_key": self.source.key,
                "line_number": line_number,
                "reason": reason,
                "detail": detail,
                "raw": raw,
                "rejected_at": self.rejected_at,
            }
        )
        self.counts.dead_letters += 1

    def reset_dead_letters(self) -> None:
        """Forget the dead letters so far (a rejected object, or a parse run again line by line)."""
        self.dead.close()
        self.dead.path.unlink(missing_ok=True)
        self.dead = NdjsonSink(self._scratch / "dead.ndjson")
        self.counts.dead_letters = 0

    def close(self) -> None:
        self.dead.close()
        if self.made_tables:
            self.session.reset()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def close_after_failure(self) -> None:
        self.dead.close()
        session.discard()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def finish(self, source_format: str | None, files: list[TableFile]) -> NormalizeOutput:
        self.dead.close()
        if self.dead.count:
            load_ndjson(self.con, "dead_out", self.dead.path, DEAD_LETTERS.duckdb_columns())
            self.session.preserve_order(True)
            files += write_table(self.con, DEAD_LETTERS, "dead_out", self.workdir, self.name, ("line_number",))
        self.close()
        if not self.counts.balanced:
            raise AssertionError(f"accounting does not balance for {self.source.key}: {self.counts.as_dict()}")
        return NormalizeOutput(self.source.key, source_format, self.counts, files)


def _loads(data: bytes) -> Any:
    """orjson, else the standard library for what Python writers emit but orjson refuses (NaN, Infinity):
    LiteLLM and OTel exporters are Python. Raises ValueError for anything that is not JSON (including
    invalid UTF-8, lone surrogates and nesting too deep for either parser)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            value = json.loads(data)
            orjson.dumps(value)  # what the row and dead-letter sinks will have to write (no lone surrogates)
        except (ValueError, TypeError, RecursionError):
            raise ValueError(str(exc)) from exc
        return value


def _strip_bom(data: bytes) -> bytes:
    return data[len(_BOM) :] if data.startswith(_BOM) else data


def _materialize(source: SourceObject, run: _Run, limits: Limits) -> Path:
    """The object's bytes as a plain local file: gzip streamed out in 1 MiB chunks, size-bounded."""
    with source.path.open("rb") as handle:
        magic = handle.read(2)
    if not (source.key.endswith(".gz") or magic == _GZIP_MAGIC):
        if source.path.stat().st_size > limits.max_decompressed_bytes:
            raise _ObjectRejected("too_large", f"object exceeds {limits.max_decompressed_bytes} bytes")
        return source.path
    target = run.scratch / "object.decompressed"
    written = 0
    try:
        with gzip.open(source.path, "rb") as src, target.open("wb") as dst:
            while chunk := src.read(MIB):
                written += len(chunk)
                if written > limits.max_decompressed_bytes:
                    raise _ObjectRejected(
                        "too_large", f"decompressed size exceeds {limits.max_decompressed_bytes} bytes"
                    )
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise _ObjectRejected("invalid_gzip", f"cannot decompress: {exc}") from exc
    return target


def _parse(data: bytes) -> tuple[bool, Any]:
    try:
        return True, _loads(data)
    except ValueError:
        return False, None


def _detect(path: Path, limits: Limits) -> tuple[TraceFormat | str, Any]:
    """(what the object is, its parsed whole document or None): a LineFormat (JSONL, SQL path), a DocumentFormat
    (the object is one document), `lines` (JSONL of documents) or `array` (a JSON array of documents);
    raises _ObjectRejected(unknown_format | invalid_json).

    A UTF-8 byte-order mark is ignored. A first line longer than the 1 MiB head is read whole (up to
    max_line_bytes), so a single large record is still recognised."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = _strip_bom(handle.read(min(size, MIB)))
        stripped = head.lstrip()
        if not stripped:
            raise _ObjectRejected("unknown_format", "empty object")
        first_line = stripped.split(b"\n", 1)[0]
        extended = b"\n" not in stripped and handle.tell() < size
        if extended:
            first_line = stripped + handle.readline(limits.max_line_bytes)
            first_is_all = handle.tell() >= size or not (handle.read(MIB).strip() or handle.tell() < size)
        else:
            first_is_all = handle.tell() >= size and stripped.strip() == first_line.strip()
    first_ok, first_doc = _parse(first_line)
    first_kind = classify(first_doc) if first_ok else None
    if isinstance(first_kind, LineFormat | StreamFormat):
        return first_kind, None
    if isinstance(first_kind, DocumentFormat) and first_is_all:
        return first_kind, first_doc
    # A JSON document spread over lines (pretty-printed), or one line holding the whole document.
    if (
        stripped[:1] in (b"{", b"[")
        and size <= limits.max_document_bytes
        and (not first_ok or first_kind is None or first_is_all)
    ):
        _, document = _parse(_strip_bom(path.read_bytes()))
        if isinstance(document, list):
            return "array", document
        kind = classify(document)
        if isinstance(kind, DocumentFormat):
            return kind, document
        if isinstance(document, dict) and kind is None:
            keys = ", ".join(sorted(document)[:8])
            raise _ObjectRejected("unknown_format", f"JSON object with keys [{keys}]", dead_letter_raw(None, document))
    any_json = False
    for line in [first_line] if extended else head.splitlines()[:1000]:
        ok, parsed = _parse(line)
        any_json = any_json or ok
        kind = classify(parsed)
        if isinstance(kind, LineFormat):
            return kind, None
        if isinstance(kind, DocumentFormat):
            return "lines", None
    if not any_json and stripped[:1] in (b"{", b"["):
        # Looks like JSON but no part of it parses (truncated, invalid UTF-8, nested deeper than the parsers go).
        raise _ObjectRejected("invalid_json", "object is not valid JSON", dead_letter_raw(head[:65536]))
    raise _ObjectRejected("unknown_format", "no line in a known trace format", dead_letter_raw(head[:65536]))


# A Python format's row before the projection: the trace columns it fills, and what the projection needs.
_PYTHON_ROW_COLUMNS = {"ln": "BIGINT", "source_cost": "DOUBLE", "repo": "VARCHAR"}


def _run_jsonl(run: _Run, line_format: LineFormat, path: Path) -> list[TableFile]:
    con = run.con
    exact = False
    while True:
        try:
            row_numbered = jsonl.run(
                con,
                line_format,
                path,
                run.limits.max_line_bytes,
                run.ctx.meta_repo,
                run.ctx.meta_developer,
                run.scratch,
                exact,
            )
        except duckdb.InvalidInputException as exc:
            # Lines DuckDB cannot read at all (longer than max_line_bytes): the object stays in the raw zone
            # and is dead-lettered whole, so it can be split and replayed.
            raise _ObjectRejected("unreadable", f"cannot read lines: {str(exc)[:500]}") from exc
        except duckdb.OutOfMemoryException as exc:
            # A line too large to parse within memory_limit (a bound of Limits, so the same on every retry):
            # a dead letter like an over-long line, never a crash the queue would retry forever.
            detail = f"a line needs more than {run.limits.memory_limit} to parse: {str(exc)[:300]}"
            raise _ObjectRejected("too_large", detail) from exc
        summary = _ParsedSummary(con)
        if summary.invalid_repos:  # the last validation rule, checked per distinct repo rather than per row
            con.execute(
                "UPDATE parsed SET check_reason = 'invalid_repo'"
                " WHERE kind = 'row' AND check_reason IS NULL AND list_contains($repos, repo)",
                {"repos": summary.invalid_repos},
            )
            summary = _ParsedSummary(con)
        expected_lines = summary.lines if row_numbered else None
        if not summary.dead or _jsonl_dead_letters(run, line_format, path, expected_lines):
            break
        # Row numbers are not line numbers (the object has blank lines): read it again line by line.
        run.reset_dead_letters()
        exact = True
    # Duplicates (same record id) keep their first line; the window runs only when there may be any (equal
    # ids have equal 64-bit hashes), so rows otherwise stay in file order (deterministic output with one
    # thread, no sort needed).
    (distinct,) = con.execute(
        "SELECT count(DISTINCT hash(record_id)) FROM parsed WHERE kind = 'row' AND check_reason IS NULL"
    ).fetchone()  # type: ignore[misc]
    dedup = "QUALIFY row_number() OVER (PARTITION BY p.record_id ORDER BY p.ln) = 1" if distinct < summary.rows else ""
    run.session.preserve_order(True)
    _price_table(con, summary.to_price)
    # Without duplicates a view suffices: the writer scans it once for partition counts and once to COPY,
    # cheaper than materializing every row again.
    _project(con, literal(line_format.name), run.source.key, dedup)
    if dedup:  # partition sizes after the duplicates are dropped
        files = write_table(con, TRACES, "out_traces", run.workdir, run.name, _TRACE_ORDER)
    else:
        ranges = ("ln", summary.line_ranges) if summary.line_ranges else None
        files = write_table(con, TRACES, "out_traces", run.workdir, run.name, (), summary.partitions, ranges)
    rows = sum(f.rows for f in files)
    run.counts.read += summary.read
    run.counts.rows += rows
    run.counts.skipped += summary.skipped + (summary.rows - rows)
    return files


def _projection(source_format: str, source_key: str, parsed: str, rates: str, dedup: str = "", extra: str = "") -> str:
    """The one row projection of every trace format, as a SELECT: the traces rows (data and partition columns,
    plus `ln`) of the validated rows of `parsed` (kind 'row', no check_reason) and the `rates` of their (model,
    day) pairs. Total tokens, the event day and the cost (the source's own, else priced from the rates in force
    that day, tiered above a tier's start, else NULL and 'unpriced') are derived here and nowhere else.
    `source_format` and `source_key` are SQL expressions; `parsed` and `rates` relations; `dedup` a QUALIFY
    clause keeping the first line of a repeated record id; `extra` more columns of `parsed` to carry along."""
    return f"""
        SELECT p.record_id, {source_format} AS source_format, {source_key} AS source_key,
            p.session_id, p.developer_id, p.model, p.ts,
            p.tokens_in, p.tokens_out, p.cache_read_tokens, p.cache_write_tokens,
            p.tokens_in + p.tokens_out + p.cache_read_tokens + p.cache_write_tokens AS total_tokens,
            p.latency_ms, p.status_code, p.is_error, p.accepted_flag, p.accepted_lines, p.diff_ratio,
            CASE WHEN p.source_cost IS NOT NULL THEN p.source_cost
                 WHEN r.model IS NULL THEN NULL
                 WHEN r.tier_start IS NOT NULL
                     AND p.tokens_in + p.cache_read_tokens + p.cache_write_tokens > r.tier_start
                 THEN (p.tokens_in * r.t_in + p.tokens_out * r.t_out + p.cache_read_tokens * r.t_read
                       + p.cache_write_tokens * r.t_write) / 1e6
                 ELSE (p.tokens_in * r.r_in + p.tokens_out * r.r_out + p.cache_read_tokens * r.r_read
                       + p.cache_write_tokens * r.r_write) / 1e6 END AS cost_usd,
            CASE WHEN p.source_cost IS NOT NULL THEN 'source' WHEN r.model IS NOT NULL THEN 'priced'
                 ELSE 'unpriced' END AS cost_source,
            p.git_branch,
            CAST(CAST(p.ts AS DATE) AS VARCHAR) AS event_date, p.repo, p.ln{extra}
        FROM {parsed} p LEFT JOIN {rates} r ON r.model = p.model AND r.day = CAST(p.ts AS DATE)
        WHERE p.kind = 'row' AND p.check_reason IS NULL
        {dedup}
        """


def _project(con: duckdb.DuckDBPyConnection, source_format: str, source_key: str, dedup: str = "") -> None:
    """`out_traces`: the projection (_projection) of the `parsed` and `rates` tables."""
    # Without duplicates a view suffices: the writer scans it once for partition counts and once to COPY,
    # cheaper than materializing every row again.
    kind = "TABLE" if dedup else "VIEW"
    projected = _projection(source_format, literal(source_key), "parsed", "rates", dedup)
    con.execute(f"CREATE OR REPLACE TEMP {kind} out_traces AS {projected}")


class _ParsedSummary:
    """Counts of the `parsed` table in one aggregate: accounting, partitions and the (model, day) pairs to price."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        # (kind, valid, day, repo, model, no source cost, first line, last line, lines, repo is a slug) per group
        groups = con.execute(
            "SELECT *, pl_slug_ok(repo) FROM (SELECT kind, check_reason IS NULL, CAST(ts AS DATE), repo, model,"
            " source_cost IS NULL, min(ln), max(ln), count(*) FROM parsed GROUP BY ALL)"
        ).fetchall()
        self.lines = sum(g[8] for g in groups)  # rows of `parsed`: lines, or non-blank lines (NDJSON reader)
        self.read = sum(g[8] for g in groups if g[0] != "blank")
        self.skipped = sum(g[8] for g in groups if g[0] == "skip")
        self.dead = sum(g[8] for g in groups if not g[1])
        good = [g for g in groups if g[0] == "row" and g[1]]
        self.rows = sum(g[8] for g in good)
        partitions: dict[tuple[str, str], list[int]] = {}
        for _, _, day, repo, _, _, low, high, n, _ in good:
            low_, high_, n_ = partitions.get((day.isoformat(), repo), (low, high, 0))
            partitions[(day.isoformat(), repo)] = [min(low, low_), max(high, high_), n + n_]
        self.partitions = [(day, repo, n) for (day, repo), (_, _, n) in sorted(partitions.items())]
        # Line ranges of the partitions, when no two overlap (a chronological log of one repo): each partition
        # can then be written from its own range of `parsed` (see write_table).
        bounds = [(low, high) for _, (low, high, _) in sorted(partitions.items())]
        ordered = sorted(bounds)
        disjoint = all(a[1] < b[0] for a, b in itertools.pairwise(ordered))
        self.line_ranges = bounds if disjoint and len(bounds) > 1 else None
        self.invalid_repos = sorted({repo for _, _, _, repo, *_, valid_repo in good if not valid_repo})
        self.to_price = sorted(
            {(model, day) for _, _, day, _, model, unpriced, *_ in good if unpriced and model is not None}
        )


# The price table of an object's (model, day) pairs, as the projection joins it.
_RATES_COLUMNS = {
    "model": "VARCHAR",
    "day": "DATE",
    "r_in": "DOUBLE",
    "r_out": "DOUBLE",
    "r_read": "DOUBLE",
    "r_write": "DOUBLE",
    "tier_start": "BIGINT",
    "t_in": "DOUBLE",
    "t_out": "DOUBLE",
    "t_read": "DOUBLE",
    "t_write": "DOUBLE",
}


def _rates(pairs: Iterable[tuple[str, date]]) -> list[tuple[Any, ...]]:
    """The rates of each priced (model, day) pair, in _RATES_COLUMNS order (models without a price are left out)."""
    values = []
    for model, day in pairs:
        rates = pricing.rates_for(model, day)
        if rates is not None:
            values.append(
                (
                    model,
                    day,
                    rates.input,
                    rates.output,
                    rates.cache_read,
                    rates.cache_write,
                    rates.tier_start,
                    rates.tier_input,
                    rates.tier_output,
                    rates.tier_cache_read,
                    rates.tier_cache_write,
                )
            )
    return values


def _price_table(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, date]]) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in _RATES_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE rates ({columns})")
    values = _rates(pairs)
    if values:
        con.executemany(f"INSERT INTO rates VALUES ({', '.join('?' for _ in _RATES_COLUMNS)})", values)


def _jsonl_dead_letters(run: _Run, line_format: LineFormat, path: Path, expected_lines: int | None) -> bool:
    """Dead letters of a JSONL object, with the raw line (text fields stripped when it is valid JSON).

    With expected_lines set, `ln` is a row number of the NDJSON reader: it is a line number only when the file
    has that many lines. Returns False (dead letters to be discarded) when it has not."""
    con = run.con
    cursor = con.execute("SELECT ln, check_reason, ts_raw, repo FROM parsed WHERE check_reason IS NOT NULL ORDER BY ln")

    def dead_rows() -> Iterator[tuple]:
        while batch := cursor.fetchmany(run.limits.chunk_rows):
            yield from batch

    # The ordered dead lines and one sequential pass over the file for their raw text: both sides stream,
    # so an object of millions of bad lines stays within memory.
    rows, numbers = itertools.tee(dead_rows())
    reader = jsonl.NumberedLines(path)
    for (ln, reason, ts_raw, repo), (_, raw_line) in zip(rows, reader.lines_at(row[0] for row in numbers), strict=True):
        if ln == 1:
            raw_line = _strip_bom(raw_line)
        line = raw_line.decode("utf-8", "replace")
        # Judged on the bytes: a line with invalid UTF-8 is not JSON, even if it is once decoded with
        # replacement characters.
        if reason == "invalid_record" and not _parse(raw_line)[0]:
            valid_utf8 = "\ufffd" not in line or b"\xef\xbf\xbd" in raw_line
            reason, detail = "invalid_json", "line is not valid " + ("JSON" if valid_utf8 else "UTF-8")
        else:
            detail = jsonl.detail_for(line_format, reason, ts_raw, repo)
        run.dead_letter(ln, reason, detail, dead_letter_raw(line))
    return expected_lines is None or reader.total == expected_lines


def _document_outcomes(run: _Run, items: list[tuple[int, Any]]) -> Iterator[tuple[int, Outcome]]:
    """The outcomes of documents (each with its line number, 0 = the whole object), handed to their format a run
    of consecutive documents at a time (one evaluation of the field rules per run)."""
    for fmt, group in itertools.groupby(items, key=lambda item: classify(item[1])):
        if isinstance(fmt, DocumentFormat):
            yield from fmt.records(group, run.ctx)
            continue
        for line_number, document in group:
            yield (
                line_number,
                Dead("unknown_format", "not a LiteLLM payload or OTLP export", dead_letter_raw(None, document)),
            )


def _accepted_rows(run: _Run, outcomes: Iterable[tuple[int, Outcome]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The accounting of a Python-parsed object: every outcome is one record read; a row whose record id came
    before in the object is a skip (counted once), a skip is a skip, a dead letter is written. Yields the rows
    kept, with their line numbers."""
    seen: set[str] = set()
    try:
        for line_number, outcome in outcomes:
            run.counts.read += 1
            if isinstance(outcome, Row):
                if outcome.values["record_id"] in seen:
                    run.counts.skipped += 1
                    continue
                seen.add(outcome.values["record_id"])
                run.counts.rows += 1
                yield line_number, outcome.values
            elif isinstance(outcome, Skip):
                run.counts.skipped += 1
            else:
                run.dead_letter(line_number, outcome.reason, outcome.detail, outcome.raw)
    except duckdb.OutOfMemoryException as exc:
        # a field too large for the field rules' connection (rules.py), like a line too large to parse
        raise _ObjectRejected(
            "too_large", f"a field needs more memory to check than allowed: {str(exc)[:300]}"
        ) from exc


# A Python-parsed object of at most this many rows hands them to DuckDB as one JSON text and is written by one
# statement (projection and partitioned COPY together); a larger one goes through an NDJSON file and temp tables.
SMALL_OBJECT_ROWS = 2_000


def _python_rows(run: _Run, outcomes: Iterable[tuple[int, Outcome]]) -> list[TableFile]:
    """Rows of the Python-parsed formats: one outcome per record read, each with its line number. The rows then
    go through the same projection as the JSONL formats' (_projection: total tokens, event day, cost)."""
    rows: list[dict[str, Any]] = []
    sink: NdjsonSink | None = None
    for line_number, row in _accepted_rows(run, outcomes):
        if sink is None and len(rows) == SMALL_OBJECT_ROWS:
            sink = NdjsonSink(run.scratch / "rows.ndjson")
            for kept in rows:
                sink.add(kept)
            rows = []
        if sink is None:
            rows.append({**row, "ln": line_number})
        else:
            sink.add({**row, "ln": line_number})
    if sink is None:
        return _small_python_rows(run, rows)
    sink.close()
    load_ndjson(run.con, "python_rows", sink.path, _python_row_columns())
    run.con.execute(
        "CREATE OR REPLACE TEMP TABLE parsed AS SELECT 'row' AS kind, NULL AS check_reason, * FROM python_rows"
    )
    pairs = run.con.execute(
        "SELECT DISTINCT model, CAST(ts AS DATE) FROM parsed WHERE source_cost IS NULL AND model IS NOT NULL"
    ).fetchall()
    _price_table(run.con, sorted(pairs))
    _project(run.con, "p.source_format", run.source.key)
    run.session.preserve_order(True)
    return write_table(run.con, TRACES, "out_traces", run.workdir, run.name, _TRACE_ORDER)


def _python_row_columns() -> dict[str, str]:
    """A Python format's row before the projection: the trace columns it fills, and what the projection needs."""
    columns = {**_PYTHON_ROW_COLUMNS, **TRACES.duckdb_columns()}
    for derived in ("total_tokens", "cost_usd", "cost_source"):
        columns.pop(derived)
    return columns


def _json_relation(rows: list[Any], columns: dict[str, str]) -> str:
    """A relation of typed columns over rows given as one JSON text (JSON reads them as the NDJSON reader would)."""
    structure = orjson.dumps([columns]).decode()
    text = orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()
    return f"(SELECT unnest(from_json({literal(text)}, {literal(structure)}), recursive := true))"


def _small_python_rows(run: _Run, rows: list[dict[str, Any]]) -> list[TableFile]:
    """The rows of a small Python-parsed object: _write_small_objects for this object alone."""
    return _write_small_objects(run.session, [(run, rows)], run.workdir)[0]


def _write_small_objects(
    held: session.Session, objects: list[tuple[_Run, list[dict[str, Any]]]], out_dir: Path
) -> list[list[TableFile]]:
    """The rows of small Python-parsed objects in one statement and no temp table: the projection over every
    object's rows (one JSON text) and the rates of their (model, day) pairs, written by one partitioned COPY
    whose files are one per (object, partition). Returns each object's files."""
    if not any(rows for _, rows in objects):
        return [[] for _ in objects]
    tagged = [
        {**row, "source_key": run.source.key, "pl_object": n} for n, (run, rows) in enumerate(objects) for row in rows
    ]
    pairs = {(r["model"], r["ts"].date()) for r in tagged if r["source_cost"] is None and r["model"] is not None}
    rates = [dict(zip(_RATES_COLUMNS, values, strict=True)) for values in _rates(sorted(pairs))]
    columns = {**_python_row_columns(), "source_key": "VARCHAR", "pl_object": "BIGINT"}
    parsed = f"(SELECT 'row' AS kind, NULL AS check_reason, * FROM {_json_relation(tagged, columns)})"
    rate_relation = _json_relation(rates, _RATES_COLUMNS)
    projected = _projection("p.source_format", "p.source_key", parsed, rate_relation, extra=", p.pl_object")
    keys = TRACES.partition_keys
    # one folder per file: the object and the partition values in one partition column, split again below (no
    # value but the last holds a "/")
    file_of = " || '/' || ".join(f"CAST({ident(c)} AS VARCHAR)" for c in ("pl_object", *keys))
    order = ", ".join(ident(c) for c in ("pl_object", *keys, *_TRACE_ORDER))
    data = typed_select(TRACES.duckdb_columns().items())
    select = f"SELECT {data}, {file_of} AS pl_file FROM ({projected}) ORDER BY {order}"
    held.preserve_order(True)
    name = objects[0][0].name if len(objects) == 1 else "objects"
    files: list[list[TableFile]] = [[] for _ in objects]
    for partition, path, count in copy_partitioned(held.con, select, out_dir / TRACES.name, ("pl_file",), name):
        n, *values = partition["pl_file"].split("/", len(keys))
        files[int(n)].append(TableFile(TRACES.name, dict(zip(keys, values, strict=True)), path, count))
    for (run, rows), written in zip(objects, files, strict=True):
        if sum(f.rows for f in written) != len(rows):
            raise RuntimeError(f"{run.source.key}: wrote {sum(f.rows for f in written)} rows, expected {len(rows)}")
    return files


def _json_lines(run: _Run, path: Path) -> list[tuple[int, Any]]:
    items = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            line = _strip_bom(raw) if number == 1 else raw
            if not line.strip():
                continue
            if len(line) > run.limits.max_line_bytes:
                run.counts.read += 1
                run.dead_letter(
                    number,
                    "line_too_long",
                    f"line exceeds {run.limits.max_line_bytes} bytes",
                    dead_letter_raw(line[:65536]),
                )
                continue
            try:
                items.append((number, _loads(line)))
            except ValueError:
                run.counts.read += 1
                run.dead_letter(number, "invalid_json", "line is not valid JSON", dead_letter_raw(line))
    return items


def _run_traces(run: _Run, path: Path) -> tuple[str | None, list[TableFile]]:
    detected, document = _detect(path, run.limits)
    if isinstance(detected, LineFormat):
        return detected.name, _run_jsonl(run, detected, path)
    if isinstance(detected, StreamFormat):
        return detected.name, _python_rows(run, detected.records(_json_lines(run, path), run.ctx))
    if detected == "array":
        items = list(enumerate(document, 1))
    elif detected == "lines":
        items = _json_lines(run, path)
    else:
        items = [(0, document)]
    kinds = {fmt.name for _, doc in items if (fmt := classify(doc)) is not None}
    label = kinds.pop() if len(kinds) == 1 else (str(detected) if not kinds else "mixed")
    return label, _python_rows(run, _document_outcomes(run, items))


def _run_github(run: _Run, path: Path) -> tuple[str | None, list[TableFile]]:
    from prodlens.normalize.github import parse_github_page  # another module of this package; guarded for tests

    try:
        page = parse_github_page(run.source.key, path.read_bytes())
    except ValueError as exc:  # a key outside github/<owner>/<name>/{pulls,commits,issue_events}/
        raise _ObjectRejected("unknown_format", str(exc)) from exc
    table = TABLES[page.table]
    run.counts.read += page.read
    run.counts.skipped += page.skipped
    run.counts.rows += len(page.rows)
    for letter in page.dead_letters:
        run.dead_letter(letter["line_number"], letter["reason"], letter.get("detail", ""), letter.get("raw", ""))
    sink = NdjsonSink(run.scratch / "github.ndjson")
    for row in page.rows:
        sink.add({**row, "repo": page.repo})
    sink.close()
    columns = {**table.duckdb_columns(), **dict.fromkeys(table.partition_keys, "VARCHAR")}
    load_ndjson(run.con, "out_github", sink.path, columns)
    run.session.preserve_order(True)
    order = tuple(c for c in table.column_names if c in ("pr_id", "sha", "event_id", "updated_at"))
    return "github", write_table(run.con, table, "out_github", run.workdir, run.name, order)


def _usage_items(run: _Run, path: Path) -> list[tuple[int, Any]]:
    """A usage object as JSON items: the whole document (0), each element of a top-level array (1..n), or
    each JSON line (1-based line numbers; a bad line is a dead letter)."""
    if path.stat().st_size <= run.limits.max_document_bytes:
        whole, document = _parse(_strip_bom(path.read_bytes()))
        if whole and isinstance(document, list):
            return list(enumerate(document, 1))
        if whole:
            return [(0, document)]
    return _json_lines(run, path)


def _run_usage(run: _Run, path: Path) -> tuple[str | None, list[TableFile]]:
    """usage/**: a vendor usage report -> usage_records rows (and ai_commit_records rows), one outcome per record."""
    items = _usage_items(run, path)
    if not items:
        if run.counts.read:  # every line was a dead letter already
            return None, []
        raise _ObjectRejected("unknown_format", "empty object")
    fmt = usage.classify(run.source.key, items[0][1])
    if fmt is None:
        folder = "/".join(run.source.key.split("/")[:2])
        raise _ObjectRejected(
            "unknown_format", f"not a known usage report for {folder}/", dead_letter_raw(None, items[0][1])
        )
    tables = (USAGE_RECORDS, AI_COMMIT_RECORDS)
    sinks = {table.name: NdjsonSink(run.scratch / f"{table.name}.ndjson") for table in tables}
    for _, row in _accepted_rows(run, fmt.records(items, run.ctx)):
        table = AI_COMMIT_RECORDS if "sha" in row else USAGE_RECORDS
        sinks[table.name].add({**row, "reported_at": run.source.last_modified})
    files: list[TableFile] = []
    run.session.preserve_order(True)
    for table in tables:
        sink = sinks[table.name]
        sink.close()
        if not sink.count:
            continue
        columns = {**table.duckdb_columns(), **dict.fromkeys(table.partition_keys, "VARCHAR")}
        load_ndjson(run.con, f"out_{table.name}", sink.path, columns)
        files += write_table(run.con, table, f"out_{table.name}", run.workdir, run.name, ("record_id",))
    return fmt.name, files


def _not_normalized(source: SourceObject) -> NormalizeOutput | None:
    """The output of an object known by its key alone: not input, or a source's object that holds no requests."""
    key = source.key
    if not key.startswith(INPUT_PREFIXES):
        return NormalizeOutput(key, None, Counts(), [], skipped_reason="not_input")
    if key.startswith("traces/") and (skipped := skipped_by_key(key)):
        return NormalizeOutput(key, skipped[0], Counts(read=1, skipped=1), [], skipped_reason=skipped[1])
    return None


def _reject(run: _Run, exc: _ObjectRejected, files: list[TableFile]) -> None:
    """Whole-object rejection: nothing of this object is written except its one dead letter."""
    for table_file in files:
        table_file.path.unlink(missing_ok=True)
    files.clear()
    run.reset_dead_letters()
    run.counts = Counts(read=1)
    run.dead_letter(0, exc.reason, exc.detail, exc.raw)


def normalize_object(source: SourceObject, workdir: Path, limits: Limits = Limits()) -> NormalizeOutput:  # noqa: B008
    """Normalize one raw object into Parquet files under `workdir` (see module docstring).

    Data problems become dead letters; only infrastructure failures (disk, DuckDB) raise. For every object
    `counts.rows + counts.dead_letters + counts.skipped == counts.read`.
    """
    known = _not_normalized(source)
    if known is not None:
        return known
    key = source.key
    workdir.mkdir(parents=True, exist_ok=True)
    run = _Run(source, workdir, limits)
    source_format: str | None = None
    files: list[TableFile] = []
    try:
        try:
            path = _materialize(source, run, limits)
            if key.startswith("github/"):
                source_format, files = _run_github(run, path)
            elif key.startswith("usage/"):
                source_format, files = _run_usage(run, path)
            else:
                source_format, files = _run_traces(run, path)
        except _ObjectRejected as exc:
            _reject(run, exc, files)
        return run.finish(source_format, files)
    except BaseException:
        # the session may hold half an object: it is closed, and the next object opens a fresh one
        run.close_after_failure()
        raise


# An object read together with others (normalize_objects): a plain traces object this small, holding one document.
SMALL_OBJECT_BYTES = 1 * MIB


def normalize_objects(
    sources: list[SourceObject],
    workdir: Path,
    limits: Limits = Limits(),  # noqa: B008
) -> list[NormalizeOutput | Exception]:
    """normalize_object for several objects (an SQS batch), object i's outputs under workdir/<i>/; an object whose
    normalization raised has its exception in its place, and the others are not affected.

    Small objects that hold one JSON document (LiteLLM's S3 logger writes one object per request) are read
    together: the field rules of all of them are evaluated in one query, and their rows written by one COPY (one
    file per object and partition), which is what a whole batch of them costs instead of each of them. Should that
    shared work raise, each of those objects is normalized again on its own, so that an error stays its object's."""
    results: list[NormalizeOutput | Exception | None] = [None] * len(sources)
    rules = Rules()
    together: list[tuple[int, _Run, str, list[tuple[int, Any]]]] = []
    for i, source in enumerate(sources):
        known = _not_normalized(source)
        if known is not None:
            results[i] = known
            continue
        if len(sources) > 1:
            try:
                prepared = _prepare_document(source, workdir / str(i), limits, rules)
            except Exception as exc:  # noqa: BLE001 - an infrastructure error of this object only
                results[i] = exc
                continue
            if prepared is not None:
                together.append((i, *prepared))
                continue
        results[i] = _normalize_alone(source, workdir / str(i), limits)
    if together:
        try:
            outputs = _normalize_together([(run, label, items) for _, run, label, items in together])
        except Exception:  # noqa: BLE001 - redone object by object, so that it stays the failing object's error
            session.discard()
            for i, run, _, _ in together:
                run.close_after_failure()
                results[i] = _normalize_alone(run.source, workdir / str(i), limits)
        else:
            for (i, *_), output in zip(together, outputs, strict=True):
                results[i] = output
    return [result for result in results if result is not None]


def _normalize_alone(source: SourceObject, workdir: Path, limits: Limits) -> NormalizeOutput | Exception:
    try:
        return normalize_object(source, workdir, limits)
    except Exception as exc:  # noqa: BLE001 - reported in the object's place (normalize_objects)
        return exc


def _prepare_document(
    source: SourceObject, workdir: Path, limits: Limits, rules: Rules
) -> tuple[_Run, str, list[tuple[int, Any]]] | None:
    """A small plain traces object holding one document of a Python format: its run (sharing `rules`), format and
    document, its field-rule leaves announced; None for any other object (normalized on its own)."""
    if source.key.endswith(".gz") or source.path.stat().st_size > SMALL_OBJECT_BYTES:
        return None
    run = _Run(source, workdir, limits, rules)
    try:
        detected, document = _detect(source.path, limits)
    except _ObjectRejected:
        detected = None
    if not isinstance(detected, DocumentFormat) or document is None:
        run.close()
        return None
    items = [(0, document)]
    if detected.announce is not None:
        detected.announce(items, run.ctx)
    return run, detected.name, items


def _normalize_together(objects: list[tuple[_Run, str, list[tuple[int, Any]]]]) -> list[NormalizeOutput]:
    """Small one-document objects (normalize_objects): their outcomes (the field rules evaluated once for all, their
    leaves announced), then one COPY of all their rows, then each object's dead letters and accounting."""
    read: list[tuple[_Run, list[dict[str, Any]]]] = []
    for run, _, items in objects:
        try:
            rows = [{**row, "ln": line} for line, row in _accepted_rows(run, _document_outcomes(run, items))]
        except _ObjectRejected as exc:
            _reject(run, exc, [])
            rows = []
        read.append((run, rows))
    written = _write_small_objects(objects[0][0].session, read, objects[0][0].workdir.parent / "together")
    return [run.finish(label, files) for (run, label, _), files in zip(objects, written, strict=True)]


def normalize_paths(paths: list[Path], out_dir: Path) -> dict[str, Any]:
    """`prodlens normalize FILE... --out DIR`: the lake layout under out_dir and a summary dict.

    Each file's key is its path from its first traces/, github/ or usage/ folder, else `traces/local/<name>`;
    a file's modification time stands for the object's stored time.
    """
    summary = {"rows": 0, "dead_letters": 0, "skipped": 0, "read": 0, "objects": 0}
    work = out_dir / ".normalize-work"
    for path in paths:
        text = "/" + path.as_posix()
        found = [text.index(f"/{p}") + 1 for p in INPUT_PREFIXES if f"/{p}" in text]
        key = text[min(found) :] if found else f"traces/local/{path.name}"
        stored = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
        output = normalize_object(SourceObject(key, path, last_modified=stored), work / source_id(key))
        for table_file in output.files:
            target = out_dir / object_key(table_file.table, table_file.partition, source_id(key))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(table_file.path, target)
        for name, value in output.counts.as_dict().items():
            summary[name] += value
        summary["objects"] += 1
    shutil.rmtree(work, ignore_errors=True)
    return summary
