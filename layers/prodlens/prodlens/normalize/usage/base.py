"""What a usage format is: vendor usage summaries under `usage/` -> usage_records rows (and ai_commit_records).

A usage object is a vendor's own report (Copilot usage metrics, Claude Code analytics pages, Cursor daily usage,
Claude Code's OTLP metrics, Cursor AI-code-tracking commits). Core parses the object into JSON items (the whole
document as item 0, else one item per JSON line with its 1-based line number), finds the format with `detects`,
and hands it every item; the format yields one outcome per record it reads:

- `Row(usage_row(...))`: one usage_records row;
- `Row(ai_commit_row(...))`: one ai_commit_records row (Cursor's AI code tracking);
- `Skip()`: a record read and deliberately not kept (an org-level total line next to the per-user lines, an
  event that is not usage, an inactive member's all-zero day is NOT a skip: it is a row with zeros);
- `Dead(reason, detail, raw)`: a record that cannot become a row (raw = fields.dead_letter_raw(None, record)).

Every record read yields exactly one outcome (the accounting rule: rows + dead letters + skipped = read).

Kinds of usage rows, and how aggregate folds them into developer_daily_usage (docs/metrics.md):
- `report`: a vendor's complete figure for one (event_date, tool, developer_id). A later report for the same
  key *replaces* an earlier one (the object uploaded last wins: `reported_at`), never adds to it.
- `delta`: an increment measured over one export interval (OTLP delta temporality); summed per day,
  each point counted once (its record_id).
- `cumulative`: a running total since `series_start` (OTLP cumulative temporality); aggregate turns it into
  increments along its series (`series_id`), never sums the totals.
A metric (delta/cumulative) row fills exactly one measure column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw, record_id
from prodlens.normalize.formats.base import Dead, Outcome, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.rules import MAX_TOKENS
from prodlens.schema import USAGE_MEASURES

REPORT, DELTA, CUMULATIVE = "report", "delta", "cumulative"
KINDS = (REPORT, DELTA, CUMULATIVE)

# The measures of a usage row, all optional (None = the source does not measure it; never 0 for "unknown").
COUNT_MEASURES = tuple(name for name, kind in USAGE_MEASURES if kind == "bigint")
REAL_MEASURES = tuple(name for name, kind in USAGE_MEASURES if kind == "double")
MEASURES = COUNT_MEASURES + REAL_MEASURES

# Identity of an organization-level total (a report without per-developer rows, e.g. Copilot's legacy org
# metrics): aggregate keeps it only for a (day, tool) that has no per-developer row.
ORGANIZATION = "*"

MAX_COUNT = MAX_TOKENS  # the bound of a trace's token count holds for every count of a report too


@dataclass(frozen=True)
class UsageFormat:
    name: str  # the source_format value
    tool: str  # copilot | claude_code | cursor
    detects: Callable[[str, Any], bool]  # (raw key, first parsed item) -> is it this format?
    records: Callable[[Iterable[tuple[int, Any]], ObjectContext], Iterator[tuple[int, Outcome]]]


def shape_of(value: Any) -> str:
    """What a value is, for a dead letter's detail, without its content (a string may be text that must not be
    stored): 'a 12-character string', 'an object', 'a list', 'a boolean', 'a number', 'null'."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"a {len(value)}-character string"
    kinds = {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def usage_day(value: Any, field: str = "day") -> str:
    """A calendar day as YYYY-MM-DD from 'YYYY-MM-DD', an RFC 3339 midnight timestamp, or epoch milliseconds
    (UTC midnight); RecordError(missing_timestamp | invalid_timestamp) otherwise."""
    if value is None or value == "":
        raise RecordError("missing_timestamp", f"{field} is missing")
    if isinstance(value, bool):
        raise RecordError("invalid_timestamp", f"{field} is a boolean")
    try:
        if isinstance(value, int | float):
            if not 946_684_800_000 <= value < 4_102_444_800_000:  # 2000-01-01 .. 2100-01-01 in ms
                raise ValueError
            return datetime.fromtimestamp(value / 1000, UTC).date().isoformat()
        if isinstance(value, str):
            text = value.strip()
            day = date.fromisoformat(text[:10])
            if len(text) > 10:
                datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if not 2000 <= day.year < 2100:
                raise ValueError
            return day.isoformat()
    except (ValueError, OverflowError, OSError):
        pass
    raise RecordError("invalid_timestamp", f"{field} is {shape_of(value)}, not a YYYY-MM-DD day")


def measure(value: Any, name: str) -> int | None:
    """A count measure: None stays None; a non-negative integer (integral float, digit string) is kept."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError("invalid_value", f"{name} is a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_COUNT:
        return value
    raise RecordError("invalid_value", f"{name} is {shape_of(value)}, not a non-negative integer")


def real_measure(value: Any, name: str) -> float | None:
    """A non-negative finite number (cost, seconds); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError("invalid_value", f"{name} is a boolean")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RecordError("invalid_value", f"{name} is {shape_of(value)}, not a number") from None
    if isinstance(value, int | float) and 0 <= value < 1e15 and value == value:  # noqa: PLR0124 - NaN check
        return float(value)
    raise RecordError("invalid_value", f"{name} is not a non-negative finite number")


def usage_row(
    ctx: ObjectContext,
    source_format: str,
    tool: str,
    *,
    event_date: str,
    developer_id: str | None,
    kind: str = REPORT,
    repo: str | None = None,
    record_key: tuple[Any, ...] = (),
    series_id: str | None = None,
    series_start: datetime | None = None,
    point_time: datetime | None = None,
    **measures: Any,
) -> dict[str, Any]:
    """One usage_records row. `record_key` identifies the measured unit within the source: for a report
    (tool, day, developer) is implied and record_key adds nothing; for a metric point it is the point's own
    identity (series, start, time). Unknown measure names raise TypeError (a bug, not bad input)."""
    unknown = set(measures) - set(MEASURES)
    if unknown:
        raise TypeError(f"unknown usage measures: {sorted(unknown)}")
    if kind not in KINDS:
        raise TypeError(f"unknown usage row kind: {kind!r}")
    # No fallback to the object's `developer` metadata: a report names its developers itself, and an org-wide
    # report's line without one must not be credited to whoever uploaded it.
    developer = str(developer_id).strip() if developer_id not in (None, "") else None
    if not developer:
        raise RecordError("missing_developer", "the record names no developer (no e-mail, login or id)")
    row: dict[str, Any] = {
        "record_id": record_id("usage", tool, source_format, kind, event_date, developer, repo or "", *record_key),
        "kind": kind,
        "tool": tool,
        "source_format": source_format,
        "developer_id": developer,
        "repo": repo,
        **{m: measure(measures.get(m), m) for m in COUNT_MEASURES},
        **{m: real_measure(measures.get(m), m) for m in REAL_MEASURES},
        "series_id": series_id,
        "series_start": series_start,
        "point_time": point_time,
        "source_key": ctx.source_key,
        "event_date": event_date,
    }
    return row


def ai_commit_row(
    ctx: ObjectContext,
    tool: str,
    *,
    repo: str,
    sha: str,
    developer_id: str | None,
    committed_at: datetime,
    ai_lines_added: int | None,
    total_lines_added: int | None,
    is_primary_branch: bool | None,
) -> dict[str, Any]:
    """One ai_commit_records row (the commit's repo is its partition)."""
    return {
        "record_id": record_id("ai_commit", tool, repo, sha, developer_id or ""),
        "tool": tool,
        "sha": sha,
        "developer_id": developer_id,
        "committed_at": committed_at,
        "ai_lines_added": measure(ai_lines_added, "ai_lines_added"),
        "total_lines_added": measure(total_lines_added, "total_lines_added"),
        "is_primary_branch": is_primary_branch,
        "source_key": ctx.source_key,
        "repo": repo,
    }


def outcome_of(build: Callable[[], dict[str, Any]], raw: Any, where: str) -> Outcome:
    """Row(build()), or the Dead letter of the RecordError it raises (detail prefixed with `where`)."""
    try:
        return Row(build())
    except RecordError as exc:
        return Dead(exc.reason, f"{where}: {exc.detail}", dead_letter_raw(None, raw))


__all__ = [
    "CUMULATIVE",
    "DELTA",
    "MEASURES",
    "ORGANIZATION",
    "REPORT",
    "Dead",
    "Outcome",
    "Row",
    "Skip",
    "UsageFormat",
    "ai_commit_row",
    "outcome_of",
    "measure",
    "real_measure",
    "shape_of",
    "usage_day",
    "usage_row",
]
