"""Cursor usage (`usage/cursor/**`): Admin API daily usage (`cursor_daily`) and AI Code Tracking commits
(`cursor_ai_commits`), tool `cursor`.

`cursor_daily`: `POST /teams/daily-usage-data` responses `{data: [...], period{}, pagination{}}` (older pages have
no `userId`/`day`, no pagination), or one record per JSON line. One `report` row per `data[]` record, an
inactive member's all-zero day included (the source measured zero):

| usage column   | source field                                                                                  |
|----------------|-----------------------------------------------------------------------------------------------|
| developer_id   | `email`, else `userId` as text                                                                |
| event_date     | `day` (YYYY-MM-DD), else `date` (epoch milliseconds, UTC midnight)                            |
| interactions   | `composerRequests` + `chatRequests` + `agentRequests` + `cmdkUsages` (requests a developer made) |
| accepted_lines | `acceptedLinesAdded` (lines added from accepted AI suggestions)                               |
| removed_lines  | `acceptedLinesDeleted`                                                                        |
| accepts        | `totalAccepts` (accepted applies) + `totalTabsAccepted` (accepted Tab completions)            |
| rejects        | `totalRejects` (rejected applies; a Tab completion shown and not taken is not a rejection)    |

suggested_lines stays None: the record counts suggestions, not suggested lines. `totalLinesAdded` /
`totalLinesDeleted` are the lines a developer added/deleted (typed by hand included), not lines Cursor proposed, and
`totalTabsShown` counts completions, not lines. Not added to interactions: `bugbotUsages` (automated PR reviews,
not a developer's request) and `subscriptionIncludedReqs` / `apiKeyReqs` / `usageBasedReqs` (a billing cut of the
same requests: adding them would count each request twice). `totalApplies`, `mostUsedModel`, the extensions and
`clientVersion` have no column; there are no tokens or cost in this endpoint. A record for a (day, developer)
already read in the same object is skipped (the first is kept); a later object's record replaces it in aggregate.

`cursor_ai_commits`: `GET /analytics/ai-code/commits` pages `{items: [...], totalCount, page, pageSize}`, or one
item per JSON line. One ai_commit_records row per item (the API lists one item per (commit, user)):

| ai_commits column | source field                                                                     |
|-------------------|----------------------------------------------------------------------------------|
| repo              | `repoName` (`owner/name`, lower-cased by the slug rule, normalize.rules)         |
| sha               | `commitHash` (hexadecimal, lower-cased)                                          |
| developer_id      | `userEmail`, else `userId` (None when neither: the commit still counts)          |
| committed_at      | `commitTs`, else `createdAt` (the ingest time; naive UTC)                        |
| ai_lines_added    | `tabLinesAdded` + `composerLinesAdded`                                           |
| total_lines_added | `totalLinesAdded` (= tab + composer + nonAi; `nonAiLinesAdded` may be null)     |
| is_primary_branch | `isPrimaryBranch` (None when absent: the API says it may be undefined)           |

An item without a repository (`repoName` null, e.g. a CLI commit outside a known repository) is a `missing_repo`
dead letter: ai_commits is partitioned by repo and joins commits on (repo, sha), so a commit with no repo can
never join; a `repoName` that is not an `owner/name` slug is `invalid_repo`. No `commitTs` and no `createdAt` ->
missing_timestamp. The same item twice in one object has the same record id (core counts it once).

Dead letters name fields and types, never values (a string may be a commit message or other text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw
from prodlens.normalize.formats.base import Dead, Outcome, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.rules import SLUG, TIMESTAMP
from prodlens.normalize.usage.base import UsageFormat, ai_commit_row, measure, shape_of, usage_day, usage_row

DAILY, COMMITS, TOOL = "cursor_daily", "cursor_ai_commits", "cursor"
PREFIX = "usage/cursor/"

# Disjoint from COMMIT_KEYS (both shapes have totalLinesAdded): a bare record of one is never the other.
DAILY_KEYS = frozenset(
    {
        "isActive",
        "acceptedLinesAdded",
        "totalApplies",
        "totalAccepts",
        "totalTabsShown",
        "totalTabsAccepted",
        "composerRequests",
        "chatRequests",
        "agentRequests",
        "cmdkUsages",
    }
)
COMMIT_KEYS = frozenset({"commitHash", "tabLinesAdded", "composerLinesAdded", "nonAiLinesAdded", "commitTs"})
REQUESTS = ("composerRequests", "chatRequests", "agentRequests", "cmdkUsages")
_SHA = re.compile(r"[0-9a-f]{4,64}")


def _looks(item: Any, envelope: str, keys: frozenset[str], page_keys: tuple[str, ...]) -> bool:
    if not isinstance(item, dict):
        return False
    listed = item.get(envelope)
    if isinstance(listed, list):
        first = listed[0] if listed else None
        return (isinstance(first, dict) and bool(keys & first.keys())) or any(k in item for k in page_keys)
    return bool(keys & item.keys())


def detects_daily(key: str, item: Any) -> bool:
    """A daily-usage page (`data` of usage records, or a `period`) or a bare usage record, under usage/cursor/."""
    return key.startswith(PREFIX) and _looks(item, "data", DAILY_KEYS, ("period", "pagination"))


def detects_commits(key: str, item: Any) -> bool:
    """An AI-code commits page (`items` of commit records, or `totalCount`) or a bare commit item."""
    return key.startswith(PREFIX) and _looks(item, "items", COMMIT_KEYS, ("totalCount",))


def _total(*values: int | None) -> int | None:
    """The sum of the measured parts; None when no part is measured."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _identity(record: dict[str, Any], email_key: str, id_key: str) -> str | None:
    """The e-mail, else the id as text; None when neither is given; RecordError(invalid_record) on a wrong type."""
    email = record.get(email_key)
    if email is not None and not isinstance(email, str):
        raise RecordError("invalid_record", f"{email_key} is {shape_of(email)}, not text")
    if email and email.strip():
        return email.strip()
    user = record.get(id_key)
    if user is None or user == "":
        return None
    if isinstance(user, bool) or not isinstance(user, int | str):
        raise RecordError("invalid_record", f"{id_key} is {shape_of(user)}, not an id")
    return str(user).strip() or None


def daily_row(record: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    """A daily usage record -> one report row."""
    day = record.get("day")
    event_date = usage_day(day, "day") if day is not None and day != "" else usage_day(record.get("date"), "date")
    developer = _identity(record, "email", "userId")

    def count(name: str) -> int | None:
        return measure(record.get(name), name)

    return usage_row(
        ctx,
        DAILY,
        TOOL,
        event_date=event_date,
        developer_id=developer,
        interactions=_total(*(count(name) for name in REQUESTS)),
        accepted_lines=count("acceptedLinesAdded"),
        removed_lines=count("acceptedLinesDeleted"),
        accepts=_total(count("totalAccepts"), count("totalTabsAccepted")),
        rejects=count("totalRejects"),
    )


def _repo(value: Any, ctx: ObjectContext) -> str:
    try:
        slug = ctx.rules.slug(value)
    except RecordError:  # the rule's own detail quotes the value
        raise RecordError("invalid_repo", f"repoName is {shape_of(value)}, not an owner/name slug") from None
    if slug is None:
        raise RecordError("missing_repo", "repoName is missing: a commit without a repository cannot join commits")
    return slug


def _sha(value: Any) -> str:
    if value is None or value == "":
        raise RecordError("invalid_record", "commitHash is missing")
    sha = value.strip().lower() if isinstance(value, str) else None
    if sha is None or not _SHA.fullmatch(sha):
        raise RecordError("invalid_record", f"commitHash is {shape_of(value)}, not a hexadecimal commit id")
    return sha


def _stamp(item: dict[str, Any]) -> tuple[Any, str]:
    """(raw commit time, its field): `commitTs`, else `createdAt`."""
    stamp = item.get("commitTs")
    return (stamp, "commitTs") if stamp is not None and stamp != "" else (item.get("createdAt"), "createdAt")


def _committed_at(item: dict[str, Any], ctx: ObjectContext) -> datetime:
    stamp, field = _stamp(item)
    try:
        return ctx.rules.timestamp(stamp)
    except RecordError as exc:  # the rule's own detail quotes the value
        if exc.reason == "missing_timestamp":
            raise RecordError(exc.reason, "commitTs and createdAt are missing") from None
        raise RecordError(exc.reason, f"{field} is {shape_of(stamp)}, not a timestamp in 2000-2100") from None


def commit_row(item: dict[str, Any], ctx: ObjectContext) -> dict[str, Any]:
    """An AI-code commit item -> one ai_commit_records row."""
    repo = _repo(item.get("repoName"), ctx)
    sha = _sha(item.get("commitHash"))
    developer = _identity(item, "userEmail", "userId")
    committed_at = _committed_at(item, ctx)
    primary = item.get("isPrimaryBranch")
    if primary is not None and not isinstance(primary, bool):
        raise RecordError("invalid_record", f"isPrimaryBranch is {shape_of(primary)}, not a boolean")
    return ai_commit_row(
        ctx,
        TOOL,
        repo=repo,
        sha=sha,
        developer_id=developer,
        committed_at=committed_at,
        ai_lines_added=_total(
            measure(item.get("tabLinesAdded"), "tabLinesAdded"),
            measure(item.get("composerLinesAdded"), "composerLinesAdded"),
        ),
        total_lines_added=item.get("totalLinesAdded"),
        is_primary_branch=primary,
    )


Build = Callable[[dict[str, Any], ObjectContext], dict[str, Any]]


def _outcome(record: Any, build: Build, ctx: ObjectContext, where: str) -> Outcome:
    if not isinstance(record, dict):
        return Dead("invalid_record", f"{where}: {shape_of(record)}, not a JSON object", dead_letter_raw(None, record))
    try:
        return Row(build(record, ctx))
    except RecordError as exc:
        return Dead(exc.reason, f"{where}: {exc.detail}", dead_letter_raw(None, record))


def _read(
    items: Iterable[tuple[int, Any]], ctx: ObjectContext, envelope: str, build: Build, one_per_day: bool
) -> Iterator[tuple[int, Outcome]]:
    """One outcome per record: each element of a page's `envelope` list (an empty page: one skip), or the item."""
    kept: set[tuple[str, str]] = set()
    for line, item in items:
        where = f"record {line}" if line else "document"
        if isinstance(item, dict) and envelope in item:
            listed = item[envelope]
            if not isinstance(listed, list):
                detail = f"{where}: {envelope} is {shape_of(listed)}, not a list"
                yield line, Dead("invalid_record", detail, dead_letter_raw(None, item))
                continue
            if not listed:
                yield line, Skip()
                continue
            records = [(record, f"{where} {envelope}[{index}]") for index, record in enumerate(listed, 1)]
        else:
            records = [(item, where)]
        for record, at in records:
            outcome = _outcome(record, build, ctx, at)
            if one_per_day and isinstance(outcome, Row):
                key = (outcome.values["event_date"], outcome.values["developer_id"])
                if key in kept:  # the same (day, developer) twice in one object: the first is kept
                    outcome = Skip()
                kept.add(key)
            yield line, outcome


def _commits(items: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    """The commit items of every page (or bare item), for announcing their leaves to the field rules."""
    listed = [item.get("items") if isinstance(item, dict) and "items" in item else [item] for _, item in items]
    return [commit for each in listed if isinstance(each, list) for commit in each if isinstance(commit, dict)]


def records_daily(items: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    return _read(items, ctx, "data", daily_row, one_per_day=True)


def records_commits(items: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    items = list(items)
    commits = _commits(items)  # their repos and times, evaluated together
    ctx.rules.prefetch(SLUG, (commit.get("repoName") for commit in commits))
    ctx.rules.prefetch(TIMESTAMP, (_stamp(commit)[0] for commit in commits))
    return _read(items, ctx, "items", commit_row, one_per_day=False)


FORMAT_DAILY = UsageFormat(DAILY, TOOL, detects_daily, records_daily)
FORMAT_COMMITS = UsageFormat(COMMITS, TOOL, detects_commits, records_commits)
