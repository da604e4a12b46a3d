"""GitHub raw pages -> staging rows (github_pulls, github_commits, github_issue_events) + dead letters.

A page is the unmodified body of one list response, stored at
`github/<owner>/<name>/{pulls|commits|issue_events|compare}/<name>.json`. Every array element is read; each
becomes one row or one dead letter (1-based `line_number` = position in the array). A body that is not a
JSON array is one dead letter for the whole object (`line_number` 0, read = 1). A `compare` page is the body
of `GET /repos/{owner}/{repo}/compare/{base}...{head}` for a merge commit: an object whose `commits` array
holds the commits the merge brought onto the default branch; they are github_commits rows like the listing's.

A `pull_commits` page, at `github/<owner>/<name>/pull_commits/<number>/<name>.json`, is the body of
`GET /repos/{owner}/{repo}/pulls/{number}/commits`: one github_pull_commits row per commit, with the PR number from
the key and `ai_coauthors`, the AI tools the commit's `Co-authored-by` trailers name (github.trailers). github_sync
stores these pages (and the commit listings) with each message replaced by that list (`prodlens_ai_coauthors`), so
no commit message reaches the raw zone or the lake.

Issue events: every event is kept with its `event` name (`reopened`, `closed`, `merged`, `labeled`, ...);
nothing is skipped, and aggregate filters on `event = 'reopened'`. `pr_number` is `issue.number` (issues
and pull requests share one number sequence per repository).

Timestamps are timezone-naive UTC datetimes. Rows carry `source_key`; commit rows also carry `event_date`
(the UTC day of `commit.author.date`, their partition). The repo partition is `GithubPage.repo`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from prodlens.github.trailers import ai_coauthors
from prodlens.normalize.fields import dead_letter_raw
from prodlens.normalize.rules import MAX_YEAR, MIN_YEAR

TABLE_BY_KIND = {
    "pulls": "github_pulls",
    "pull_commits": "github_pull_commits",
    "commits": "github_commits",
    "compare": "github_commits",
    "issue_events": "github_issue_events",
}
MAX_RAW_BYTES = 64 * 1024

_SLUG_PART = re.compile(r"^[a-z0-9._-]+$")
_PR_NUMBER = re.compile(r"^[1-9][0-9]{0,17}$")


@dataclass
class GithubPage:
    table: str
    repo: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0
    skipped: int = 0


class _Reject(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def github_key_parts(key: str) -> tuple[str, str]:
    """`github/<owner>/<name>/<kind>/<file>` (`pull_commits/<number>/<file>`) -> (table, repo); ValueError for any
    other key."""
    parts = key.split("/")
    if len(parts) < 5 or parts[0] != "github" or parts[3] not in TABLE_BY_KIND or not parts[-1]:
        raise ValueError(f"not a GitHub page key: {key!r}")
    if parts[3] == "pull_commits" and (len(parts) != 6 or not _PR_NUMBER.match(parts[4])):
        raise ValueError(f"not a pull request's commits page key: {key!r}")
    return TABLE_BY_KIND[parts[3]], f"{parts[1]}/{parts[2]}".lower()


def _valid_repo(repo: str) -> bool:
    return all(_SLUG_PART.match(part) and part not in (".", "..") for part in repo.split("/"))


def _timestamp(record: dict[str, Any], path: tuple[str, ...], *, required: bool) -> datetime | None:
    value: Any = record
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    label = ".".join(path)
    if value is None:
        if required:
            raise _Reject("missing_timestamp", f"{label} is missing")
        return None
    if not isinstance(value, str) or len(value) < 19 or value[10] not in "Tt ":
        raise _Reject("invalid_timestamp", f"{label} is not an ISO-8601 date-time: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise _Reject("invalid_timestamp", f"{label} is not an ISO-8601 date-time: {value!r}") from err
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise _Reject("invalid_timestamp", f"{label} is out of range: {value!r}")
    return parsed


def _identifier(record: dict[str, Any], name: str, *, kind: type = int, within: str | None = None) -> Any:
    holder = record.get(within) if within else record
    value = holder.get(name) if isinstance(holder, dict) else None
    label = f"{within}.{name}" if within else name
    if value is None or value == "":
        raise _Reject("missing_id", f"{label} is missing")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _Reject("invalid_id", f"{label} is not an integer: {value!r}")
    if kind is str and not isinstance(value, str):
        raise _Reject("invalid_id", f"{label} is not a string: {value!r}")
    return value


def _login(value: Any) -> str | None:
    login = value.get("login") if isinstance(value, dict) else None
    return login if isinstance(login, str) and login else None


def _pull_row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "pr_id": _identifier(record, "id"),
        "pr_number": _identifier(record, "number"),
        "state": record.get("state") if isinstance(record.get("state"), str) else None,
        "author": _login(record.get("user")),
        "created_at": _timestamp(record, ("created_at",), required=True),
        "updated_at": _timestamp(record, ("updated_at",), required=True),
        "closed_at": _timestamp(record, ("closed_at",), required=False),
        "merged_at": _timestamp(record, ("merged_at",), required=False),
        "head_ref": _ref(record, "head"),
        "base_ref": _ref(record, "base"),
    }


def _ref(record: dict[str, Any], side: str) -> str | None:
    ref = record.get(side, {}).get("ref") if isinstance(record.get(side), dict) else None
    return ref if isinstance(ref, str) and ref else None


def _commit_row(record: dict[str, Any]) -> dict[str, Any]:
    sha = _identifier(record, "sha", kind=str)
    author_date = _timestamp(record, ("commit", "author", "date"), required=True)
    assert author_date is not None
    git_author = record.get("commit", {}).get("author") or {}
    # `author` is null when the commit email is not linked to an account: fall back to the git identity.
    author = _login(record.get("author")) or git_author.get("email") or git_author.get("name") or None
    return {
        "sha": sha,
        "author": author if isinstance(author, str) else None,
        "author_date": author_date,
        "committer_date": _timestamp(record, ("commit", "committer", "date"), required=False),
        "event_date": author_date.strftime("%Y-%m-%d"),
    }


def _pull_commit_row(record: dict[str, Any]) -> dict[str, Any]:
    # github_sync replaces the message by the AI tools its trailers name; a page stored with its message
    # (an older sync, a hand-dropped page) is read with the same rule.
    tools = record.get("prodlens_ai_coauthors")
    if not (isinstance(tools, list) and all(isinstance(tool, str) for tool in tools)):
        tools = ai_coauthors(_get_message(record))
    return {"sha": _identifier(record, "sha", kind=str), "ai_coauthors": sorted(set(tools))}


def _get_message(record: dict[str, Any]) -> str | None:
    commit = record.get("commit")
    message = commit.get("message") if isinstance(commit, dict) else None
    return message if isinstance(message, str) else None


def _event_row(record: dict[str, Any]) -> dict[str, Any]:
    event = record.get("event")
    if not isinstance(event, str) or not event:
        raise _Reject("missing_field", "event is missing")
    return {
        "event_id": _identifier(record, "id"),
        "event": event,
        "pr_number": _identifier(record, "number", within="issue"),
        "created_at": _timestamp(record, ("created_at",), required=True),
    }


_ROW = {
    "github_pulls": _pull_row,
    "github_commits": _commit_row,
    "github_pull_commits": _pull_commit_row,
    "github_issue_events": _event_row,
}


def parse_github_page(key: str, data: bytes, *, now: datetime | None = None) -> GithubPage:
    """Parse one raw GitHub page (already decompressed). Raises ValueError only for a key outside the layout."""
    table, repo = github_key_parts(key)
    page = GithubPage(table, repo)
    rejected_at = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)

    def reject(line: int, reason: str, detail: str, raw: bytes | str) -> None:
        page.dead_letters.append(
            {
                "source_key": key,
                "line_number": line,
                "reason": reason,
                "detail": detail,
                # PR titles and bodies, commit messages: redacted like every trace's text (fields.RAW_KEEP_KEYS).
                "raw": dead_letter_raw(raw),
                "rejected_at": rejected_at,
            }
        )

    try:
        records = _page_records(key, repo, data)
    except _Reject as err:  # the page as a whole is unreadable: one dead letter for it
        page.read = 1
        reject(0, err.reason, err.detail, data)
        return page

    page.read = len(records)
    build = _ROW[table]
    for index, record in enumerate(records, start=1):
        try:
            if not isinstance(record, dict):
                raise _Reject("unexpected_shape", f"expected an object, got {type(record).__name__}")
            row = build(record)
        except _Reject as err:
            reject(index, err.reason, err.detail, orjson.dumps(record))
            continue
        row["source_key"] = key
        if table == "github_pull_commits":
            row["pr_number"] = int(key.split("/")[4])
        page.rows.append(row)
    return page


def _page_records(key: str, repo: str, data: bytes) -> list[Any]:
    """The records of a page: the array of a listing, the `commits` of a comparison."""
    if not _valid_repo(repo):
        raise _Reject("invalid_repo", f"repository slug from the key is invalid: {repo!r}")
    try:
        records = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise _Reject("invalid_json", str(err)) from None
    if key.split("/")[3] == "compare":
        records = records.get("commits") if isinstance(records, dict) else None
        if not isinstance(records, list):
            raise _Reject("unexpected_shape", "expected a comparison object with a `commits` array")
    if not isinstance(records, list):
        raise _Reject("unexpected_shape", f"expected a JSON array, got {type(records).__name__}")
    return records
