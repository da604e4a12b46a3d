"""Cursor daily usage (cursor_daily: one report row per member-day) and AI code tracking commits (cursor_ai_commits).

Expected values are computed by hand from the fixtures in tests/fixtures/usage/cursor (see its README).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prodlens.normalize.fields import RAW_KEEP_KEYS
from prodlens.normalize.formats.base import Dead, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.usage import cursor
from prodlens.normalize.usage.base import MEASURES

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "usage" / "cursor"
PAGINATED = "cursor-docs__teams-daily-usage-data__paginated.json"
LEGACY = "LEGACY__cursor-docs__teams-daily-usage-data__no-userId.json"
COMMITS = "ai-code-commits__items0-docs_items1-2-composed.json"
CTX = ObjectContext("usage/cursor/team=acme/2024-03-18.json", None, None)
CANARY = "zz canary PROMPT TEXT 7f3a"


def document(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def daily(items: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    return list(cursor.records_daily(items, CTX))


def commits(items: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    return list(cursor.records_commits(items, CTX))


def measures(row: dict[str, Any]) -> dict[str, Any]:
    """The measures a row carries (None ones left out: a None is asserted by its absence)."""
    return {m: row[m] for m in MEASURES if row[m] is not None}


def only_rows(outcomes: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    assert all(isinstance(o, Row) for _, o in outcomes), outcomes
    return [o.values for _, o in outcomes]


def record(name: str = PAGINATED, index: int = 0) -> dict[str, Any]:
    return copy.deepcopy(document(name)["data"][index])


def commit_item(index: int) -> dict[str, Any]:
    return copy.deepcopy(document(COMMITS)["items"][index])


# -- daily usage -----------------------------------------------------------------------------------------------


def test_paginated_daily_usage_is_one_report_row_per_member_day():
    outcomes = daily([(0, document(PAGINATED))])
    active, inactive = only_rows(outcomes)

    assert [line for line, _ in outcomes] == [0, 0]
    assert (active["event_date"], active["developer_id"], active["kind"], active["tool"]) == (
        "2024-03-18",
        "developer@company.com",
        "report",
        "cursor",
    )
    assert active["source_format"] == "cursor_daily"
    assert measures(active) == {
        "interactions": 252,  # composer 45 + chat 128 + agent 12 + cmd-K 67
        "accepted_lines": 1102,
        "removed_lines": 645,
        "accepts": 362,  # 73 accepted applies + 289 accepted Tab completions
        "rejects": 14,
    }


def test_inactive_member_is_a_row_of_zeros_not_a_skip():
    _, inactive = only_rows(daily([(0, document(PAGINATED))]))

    assert (inactive["event_date"], inactive["developer_id"]) == ("2024-03-18", "inactive-user@company.com")
    assert measures(inactive) == {
        "interactions": 0,
        "accepted_lines": 0,
        "removed_lines": 0,
        "accepts": 0,
        "rejects": 0,
    }


def test_billing_request_counters_and_bugbot_are_not_interactions_and_nothing_is_suggested_lines():
    (row,) = only_rows(daily([(1, record())]))

    # subscriptionIncludedReqs 180 + usageBasedReqs 5 are the same requests billed; bugbotUsages 3 are PR reviews
    assert row["interactions"] == 45 + 128 + 12 + 67
    # totalLinesAdded (1543) is every line a developer added, not lines Cursor suggested
    assert (row["suggested_lines"], row["tokens_in"], row["cost_usd"], row["sessions"]) == (None, None, None, None)


def test_legacy_page_dates_by_epoch_milliseconds_and_names_the_member_by_email():
    first, second = only_rows(daily([(0, document(LEGACY))]))

    # 1710720000000 ms = 2024-03-18T00:00:00Z, 1710806400000 ms = 2024-03-19T00:00:00Z
    assert (first["event_date"], second["event_date"]) == ("2024-03-18", "2024-03-19")
    assert first["developer_id"] == second["developer_id"] == "developer@company.com"
    assert measures(second) == {
        "interactions": 67 + 156 + 23 + 89,
        "accepted_lines": 1876,
        "removed_lines": 987,
        "accepts": 91 + 398,
        "rejects": 11,
    }


def test_member_without_email_is_named_by_user_id_and_day_wins_over_date():
    line = record()
    line.pop("email")
    line["day"] = "2024-03-20"  # date still says 2024-03-18

    (row,) = only_rows(daily([(1, line)]))

    assert (row["developer_id"], row["event_date"]) == ("12345", "2024-03-20")


def test_the_same_member_day_twice_in_one_object_keeps_the_first():
    page = document(PAGINATED)
    again = copy.deepcopy(page["data"][0])
    again["acceptedLinesAdded"] = 1
    page["data"].append(again)

    outcomes = daily([(0, page)])

    assert [type(o).__name__ for _, o in outcomes] == ["Row", "Row", "Skip"]
    assert outcomes[0][1].values["accepted_lines"] == 1102


def test_an_empty_page_is_one_skip_and_bare_record_lines_are_records():
    assert daily([(0, {"data": [], "period": {"startDate": 1710720000000}})]) == [(0, Skip())]
    assert [type(o).__name__ for _, o in daily([(1, record(index=0)), (2, record(index=1))])] == ["Row", "Row"]


@pytest.mark.parametrize(
    ("change", "reason", "in_detail"),
    [
        ({"day": None, "date": None}, "missing_timestamp", "date is missing"),
        ({"day": "yesterday"}, "invalid_timestamp", "day is a 9-character string"),
        ({"day": None, "date": 1}, "invalid_timestamp", "date is a number"),
        ({"day": None, "date": "18.03.2024"}, "invalid_timestamp", "date is a 10-character string"),
        ({"acceptedLinesAdded": "lots of lines"}, "invalid_value", "acceptedLinesAdded is a 13-character string"),
        ({"chatRequests": -3}, "invalid_value", "chatRequests"),
        ({"totalTabsAccepted": [1]}, "invalid_value", "totalTabsAccepted is a list"),
        ({"email": None, "userId": None}, "missing_developer", "no developer"),
        ({"email": 5}, "invalid_record", "email is a number, not text"),
        ({"email": None, "userId": {"id": 1}}, "invalid_record", "userId is an object"),
        ({"email": None, "userId": True}, "invalid_record", "userId is a boolean"),
    ],
)
def test_malformed_daily_record_is_a_dead_letter_with_its_reason(change, reason, in_detail):
    ((line, outcome),) = daily([(4, {**record(), **change})])

    assert line == 4 and isinstance(outcome, Dead)
    assert outcome.reason == reason
    assert outcome.detail.startswith("record 4: ") and in_detail in outcome.detail, outcome.detail


def test_malformed_pages_and_non_object_records_are_invalid_records():
    page = document(PAGINATED)
    page["data"][1] = "a member"

    outcomes = daily([(0, page), (1, {"data": "x", "period": {}}), (2, [record()])])

    assert [(n, type(o).__name__, getattr(o, "reason", None)) for n, o in outcomes] == [
        (0, "Row", None),
        (0, "Dead", "invalid_record"),
        (1, "Dead", "invalid_record"),
        (2, "Dead", "invalid_record"),
    ]
    assert outcomes[1][1].detail == "document data[2]: a 8-character string, not a JSON object"
    assert "data is a 1-character string, not a list" in outcomes[2][1].detail


# -- AI code tracking commits ----------------------------------------------------------------------------------


def test_commit_items_are_ai_commit_rows_and_one_without_a_repository_is_a_dead_letter():
    outcomes = commits([(0, document(COMMITS))])

    assert [line for line, _ in outcomes] == [0, 0, 0]
    first, no_repo, cloud = (o for _, o in outcomes)
    assert isinstance(first, Row) and isinstance(cloud, Row)
    row = first.values
    assert (row["repo"], row["sha"], row["developer_id"], row["tool"]) == (
        "company/repo",
        "a1b2c3d4",
        "developer@company.com",
        "cursor",
    )
    assert row["committed_at"] == datetime(2025, 7, 30, 14, 12, 3)  # commitTs, not createdAt
    assert (row["ai_lines_added"], row["total_lines_added"], row["is_primary_branch"]) == (50 + 40, 120, True)
    assert row["source_key"] == CTX.source_key and len(row["record_id"]) == 32

    assert isinstance(no_repo, Dead) and no_repo.reason == "missing_repo"
    assert no_repo.detail.startswith("document items[2]: repoName is missing")

    row = cloud.values
    assert (row["repo"], row["sha"], row["is_primary_branch"]) == (
        "acme-robotics/fleet-telemetry",
        "4c1a7e93f0b2d6e58a9c3f71b0e2d4a6c8f5e193",
        False,
    )
    assert (row["ai_lines_added"], row["total_lines_added"]) == (0 + 211, 211)
    assert row["committed_at"] == datetime(2025, 7, 30, 17, 2, 41)


def test_commit_without_commit_time_is_dated_by_ingest_time_and_null_non_ai_lines_do_not_matter():
    item = commit_item(1)  # commitTs null, nonAiLinesAdded null, isPrimaryBranch omitted
    item["repoName"] = "Acme-Robotics/Fleet-Telemetry"

    (row,) = only_rows(commits([(1, item)]))

    assert row["committed_at"] == datetime(2025, 7, 30, 16, 48, 9)  # createdAt
    assert (row["ai_lines_added"], row["total_lines_added"], row["is_primary_branch"]) == (0 + 58, 64, None)
    assert (row["repo"], row["developer_id"]) == (
        "acme-robotics/fleet-telemetry",
        "lena.hoffmann@acme-robotics.example",
    )


def test_commit_without_email_is_named_by_user_id_or_by_nobody():
    item = commit_item(0)
    item.pop("userEmail")
    (row,) = only_rows(commits([(1, item)]))
    assert row["developer_id"] == "user_3k9x8q..."

    item.pop("userId")
    (row,) = only_rows(commits([(1, item)]))
    assert row["developer_id"] is None


@pytest.mark.parametrize(
    ("change", "reason", "in_detail"),
    [
        ({"commitTs": None, "createdAt": None}, "missing_timestamp", "commitTs and createdAt are missing"),
        ({"commitTs": "30/07/2025 14:12"}, "invalid_timestamp", "commitTs is a 16-character string"),
        ({"commitTs": None, "createdAt": "1970-01-01T00:00:00Z"}, "invalid_timestamp", "createdAt is a 20-char"),
        ({"repoName": ""}, "missing_repo", "repoName is missing"),
        ({"repoName": "https://github.com/company/repo"}, "invalid_repo", "repoName is a 31-character string"),
        ({"repoName": ["company/repo"]}, "invalid_repo", "repoName is a list"),
        ({"commitHash": None}, "invalid_record", "commitHash is missing"),
        ({"commitHash": "fix the bug"}, "invalid_record", "commitHash is a 11-character string, not a hexadecimal"),
        ({"commitHash": 12345678}, "invalid_record", "commitHash is a number"),
        ({"isPrimaryBranch": "true"}, "invalid_record", "isPrimaryBranch is a 4-character string"),
        ({"userEmail": ["a@b"]}, "invalid_record", "userEmail is a list"),
        ({"tabLinesAdded": "50"}, None, None),  # a digit string is a count
        ({"tabLinesAdded": "fifty"}, "invalid_value", "tabLinesAdded is a 5-character string"),
        ({"totalLinesAdded": -1}, "invalid_value", "total_lines_added"),
    ],
)
def test_malformed_commit_item_is_a_dead_letter_with_its_reason(change, reason, in_detail):
    ((line, outcome),) = commits([(2, {**commit_item(0), **change})])

    assert line == 2
    if reason is None:
        assert isinstance(outcome, Row) and outcome.values["ai_lines_added"] == 90
        return
    assert isinstance(outcome, Dead) and outcome.reason == reason
    assert outcome.detail.startswith("record 2: ") and in_detail in outcome.detail, outcome.detail


def test_the_same_commit_twice_in_one_object_has_one_record_id_for_core_to_count_once():
    first, again = (o.values for _, o in commits([(1, commit_item(0)), (2, commit_item(0))]))

    assert first["record_id"] == again["record_id"]


# -- accounting, privacy, detection ----------------------------------------------------------------------------


def test_every_record_yields_exactly_one_outcome_with_its_line_number():
    daily_items = [(1, document(PAGINATED)), (2, record(LEGACY, 1)), (3, "junk"), (4, {"data": []}), (5, {})]
    commit_items = [(1, document(COMMITS)), (2, commit_item(2)), (3, 7), (4, {"items": [], "totalCount": 0})]

    assert [n for n, _ in daily(daily_items)] == [1, 1, 2, 3, 4, 5]
    assert [n for n, _ in commits(commit_items)] == [1, 1, 1, 2, 3, 4]
    assert [type(o).__name__ for _, o in daily(daily_items)] == ["Row", "Row", "Row", "Dead", "Skip", "Dead"]


IDENTITY_OR_TIME = frozenset({"email", "userEmail", "userId", "day", "date", "commitTs", "createdAt", "repoName"})


def _plant(value: Any, key: str | None = None, spare: frozenset[str] = frozenset()) -> Any:
    """Every string value replaced by the canary, except identities, times and repos (meant to be kept) and `spare`."""
    if isinstance(value, dict):
        return {k: _plant(v, k, spare) for k, v in value.items()}
    if isinstance(value, list):
        return [_plant(v, key, spare) for v in value]
    if isinstance(value, str) and key not in IDENTITY_OR_TIME | {"commitHash"} | spare:
        return CANARY
    return value


def _break(value: Any) -> Any:
    """No time at all, and text where every count goes."""
    if isinstance(value, dict):
        return {k: _break(v) for k, v in value.items() if k not in {"day", "date", "commitTs", "createdAt"}}
    if isinstance(value, list):
        return [_break(v) for v in value]
    return CANARY if isinstance(value, int | float) and not isinstance(value, bool) else value


@pytest.mark.parametrize(("name", "read"), [(PAGINATED, daily), (LEGACY, daily), (COMMITS, commits)])
def test_a_canary_in_every_text_field_never_reaches_a_row_or_a_dead_letter(name, read):
    outcomes = read([(0, _plant(document(name)))])
    rows = [o.values for _, o in outcomes if isinstance(o, Row)]
    assert rows and all(CANARY not in repr(row) for row in rows)

    broken = read([(0, _plant(_break(document(name)), spare=frozenset(RAW_KEEP_KEYS)))])
    assert broken and all(isinstance(o, Dead) for _, o in broken)
    for _, letter in broken:
        assert CANARY not in letter.detail and CANARY not in letter.raw, letter


@pytest.mark.parametrize("field", ["commitTs", "repoName", "commitHash", "userId"])
def test_a_canary_in_an_identifier_or_time_field_is_not_echoed_in_a_dead_letter(field):
    change = {"userId": {"note": CANARY}, "userEmail": None} if field == "userId" else {field: CANARY}
    ((_, outcome),) = commits([(1, {**commit_item(0), **change})])

    assert isinstance(outcome, Dead)
    assert CANARY not in outcome.detail and CANARY not in outcome.raw, outcome


@pytest.mark.parametrize(("name", "daily_shape"), [(PAGINATED, True), (LEGACY, True), (COMMITS, False)])
def test_detection_tells_daily_usage_from_commits_by_shape(name, daily_shape):
    item = document(name)
    key = "usage/cursor/team=acme/page-1.json"

    assert cursor.detects_daily(key, item) is daily_shape
    assert cursor.detects_commits(key, item) is not daily_shape
    bare = item["data"][0] if daily_shape else item["items"][0]  # one record per JSON line
    assert cursor.detects_daily(key, bare) is daily_shape
    assert cursor.detects_commits(key, bare) is not daily_shape
    assert not cursor.detects_daily("usage/copilot/x.json", item) and not cursor.detects_commits("traces/x.json", item)


@pytest.mark.parametrize("item", [{"resourceMetrics": []}, {"day": "2025-10-01", "user_login": "x"}, [1], "x", None])
def test_other_shapes_are_neither_cursor_format(item):
    assert not cursor.detects_daily("usage/cursor/x.json", item)
    assert not cursor.detects_commits("usage/cursor/x.json", item)


def test_the_formats_name_their_source_format_and_tool():
    assert (cursor.FORMAT_DAILY.name, cursor.FORMAT_DAILY.tool) == ("cursor_daily", "cursor")
    assert (cursor.FORMAT_COMMITS.name, cursor.FORMAT_COMMITS.tool) == ("cursor_ai_commits", "cursor")
