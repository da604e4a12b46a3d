"""The field rules of every trace and usage format (contract §1–§3), each defined once, as DuckDB SQL macros:
timestamps, token counts, numbers, integers, booleans, git branch names and repo slugs.

The vectorized JSONL formats (normalize.jsonl) apply the macros to the VARCHAR leaves of DuckDB's NDJSON reader.
The Python-parsed formats apply the same macros through `Rules` (one per object, `ObjectContext.rules`): a raw
leaf becomes the text that reader would have produced (`leaf_text`), the leaves a format announces with
`prefetch` are evaluated together in one query, and the results are kept by text for the rest of the object.
A leaf not announced costs a query of its own. The queries run on one DuckDB connection per process (and
thread) through statements prepared once, so a warm Lambda binds the macros once, not per object.

Dead-letter details stay each path's own: the JSONL path quotes the line's text, the Python formats describe
the raw value (its type, or a string's length where the value may be text).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import duckdb
import orjson

from prodlens.normalize.fields import RecordError

# Years outside this range are treated as invalid_timestamp rather than stored: a year 9999 or 1970
# value is an encoding bug upstream (wrong epoch unit, zero default), and would create absurd partitions.
MIN_YEAR = 2000
MAX_YEAR = 2100
# A token count above this is an encoding bug, not usage; the bound also keeps the sum of a row's four
# counts (total_tokens) inside BIGINT.
MAX_TOKENS = 10**15

MACROS = rf"""
-- absent: no value or empty text (a missing timestamp is never replaced by "now")
CREATE OR REPLACE TEMP MACRO pl_absent(s) AS s IS NULL OR s = '';
-- epochs in s / ms / us / ns by magnitude: integers exactly (ns truncated to the us; the list binds i once),
-- other numbers rounded to the us
CREATE OR REPLACE TEMP MACRO pl_epoch_int(i) AS list_transform([i], lambda v: make_timestamp(CAST(CASE
    WHEN abs(v) < 100000000000 THEN v * 1000000 WHEN abs(v) < 100000000000000 THEN v * 1000
    WHEN abs(v) < 100000000000000000 THEN v ELSE v // 1000 END AS BIGINT)))[1];
CREATE OR REPLACE TEMP MACRO pl_epoch(x) AS make_timestamp(CAST(round(
    CASE WHEN abs(x) < 1e11 THEN x * 1e6 WHEN abs(x) < 1e14 THEN x * 1e3 WHEN abs(x) < 1e17 THEN x ELSE x / 1e3 END
) AS BIGINT));
-- ISO strings (the common case) are tried first: they hold '-' or ':', an epoch number does not (a negative
-- epoch would, and is rejected either way as out of range). A `[seconds, nanos]` pair is a JSON list.
CREATE OR REPLACE TEMP MACRO pl_ts(s) AS CASE
    WHEN pl_absent(s) THEN NULL
    WHEN contains(s, '-') OR contains(s, ':') THEN make_timestamp(epoch_us(try_cast(s AS TIMESTAMPTZ)))
    WHEN regexp_full_match(s, ' *[0-9]{{1,38}} *|\[ *[0-9]{{1,20}} *, *[0-9]{{1,20}} *\]') THEN try(pl_epoch_int(
        CASE WHEN starts_with(s, '[') THEN list_reduce(CAST(s AS HUGEINT[]), lambda a, b: a * 1000000000 + b)
        ELSE CAST(s AS HUGEINT) END))
    ELSE try(pl_epoch(try_cast(s AS DOUBLE))) END;
CREATE OR REPLACE TEMP MACRO pl_ts_ok(t) AS t IS NOT NULL AND year(t) BETWEEN {MIN_YEAR} AND {MAX_YEAR};
-- the dead-letter reason of a timestamp (s: its text, t: pl_ts(s)); NULL when valid
CREATE OR REPLACE TEMP MACRO pl_ts_check(s, t) AS CASE
    WHEN pl_absent(s) THEN 'missing_timestamp' WHEN NOT pl_ts_ok(t) THEN 'invalid_timestamp' END;
-- token count: pl_tok(s) is NULL when absent, -1 when not an integer (integral decimals like 12.0 accepted); the
-- count is valid when pl_tok_ok (the JSONL path checks it after deriving a row's counts, e.g. total - output)
CREATE OR REPLACE TEMP MACRO pl_tok(s) AS CASE
    WHEN s IS NULL THEN NULL
    WHEN contains(s, '.') THEN CASE WHEN regexp_full_match(s, '[0-9]{{1,18}}\.0*')
        THEN CAST(split_part(s, '.', 1) AS BIGINT) ELSE -1 END
    ELSE coalesce(try_cast(s AS BIGINT), -1) END;
CREATE OR REPLACE TEMP MACRO pl_tok_ok(n) AS n BETWEEN 0 AND {MAX_TOKENS};
CREATE OR REPLACE TEMP MACRO pl_bool(s) AS CASE
    WHEN lower(s) IN ('true', '1', 'yes') THEN true WHEN lower(s) IN ('false', '0', 'no') THEN false END;
-- NaN / Infinity (Python writers emit them; DuckDB's JSON reader accepts them) are unknown values, not numbers
CREATE OR REPLACE TEMP MACRO pl_fin(x) AS CASE WHEN isfinite(x) THEN x END;
CREATE OR REPLACE TEMP MACRO pl_dbl(s) AS pl_fin(try_cast(s AS DOUBLE));
-- a whole number within INTEGER (a status code, a line count): 12.5 is none, rather than 12 or 13
CREATE OR REPLACE TEMP MACRO pl_whole(x) AS CASE WHEN x = trunc(x) AND abs(x) < 2147483648 THEN CAST(x AS INTEGER) END;
-- lower() only on ASCII text (as many bytes as characters): Unicode case folding maps look-alikes such as
-- KELVIN SIGN to ASCII letters; non-ASCII text is kept as is and fails pl_slug_ok (invalid_repo).
CREATE OR REPLACE TEMP MACRO pl_slug(s) AS nullif(CASE WHEN strlen(s) = length(s) THEN lower(trim(s))
    ELSE trim(s) END, '');
-- a git branch name as the tool recorded it: trimmed, 1-255 characters (a longer value is not a ref name)
CREATE OR REPLACE TEMP MACRO pl_branch(s) AS CASE WHEN length(trim(s)) BETWEEN 1 AND 255 THEN trim(s) END;
-- `name` or `owner/name` of [a-z0-9._-], without `..`
CREATE OR REPLACE TEMP MACRO pl_slug_ok(slug) AS regexp_full_match(slug, '[a-z0-9._-]+(/[a-z0-9._-]+)?')
    AND NOT contains(slug, '..');
"""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """The macros on a connection; naive timestamps are UTC."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(MACROS)


# The rules a Python format looks up: the columns each reads (over `s`, the leaf text) and the intermediate
# column they need. One query evaluates each rule an object asked for over the leaves asked for with it.
TIMESTAMP, TOKENS, NUMBER, INTEGER, BOOLEAN, SLUG = "timestamp", "tokens", "number", "integer", "boolean", "slug"
BRANCH = "branch"
_RULES: dict[str, tuple[tuple[str, ...], str]] = {
    TIMESTAMP: (("CASE WHEN pl_ts_ok(t) THEN t END", "pl_ts_check(s, t)", "t IS NOT NULL"), "pl_ts(s) AS t"),
    TOKENS: (("CASE WHEN n IS NULL OR pl_tok_ok(n) THEN n ELSE -1 END",), "pl_tok(s) AS n"),
    NUMBER: (("d",), "pl_dbl(s) AS d"),
    INTEGER: (("pl_whole(d)",), "pl_dbl(s) AS d"),
    BOOLEAN: (("pl_bool(s)",), ""),
    SLUG: (("g", "pl_slug_ok(g)"), "pl_slug(s) AS g"),
    BRANCH: (("pl_branch(s)",), ""),
}
# texts and characters per query: bound the memory of one evaluation
_CHUNK, _CHUNK_CHARS = 50_000, 8 * 1024 * 1024


class _Evaluator:
    """The process's rule connection (one per thread; a forked child opens its own), made by
    session.open_connection. Each set of rules is one statement prepared once per process, whose parameters are
    the leaves of each rule as one JSON text: a statement bound once costs a fraction of binding the macros afresh
    for every object, and one string crosses into DuckDB several times faster than a list of them. Its queries are
    small, so the optimizer would cost more than it saves."""

    def __init__(self) -> None:
        from prodlens.normalize.session import open_connection  # the session module builds on these macros

        self.con = open_connection(1, "128MB", optimizer=False)
        self.prepared: set[str] = set()
        self.pid = os.getpid()

    def run(self, batch: dict[str, list[str | None]]) -> list[list[Any]]:
        """For each rule of `batch` in _RULES order: its texts, then one list per column of the rule."""
        rules = [rule for rule in _RULES if rule in batch]
        name = "pl_rules_" + "_".join(rules)
        if name not in self.prepared:
            parts = []
            for number, rule in enumerate(rules, 1):
                columns, needed = _RULES[rule]
                lists = ", ".join(f"list({column})" for column in ("s", *columns))
                parts.append(
                    f"(SELECT {lists} FROM (SELECT s{', ' + needed if needed else ''} FROM"
                    f" (SELECT unnest(from_json(${number}, '[\"VARCHAR\"]')) AS s)))"
                )
            self.con.execute(f"PREPARE {name} AS SELECT * FROM {', '.join(parts)}")
            self.prepared.add(name)
        # the texts as SQL string literals of their JSON (orjson escapes control characters, NUL included)
        texts = ", ".join("'" + orjson.dumps(batch[rule]).decode().replace("'", "''") + "'" for rule in rules)
        return list(self.con.execute(f"EXECUTE {name}({texts})").fetchone() or ())


_local = threading.local()


def _evaluator() -> _Evaluator:
    held = getattr(_local, "evaluator", None)
    if held is None or held.pid != os.getpid():
        held = _local.evaluator = _Evaluator()
    return held


def leaf_text(value: Any) -> str | None:
    """A parsed JSON value as DuckDB's NDJSON reader reads it into a VARCHAR: strings as they are, numbers and
    literals as JSON text, lists and objects as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.isascii():
            return value
        # a lone surrogate cannot reach DuckDB; '?' keeps such a leaf invalid for every rule
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            return repr(value)
        except ValueError:  # an integer beyond Python's digit limit: no rule's value
            return "1e9999"
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return "[not serializable]"


def _shape(value: Any) -> str:
    """A value's type for a detail, without its content: a string may be text that must not reach the lake."""
    return f"a {len(value)}-character string" if isinstance(value, str) else f"a {type(value).__name__}"


class Rules:
    """The rules applied to one object's raw leaves (module docstring): each lookup takes a raw JSON value."""

    def __init__(self) -> None:
        self._known: dict[str, dict[str | None, Any]] = {rule: {} for rule in _RULES}
        self._pending: dict[str, set[str | None]] = {rule: set() for rule in _RULES}

    def prefetch(self, rule: str, values: Iterable[Any]) -> None:
        """Leaves about to be looked up with `rule`: evaluated together, in one query, at the next lookup."""
        pending = self._pending[rule]
        pending.update(map(leaf_text, values))
        pending.difference_update(self._known[rule].keys())

    def prefetch_leaves(self, records: Iterable[Mapping[str, Any]], rule_of: Mapping[str, str]) -> None:
        """prefetch for records of named raw leaves: `rule_of` names each leaf's rule."""
        records = list(records)
        for name, rule in rule_of.items():
            self.prefetch(rule, (record.get(name) for record in records))

    def _result(self, rule: str, value: Any) -> Any:
        text = value if type(value) is str and value.isascii() else leaf_text(value)  # the common case, inline
        try:
            return self._known[rule][text]
        except KeyError:
            self._pending[rule].add(text)
            self._evaluate()
            return self._known[rule][text]

    def _evaluate(self) -> None:
        """Every pending leaf, each rule over its own texts, in queries of at most _CHUNK texts or _CHUNK_CHARS
        characters (a single leaf larger than the connection's memory raises duckdb.OutOfMemoryException)."""
        pending, self._pending = self._pending, {rule: set() for rule in _RULES}
        batch: dict[str, list[str | None]] = {}
        count = size = 0
        for rule, texts in pending.items():
            for text in texts:
                batch.setdefault(rule, []).append(text)
                count, size = count + 1, size + len(text or "")
                if count == _CHUNK or size >= _CHUNK_CHARS:
                    self._store(batch)
                    batch, count, size = {}, 0, 0
        if batch:
            self._store(batch)

    def _store(self, batch: dict[str, list[str | None]]) -> None:
        results = iter(_evaluator().run(batch))
        for rule in _RULES:
            if rule in batch:
                # the texts come back from the same aggregate as their results: the lists align
                texts, *lists = (next(results) for _ in range(1 + len(_RULES[rule][0])))
                values = lists[0] if len(lists) == 1 else zip(*lists, strict=True)
                self._known[rule].update(zip(texts, values, strict=True))

    def timestamp(self, value: Any) -> datetime:
        """A naive UTC datetime; RecordError(missing_timestamp | invalid_timestamp) otherwise.

        ISO-8601 with Z or an offset, naive strings (taken as UTC), epoch s/ms/us/ns as numbers or decimal
        strings (OTLP `*UnixNano`), `[seconds, nanos]` pairs; MIN_YEAR..MAX_YEAR."""
        ts, check, parsed = self._result(TIMESTAMP, value)
        if ts is not None:
            return ts
        if check == "missing_timestamp":
            raise RecordError(check, "no timestamp")
        raise RecordError("invalid_timestamp", _timestamp_detail(value, parsed))

    def tokens(self, value: Any, name: str) -> int | None:
        """A token count (a non-negative integer; integral decimals accepted); None when absent."""
        count = self._result(TOKENS, value)
        if count is None or count >= 0:
            return count
        if isinstance(value, bool):
            detail = f"{name} is a boolean"
        elif isinstance(value, int):
            detail = f"{str(value)[:32]} {name} is out of range"
        else:
            detail = f"{name} is {_shape(value)}, not a non-negative integer"
        raise RecordError("invalid_tokens", detail)

    def number(self, value: Any) -> float | None:
        """A finite number (numeric text included); None otherwise."""
        return self._result(NUMBER, value)

    def integer(self, value: Any) -> int | None:
        """A whole number within INTEGER; None otherwise."""
        return self._result(INTEGER, value)

    def boolean(self, value: Any) -> bool | None:
        """true/false, 1/0, yes/no (any case); None otherwise."""
        return self._result(BOOLEAN, value)

    def branch(self, value: Any) -> str | None:
        """A git branch name (the leaf's text, trimmed, 1-255 characters); None otherwise."""
        return self._result(BRANCH, value)

    def slug(self, value: Any) -> str | None:
        """A lower-cased `owner/name` slug, None when absent or blank; RecordError(invalid_repo) when malformed."""
        slug, ok = self._result(SLUG, value)
        if slug is None or ok:
            return slug
        detail = f"repo {value[:128]!r} is not an owner/name slug" if isinstance(value, str) else None
        raise RecordError("invalid_repo", detail or f"repo of type {type(value).__name__}")


def _timestamp_detail(value: Any, parsed: bool) -> str:
    if parsed:
        return f"timestamp {str(value)[:64]!r} is outside {MIN_YEAR}-{MAX_YEAR}"
    if isinstance(value, bool):
        return f"timestamp {value!r} is a boolean"
    if isinstance(value, str | int | float):
        shown = repr(value[:64]) if isinstance(value, str) else repr(value)
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return f"timestamp {shown} is not ISO-8601"
        return f"timestamp {shown} {'out of range' if math.isfinite(number) else 'is not a finite number'}"
    return f"timestamp of type {type(value).__name__}"
