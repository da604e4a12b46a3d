"""Claude Code analytics (Anthropic Admin API `GET /v1/organizations/usage_report/claude_code`): one `report`
usage row per record, i.e. per actor and UTC day.

Objects under `usage/claude_code/` hold the API's pages as returned, `{data: [...], has_more, next_page}` (one
JSON document, or one page per JSON line); a line may also be one bare record (`{date, actor, ...}`). Field
mapping of a record:

- `event_date` <- `date`: "YYYY-MM-DD" as documented, or the RFC 3339 midnight "2025-08-08T00:00:00Z" every
  published example carries (both accepted).
- `developer_id` <- `actor.email_address` for a `user_actor`; `api_key:<actor.api_key_name>` for an `api_actor`
  (the API gives the key's NAME, not an id: renaming a key starts a new developer_id, its history splits). An
  actor of another or no type: the e-mail, else the key name. A record naming no actor is a dead letter
  (missing_developer): an organization report is never attributed to the object's uploader.
- `sessions` <- `core_metrics.num_sessions`; `accepted_lines` / `removed_lines` <- `core_metrics.lines_of_code.
  added` / `.removed`; `commits_by_ai` <- `core_metrics.commits_by_claude_code`; `prs_by_ai` <-
  `core_metrics.pull_requests_by_claude_code`.
- `accepts` / `rejects` <- the sums of `tool_actions.<tool>.accepted` / `.rejected` over every tool (edit_tool,
  multi_edit_tool, write_tool, notebook_edit_tool, any other). `tool_actions` absent: None (not measured);
  `tool_actions: {}`: 0 (measured: no tool decision that day; the API omits the tools that were not used).
- `tokens_in` / `tokens_out` / `cache_read_tokens` / `cache_write_tokens` <- the sums of `model_breakdown[].tokens.
  input` / `.output` / `.cache_read` / `.cache_creation` (the API's `input` excludes cache, as Claude Code's
  transcripts do).
- `cost_usd` <- the sum of `model_breakdown[].estimated_cost.amount` / 100: the amount is in MINOR units (cents,
  1025 = $10.25). A cost whose `currency` is not USD (the API documents USD only; an absent currency is taken
  as USD) makes the record's `cost_usd` None rather than a sum of different currencies (tokens are still kept).
  `model_breakdown` absent: tokens and cost None; `model_breakdown: []`: 0 (no model use that day); entries
  that all lack a field: that field None.
- Not mapped: `organization_id`, `customer_type`, `subscription_type`, `terminal_type`. No repo (the API has no
  repository or session dimension); `active_seconds`, `interactions`, `suggested_lines` are not measured.

Every other field absent -> None, never 0. A re-pulled day (data can lag up to an hour) gives the same
(day, tool, developer) key: aggregate keeps the report uploaded last, it never adds the two. Bad records are
dead letters: missing_timestamp / invalid_timestamp (`date`), missing_developer, invalid_value (a count or amount
that is not a non-negative number), invalid_record (a record, page `data`, or part that has the wrong JSON
type); a string value is never echoed into a detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.usage.base import (
    REPORT,
    Dead,
    Outcome,
    UsageFormat,
    measure,
    outcome_of,
    real_measure,
    shape_of,
    usage_day,
    usage_row,
)

NAME = "claude_code_analytics"
TOOL = "claude_code"
PREFIX = "usage/claude_code/"
USER_ACTOR, API_ACTOR = "user_actor", "api_actor"
API_KEY_PREFIX = "api_key:"

# model_breakdown[].tokens key -> usage column
TOKENS = (
    ("input", "tokens_in"),
    ("output", "tokens_out"),
    ("cache_read", "cache_read_tokens"),
    ("cache_creation", "cache_write_tokens"),
)
CENTS_PER_USD = 100


def _is_page(item: Any) -> bool:
    return isinstance(item, dict) and "data" in item


def _is_record(item: Any) -> bool:
    return isinstance(item, dict) and "actor" in item and "date" in item


def detects(key: str, item: Any) -> bool:
    return key.startswith(PREFIX) and (_is_page(item) or _is_record(item))


def _object(value: Any, path: str) -> dict[str, Any] | None:
    """An optional JSON object: None when absent, RecordError(invalid_record) when another type."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError("invalid_record", f"{path} is {shape_of(value)}, not an object")
    return value


def developer(actor: Any) -> str:
    """The actor's e-mail, or `api_key:<name>` for an API key; RecordError when the record names neither."""
    actor = _object(actor, "actor")
    if actor is None:
        raise RecordError("missing_developer", "the record has no actor")
    kind = actor.get("type")
    email, key_name = actor.get("email_address"), actor.get("api_key_name")
    candidates = (email, key_name)  # an actor of another or no type: whichever it names
    if kind == USER_ACTOR:
        candidates = (email, None)
    elif kind == API_ACTOR:
        candidates = (None, key_name)
    for value, prefix, path in ((candidates[0], "", "email_address"), (candidates[1], API_KEY_PREFIX, "api_key_name")):
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            raise RecordError("invalid_record", f"actor.{path} is {shape_of(value)}, not a string")
        return prefix + value.strip()
    raise RecordError("missing_developer", "the actor has no email_address or api_key_name")


def core_measures(record: dict[str, Any]) -> dict[str, int | None]:
    core = _object(record.get("core_metrics"), "core_metrics") or {}
    lines = _object(core.get("lines_of_code"), "core_metrics.lines_of_code") or {}
    return {
        "sessions": measure(core.get("num_sessions"), "core_metrics.num_sessions"),
        "accepted_lines": measure(lines.get("added"), "core_metrics.lines_of_code.added"),
        "removed_lines": measure(lines.get("removed"), "core_metrics.lines_of_code.removed"),
        "commits_by_ai": measure(core.get("commits_by_claude_code"), "core_metrics.commits_by_claude_code"),
        "prs_by_ai": measure(core.get("pull_requests_by_claude_code"), "core_metrics.pull_requests_by_claude_code"),
    }


def _add(total: int | float | None, value: int | float | None) -> int | float | None:
    if value is None:
        return total
    return value if total is None else total + value


def tool_action_measures(record: dict[str, Any]) -> dict[str, int | None]:
    """accepts / rejects summed over tools: None without tool_actions, 0 for `{}` (no decision that day)."""
    actions = _object(record.get("tool_actions"), "tool_actions")
    if actions is None:
        return {"accepts": None, "rejects": None}
    accepts: int | None = None
    rejects: int | None = None
    for n, value in enumerate(actions.values()):
        entry = _object(value, f"tool_actions entry {n + 1}")  # a tool name is not echoed
        if entry is None:
            continue
        accepts = _add(accepts, measure(entry.get("accepted"), f"tool_actions entry {n + 1} accepted"))
        rejects = _add(rejects, measure(entry.get("rejected"), f"tool_actions entry {n + 1} rejected"))
    if not actions:
        return {"accepts": 0, "rejects": 0}
    return {"accepts": accepts, "rejects": rejects}


def model_measures(record: dict[str, Any]) -> dict[str, int | float | None]:
    """Token columns and cost_usd summed over model_breakdown; None without it, 0 for `[]`."""
    breakdown = record.get("model_breakdown")
    columns = [column for _, column in TOKENS] + ["cost_usd"]
    if breakdown is None:
        return dict.fromkeys(columns)
    if not isinstance(breakdown, list):
        raise RecordError("invalid_record", f"model_breakdown is {shape_of(breakdown)}, not a list")
    if not breakdown:
        return {**dict.fromkeys(columns, 0), "cost_usd": 0.0}
    totals: dict[str, Any] = dict.fromkeys(columns)
    cents: float | None = None
    foreign_currency = False
    for n, value in enumerate(breakdown):
        where = f"model_breakdown[{n}]"
        entry = _object(value, where)
        if entry is None:
            continue
        tokens = _object(entry.get("tokens"), f"{where}.tokens")
        for key, column in TOKENS:
            if tokens is not None:
                totals[column] = _add(totals[column], measure(tokens.get(key), f"{where}.tokens.{key}"))
        cost = _object(entry.get("estimated_cost"), f"{where}.estimated_cost")
        if cost is None:
            continue
        amount = real_measure(cost.get("amount"), f"{where}.estimated_cost.amount")
        currency = cost.get("currency")
        if currency is not None and not (isinstance(currency, str) and currency.strip().upper() == "USD"):
            foreign_currency = True
        cents = _add(cents, amount)
    totals["cost_usd"] = None if foreign_currency or cents is None else cents / CENTS_PER_USD
    return totals


def report_row(record: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    return usage_row(
        ctx,
        NAME,
        TOOL,
        event_date=usage_day(record.get("date"), "date"),
        developer_id=developer(record.get("actor")),
        kind=REPORT,
        **core_measures(record),
        **tool_action_measures(record),
        **model_measures(record),
    )


def _page_records(item: Any) -> list[Any] | Dead:
    """The records of one item: a page's `data`, a bare record, or the Dead letter of an item that is neither."""
    if _is_page(item):
        data = item["data"]
        if isinstance(data, list):
            return data
        return Dead("invalid_record", f"page data is {shape_of(data)}, not a list", dead_letter_raw(None, item))
    if _is_record(item):
        return [item]
    detail = f"item is {shape_of(item)}, not a usage report page or record"
    return Dead("invalid_record", detail, dead_letter_raw(None, item))


def record_outcome(record: Any, where: str, ctx: ObjectContext) -> Outcome:
    if not isinstance(record, dict):
        return Dead("invalid_record", f"{where} is {shape_of(record)}, not an object", dead_letter_raw(None, record))
    return outcome_of(lambda: report_row(record, ctx), record, where)


def records(items: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    """One outcome per record of every page (a page's `data` that is not a list: one dead letter)."""
    for line, item in items:
        found = _page_records(item)
        if isinstance(found, Dead):
            yield line, found
            continue
        for n, record in enumerate(found):
            yield line, record_outcome(record, f"record {n + 1}", ctx)


FORMAT = UsageFormat(NAME, TOOL, detects, records)

__all__ = ["FORMAT", "NAME", "detects", "records"]
