"""GitHub Copilot usage metrics (`usage/copilot/**`): one `report` row per (day, user), or per day for the org.

Three shapes, all source_format `copilot_usage`, tool `copilot`:

- User-level report NDJSON (usage metrics API, `users-1-day` / `users-28-day` download links): one line per
  (user, day) with `day`, `user_login`, `user_id`, the IDE counters and the `totals_by_*` breakdowns. One row,
  developer_id = `user_login` as given (a line without it is a `missing_developer` dead letter).
- Organization/enterprise-level report lines: the same counters without a user, either flat (one day record per
  line, as the 1-day endpoint writes them) or wrapped `{day_totals: [...], report_start_day, report_end_day}`
  (one record per `day_totals` entry). One row per day, developer_id = `*` (usage.base.ORGANIZATION); aggregate
  keeps it only for a day without per-user rows.
- Legacy org metrics JSON (`GET /orgs/{org}/copilot/metrics`, closed 2026-04-02): an array of
  `{date, total_active_users, copilot_ide_code_completions{editors[models[languages[]]]}, copilot_ide_chat, ...}`,
  one element per day. One row per day, developer_id = `*`.

Field mapping (usage metrics API, user and org lines alike):

| usage column    | source field                                                                           |
|-----------------|----------------------------------------------------------------------------------------|
| event_date      | `day` (YYYY-MM-DD, a calendar day; taken as UTC)                                       |
| interactions    | `user_initiated_interaction_count` + `totals_by_cli.prompt_count`                      |
| suggested_lines | `loc_suggested_to_add_sum` (IDE suggestions; excludes agent edits)                     |
| accepted_lines  | `loc_added_sum` (lines added by Copilot in the IDE, agent edits included)              |
| removed_lines   | `loc_deleted_sum`                                                                      |
| accepts         | `code_acceptance_activity_count`                                                       |
| tokens_in       | `totals_by_cli.token_usage.prompt_tokens_sum` (the only token counts in the report)    |
| tokens_out      | `totals_by_cli.token_usage.output_tokens_sum`                                          |
| prs_by_ai       | `pull_requests.total_created_by_copilot` (org lines only carry it)                     |

Legacy: event_date = `date`; suggested_lines / accepted_lines / accepts = `total_code_lines_suggested` /
`total_code_lines_accepted` / `total_code_acceptances` summed over `copilot_ide_code_completions.editors[]
.models[].languages[]`; interactions = `total_chats` summed over `copilot_ide_chat.editors[].models[]` and
`copilot_dotcom_chat.models[]`. A section that is absent leaves its measures None; a present one sums to 0 when
it lists nothing.

Not summed, not kept: the `totals_by_ide` / `_feature` / `_language_feature` / `_language_model` /
`_model_feature` arrays are alternative cuts of the top-level counters (adding them would count the same
activity several times); `daily/weekly/monthly_active_*` are actives and rolling windows; the legacy
`*_engaged_users` are per breakdown and not additive; `ai_credits_used` is a credit count, not USD (cost_usd stays
None); `loc_suggested_to_delete_sum` has no column. `totals_by_cli` is NOT included in the IDE counters: its
`prompt_count` is added to interactions, and it is the only source of tokens (CLI tokens only: None when the line
has no CLI use). `sessions` stays None: the IDE counters have no session count, and the CLI's `session_count`
alone would understate a developer who also used the IDE. A measure the line does not carry is None, never 0.
`accepted_lines` can exceed `suggested_lines`: agent edits add lines without suggesting them.

Accounting: one outcome per record (a line, an array element, a `day_totals` entry); an empty `day_totals` and a
`{download_links, report_day}` response (the report's signed links, not usage) are one skip each. Within one
object a second record for the same (day, developer) is skipped (the first is kept); the same day in another
object (a 28-day and a 1-day report overlap) is another report row, and aggregate keeps the object stored last.
Dead letters: no `day`/`date` -> missing_timestamp; an unreadable day -> invalid_timestamp; a user line without
`user_login` -> missing_developer; not an object, or an object/list/text where another type belongs ->
invalid_record; a count that is not a non-negative integer -> invalid_value. Details name fields and types, never
a value (any string may be text).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw
from prodlens.normalize.formats.base import Dead, Outcome, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.usage.base import ORGANIZATION, UsageFormat, measure, shape_of, usage_day, usage_row

SOURCE_FORMAT, TOOL = "copilot_usage", "copilot"
PREFIX = "usage/copilot/"

# Keys only a user-level line has (user_login itself may be the one missing).
USER_KEYS = frozenset({"user_login", "user_id", "used_agent", "used_chat", "used_cli"})
# Keys of a usage metrics report record (user or org), any of which marks the shape.
REPORT_KEYS = frozenset(
    {
        "user_login",
        "user_initiated_interaction_count",
        "code_generation_activity_count",
        "code_acceptance_activity_count",
        "loc_added_sum",
        "loc_suggested_to_add_sum",
        "totals_by_ide",
        "totals_by_feature",
        "totals_by_cli",
        "daily_active_users",
    }
)
LEGACY_SECTIONS = (
    "copilot_ide_code_completions",
    "copilot_ide_chat",
    "copilot_dotcom_chat",
    "copilot_dotcom_pull_requests",
)
WRAPPED, LINKS = "day_totals", "download_links"


def detects(key: str, item: Any) -> bool:
    """A Copilot usage object: under usage/copilot/, first item a report record, a wrapped report, a legacy
    metrics day or a download-links response."""
    if not key.startswith(PREFIX) or not isinstance(item, dict):
        return False
    return bool(item.keys() & (REPORT_KEYS | {WRAPPED, LINKS})) or _is_legacy(item)


def _is_legacy(record: dict[str, Any]) -> bool:
    return any(s in record for s in LEGACY_SECTIONS) or ("date" in record and "day" not in record)


def _object(parent: dict[str, Any] | None, key: str, label: str = "") -> dict[str, Any] | None:
    """parent[key] when it is an object, None when absent/null; RecordError(invalid_record) otherwise."""
    if parent is None:
        return None
    value = parent.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise RecordError("invalid_record", f"{label}{key} is {shape_of(value)}, not an object")


def _count(parent: dict[str, Any] | None, key: str, label: str = "") -> int | None:
    return measure(parent.get(key), f"{label}{key}") if parent is not None else None


def _total(*values: int | None) -> int | None:
    """The sum of the measured parts; None when no part is measured."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _login(record: dict[str, Any]) -> str | None:
    login = record.get("user_login")
    if login is None or isinstance(login, str):
        return login
    raise RecordError("invalid_record", f"user_login is {shape_of(login)}, not text")


def report_row(record: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    """A usage metrics API record (user line or org day) -> one report row."""
    event_date = usage_day(record.get("day"), "day")
    developer = _login(record) if USER_KEYS & record.keys() else ORGANIZATION
    cli = _object(record, "totals_by_cli")
    tokens = _object(cli, "token_usage", "totals_by_cli.")
    prs = _object(record, "pull_requests")
    return usage_row(
        ctx,
        SOURCE_FORMAT,
        TOOL,
        event_date=event_date,
        developer_id=developer,
        interactions=_total(
            _count(record, "user_initiated_interaction_count"), _count(cli, "prompt_count", "totals_by_cli.")
        ),
        suggested_lines=_count(record, "loc_suggested_to_add_sum"),
        accepted_lines=_count(record, "loc_added_sum"),
        removed_lines=_count(record, "loc_deleted_sum"),
        accepts=_count(record, "code_acceptance_activity_count"),
        tokens_in=_count(tokens, "prompt_tokens_sum", "totals_by_cli.token_usage."),
        tokens_out=_count(tokens, "output_tokens_sum", "totals_by_cli.token_usage."),
        prs_by_ai=_count(prs, "total_created_by_copilot", "pull_requests."),
    )


def _legacy_sums(record: dict[str, Any], section: str, path: tuple[str, ...], names: tuple[str, ...]) -> list[Any]:
    """Each of `names` summed over the leaves at `path` below record[section]; Nones when the section is absent."""
    top = _object(record, section)
    if top is None:
        return [None] * len(names)
    nodes, label = [top], section
    for level in path:
        label = f"{label}.{level}"
        children: list[dict[str, Any]] = []
        for node in nodes:
            listed = node.get(level)
            if listed is None:
                continue
            if not isinstance(listed, list):
                raise RecordError("invalid_record", f"{label} is {shape_of(listed)}, not a list")
            for child in listed:
                if not isinstance(child, dict):
                    raise RecordError("invalid_record", f"{label}[] holds {shape_of(child)}, not an object")
                children.append(child)
        nodes = children
    return [sum(measure(node.get(name), f"{label}[].{name}") or 0 for node in nodes) for name in names]


def legacy_row(record: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    """A legacy org metrics day -> one organization report row (only additive counts summed)."""
    event_date = usage_day(record.get("date"), "date")
    suggested, accepted, accepts = _legacy_sums(
        record,
        "copilot_ide_code_completions",
        ("editors", "models", "languages"),
        ("total_code_lines_suggested", "total_code_lines_accepted", "total_code_acceptances"),
    )
    (ide_chats,) = _legacy_sums(record, "copilot_ide_chat", ("editors", "models"), ("total_chats",))
    (web_chats,) = _legacy_sums(record, "copilot_dotcom_chat", ("models",), ("total_chats",))
    return usage_row(
        ctx,
        SOURCE_FORMAT,
        TOOL,
        event_date=event_date,
        developer_id=ORGANIZATION,
        interactions=_total(ide_chats, web_chats),
        suggested_lines=suggested,
        accepted_lines=accepted,
        accepts=accepts,
    )


class _Reader:
    """The outcomes of one object, remembering the (day, developer) pairs already kept."""

    def __init__(self, ctx: ObjectContext) -> None:
        self.ctx = ctx
        self.kept: set[tuple[str, str]] = set()

    def item(self, item: Any, where: str) -> Iterator[Outcome]:
        if isinstance(item, dict) and WRAPPED in item:
            entries = item[WRAPPED]
            if not isinstance(entries, list):
                detail = f"{where}: {WRAPPED} is {shape_of(entries)}, not a list"
                yield Dead("invalid_record", detail, dead_letter_raw(None, item))
            elif not entries:
                yield Skip()
            else:
                for index, entry in enumerate(entries, 1):
                    yield self.record(entry, f"{where} {WRAPPED}[{index}]")
        elif isinstance(item, dict) and LINKS in item:
            yield Skip()  # step 1 of a report download: links to the report files, no usage
        else:
            yield self.record(item, where)

    def record(self, record: Any, where: str) -> Outcome:
        if not isinstance(record, dict):
            return Dead(
                "invalid_record", f"{where}: {shape_of(record)}, not a JSON object", dead_letter_raw(None, record)
            )
        try:
            row = legacy_row(record, self.ctx) if _is_legacy(record) else report_row(record, self.ctx)
        except RecordError as exc:
            return Dead(exc.reason, f"{where}: {exc.detail}", dead_letter_raw(None, record))
        key = (row["event_date"], row["developer_id"])
        if key in self.kept:  # the same (day, developer) twice in one report: the first is kept
            return Skip()
        self.kept.add(key)
        return Row(row)


def records(items: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    reader = _Reader(ctx)
    for line, item in items:
        where = f"record {line}" if line else "document"
        for outcome in reader.item(item, where):
            yield line, outcome


FORMAT = UsageFormat(SOURCE_FORMAT, TOOL, detects, records)
