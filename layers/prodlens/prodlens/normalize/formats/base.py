"""What a trace format is: its detection and its parsing, in one of two shapes.

- `LineFormat`: JSON Lines read vectorized in DuckDB SQL (see normalize.jsonl). The format gives the typed
  structure the NDJSON reader reads each line into, and the SQL that turns those columns into candidate rows.
- `DocumentFormat`: one JSON document per record or per object, parsed in Python. The format is handed the
  object's documents (each with its line number) and yields one `Outcome` per record it reads, with the line
  number of its document: a canonical row, a skip, or a dead letter.
- `StreamFormat`: JSON Lines whose records depend on the lines before them (a session log with cumulative
  counters), parsed in Python in file order: one `Outcome` per line, with its line number.

The Python formats take their field rules from `ObjectContext.rules` (normalize.rules), announcing the raw
leaves of all their records first so that an object's rules are evaluated in one query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prodlens.normalize.rows import ObjectContext


@dataclass(frozen=True)
class Row:
    """A canonical traces row (rows.canonical_row)."""

    values: dict[str, Any]


@dataclass(frozen=True)
class Skip:
    """A record that is not an AI request (a non-LLM span)."""


@dataclass(frozen=True)
class Dead:
    """A record that cannot become a row: its dead letter's reason, detail and redacted raw text."""

    reason: str
    detail: str
    raw: str


Outcome = Row | Skip | Dead


@dataclass(frozen=True)
class LineFormat:
    name: str
    detects: Callable[[Any], bool]  # a parsed JSON line of this format?
    structure: Callable[[bool], dict[str, Any]]  # the NDJSON reader's columns (argument: typed metadata)
    candidates: Callable[[str, bool], str]  # SQL over the reader's rows -> candidate rows (see jsonl)
    not_a_record: str  # the dead-letter detail of a line that is JSON but not a record of this format
    rereads_untyped: bool = False  # read again untyped when any row flags `metadata_unread`
    tool: str = ""  # the AI tool whose requests these are (per-person tables); "" = the format's name


@dataclass(frozen=True)
class DocumentFormat:
    name: str
    detects: Callable[[Any], bool]  # a parsed JSON document of this format?
    # (line number, document) pairs -> one (line number, outcome) per record read
    records: Callable[[Iterable[tuple[int, Any]], ObjectContext], Iterator[tuple[int, Outcome]]]
    tool: str = ""
    # objects of this source that hold no requests, known by their key: (key) -> skip reason, or None
    skips_key: Callable[[str], str | None] | None = None
    # announces the field-rule leaves of documents without looking any up (what `records` prefetches first), so
    # that the leaves of several objects read together are evaluated in one query (core.normalize_objects)
    announce: Callable[[list[tuple[int, Any]], ObjectContext], None] | None = None


@dataclass(frozen=True)
class StreamFormat:
    name: str
    detects: Callable[[Any], bool]  # the first line of an object of this format?
    records: Callable[[Iterable[tuple[int, Any]], ObjectContext], Iterator[tuple[int, Outcome]]]
    tool: str = ""


TraceFormat = LineFormat | DocumentFormat | StreamFormat
