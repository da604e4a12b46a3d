"""Copilot usage metrics (copilot_usage): one report row per (day, user) or per org day, counters never double-counted.

Expected values are computed by hand from the fixtures in tests/fixtures/usage/copilot (see its README).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from prodlens.normalize.fields import RAW_KEEP_KEYS
from prodlens.normalize.formats.base import Dead, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.usage import copilot
from prodlens.normalize.usage.base import MEASURES, ORGANIZATION

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "usage" / "copilot"
USERS = "users-1-day__2025-10-01.ndjson"
ORG_FLAT = "organization-1-day__2025-10-01.ndjson"
ORG_WRAPPED = "organization-28-day__wrapped__composed.json"
LEGACY = "LEGACY__orgs-copilot-metrics__2days.json"
LINKS = "rest-docs__users-1-day__download_links.json"
ALL = (USERS, ORG_FLAT, ORG_WRAPPED, LEGACY, LINKS)
CTX = ObjectContext("usage/copilot/org=acme/report.ndjson", None, None)
CANARY = "zz canary PROMPT TEXT 7f3a"


def items_of(name: str) -> list[tuple[int, Any]]:
    """The items core hands a usage format: the document (0), a top-level array's elements (1..n), or lines."""
    text = (FIXTURES / name).read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return [(n, json.loads(line)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    return list(enumerate(document, 1)) if isinstance(document, list) else [(0, document)]


def run(items: list[tuple[int, Any]], ctx: ObjectContext = CTX) -> list[tuple[int, Any]]:
    return list(copilot.records(items, ctx))


def measures(row: dict[str, Any]) -> dict[str, Any]:
    """The measures a row carries (None ones left out: a None is asserted by its absence)."""
    return {m: row[m] for m in MEASURES if row[m] is not None}


def only_rows(outcomes: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    assert all(isinstance(o, Row) for _, o in outcomes), outcomes
    return [o.values for _, o in outcomes]


def user_line(n: int) -> dict[str, Any]:
    return copy.deepcopy(dict(items_of(USERS))[n])


# -- samples ---------------------------------------------------------------------------------------------------


def test_user_lines_are_one_report_row_per_user_day_with_ide_and_cli_counters():
    rows = only_rows(run(items_of(USERS)))

    assert [(r["event_date"], r["developer_id"], r["kind"], r["tool"], r["source_format"]) for r in rows] == [
        ("2025-10-01", "login1", "report", "copilot", "copilot_usage"),
        ("2025-10-01", "mara-okafor", "report", "copilot", "copilot_usage"),
        ("2025-10-01", "tbaptiste-acme", "report", "copilot", "copilot_usage"),
    ]
    # line 1: IDE interactions 0 + CLI prompts 2; CLI tokens 3800 in / 5000 out
    assert measures(rows[0]) == {
        "interactions": 2,
        "suggested_lines": 10,
        "accepted_lines": 8,
        "removed_lines": 0,
        "accepts": 1,
        "tokens_in": 3800,
        "tokens_out": 5000,
    }
    # line 2: no CLI use -> no token counts at all (None, not 0)
    assert measures(rows[1]) == {
        "interactions": 10,
        "suggested_lines": 123,
        "accepted_lines": 231,
        "removed_lines": 43,
        "accepts": 17,
    }
    assert all(r["repo"] is None and r["series_id"] is None and r["source_key"] == CTX.source_key for r in rows)


def test_cli_only_user_has_zero_ide_counters_and_cli_prompts_and_tokens():
    (row,) = only_rows(run([(3, user_line(3))]))

    assert measures(row) == {
        "interactions": 7,  # 0 IDE interactions + 7 CLI prompts
        "suggested_lines": 0,
        "accepted_lines": 0,
        "removed_lines": 0,
        "accepts": 0,
        "tokens_in": 402118,
        "tokens_out": 21730,
    }


def test_breakdown_arrays_are_alternative_cuts_never_added_to_the_totals():
    line = user_line(2)
    # the fixture's five cuts each re-count the same 231 lines
    assert sum(f["loc_added_sum"] for f in line["totals_by_feature"]) == 231
    assert sum(i["loc_added_sum"] for i in line["totals_by_ide"]) == 231

    (row,) = only_rows(run([(2, line)]))
    assert (row["accepted_lines"], row["removed_lines"], row["accepts"], row["interactions"]) == (231, 43, 17, 10)

    # without the top-level counters the breakdowns are not summed in their place: the measure is unknown
    for name in ("loc_added_sum", "code_acceptance_activity_count", "user_initiated_interaction_count"):
        line.pop(name)
    (row,) = only_rows(run([(2, line)]))
    assert (row["accepted_lines"], row["accepts"], row["interactions"]) == (None, None, None)


def test_ai_credits_are_not_dollars_and_rolling_actives_are_not_measures():
    (row,) = only_rows(run([(2, user_line(2))]))

    assert user_line(2)["ai_credits_used"] == 38.75
    assert (row["cost_usd"], row["sessions"], row["active_seconds"]) == (None, None, None)


def test_flat_organization_line_is_an_organization_row_with_cli_added_and_copilot_prs():
    (row,) = only_rows(run(items_of(ORG_FLAT)))

    assert (row["event_date"], row["developer_id"]) == ("2025-10-01", ORGANIZATION)
    assert measures(row) == {
        "interactions": 129,  # 110 IDE + 19 CLI prompts
        "suggested_lines": 2221,
        "accepted_lines": 2123,
        "removed_lines": 398,
        "accepts": 381,
        "prs_by_ai": 2,
        "tokens_in": 1093377,
        "tokens_out": 61204,
    }


def test_wrapped_organization_report_is_one_row_per_day_total():
    outcomes = run(items_of(ORG_WRAPPED))

    assert [line for line, _ in outcomes] == [0, 0]
    first, second = only_rows(outcomes)
    assert (first["event_date"], first["developer_id"], second["event_date"]) == ("2025-09-30", "*", "2025-10-01")
    # day 1: no CLI use (no tokens, interactions IDE only), one Copilot-created PR; totals_by_ide not added
    assert measures(first) == {
        "interactions": 41,
        "suggested_lines": 950,
        "accepted_lines": 1204,
        "removed_lines": 220,
        "accepts": 190,
        "prs_by_ai": 1,
    }
    # day 2: 60 IDE + 5 CLI prompts, CLI tokens; no pull_requests object -> prs_by_ai unknown
    assert measures(second) == {
        "interactions": 65,
        "suggested_lines": 1000,
        "accepted_lines": 1500,
        "removed_lines": 300,
        "accepts": 210,
        "tokens_in": 90000,
        "tokens_out": 4000,
    }


def test_flat_and_wrapped_organization_records_give_the_same_row():
    ((_, flat),) = items_of(ORG_FLAT)
    (flat_row,) = only_rows(run([(1, flat)]))
    (wrapped_row,) = only_rows(run([(0, {"day_totals": [flat], "report_start_day": "2025-10-01"})]))

    assert wrapped_row == flat_row


def test_legacy_metrics_sum_additive_counts_over_breakdowns_and_never_engaged_users():
    first, second = only_rows(run(items_of(LEGACY)))

    assert (first["event_date"], first["developer_id"], second["event_date"]) == ("2024-11-04", "*", "2024-11-19")
    # 2024-11-04: lines suggested 11+37+13 (JetBrains) + 21 (vscode), accepted 0+0+12+8, acceptances 0+0+2+9,
    # chats 34+10; the engaged users (3 / 4 / 2+2) are in no column
    assert measures(first) == {"interactions": 44, "suggested_lines": 82, "accepted_lines": 20, "accepts": 11}
    # 2024-11-19: accepted 1050+14+309+2+21, acceptances 519+12+248+2+5, chats 86+25; suggested all 0
    assert measures(second) == {"interactions": 111, "suggested_lines": 0, "accepted_lines": 1396, "accepts": 786}


def test_download_links_response_is_read_and_skipped():
    assert run(items_of(LINKS)) == [(0, Skip())]


def test_empty_wrapped_report_is_one_skip():
    assert run([(0, {"day_totals": [], "report_start_day": "2025-10-01", "report_end_day": "2025-10-28"})]) == [
        (0, Skip())
    ]


# -- one row per (day, developer) ------------------------------------------------------------------------------


def test_same_user_day_twice_in_one_object_keeps_the_first_and_skips_the_second():
    again = user_line(2)
    again["loc_added_sum"] = 999

    outcomes = run([*items_of(USERS), (4, again)])

    assert [type(o).__name__ for _, o in outcomes] == ["Row", "Row", "Row", "Skip"]
    assert outcomes[1][1].values["accepted_lines"] == 231


def test_overlapping_reports_give_the_same_record_id_per_day_and_developer_for_aggregate_to_replace():
    ((_, flat),) = items_of(ORG_FLAT)
    (one_day,) = only_rows(run([(1, flat)], ObjectContext("usage/copilot/1-day.ndjson", None, None)))
    _, day_two = only_rows(run(items_of(ORG_WRAPPED), ObjectContext("usage/copilot/28-day.json", None, None)))

    assert one_day["event_date"] == day_two["event_date"] == "2025-10-01"
    assert one_day["record_id"] == day_two["record_id"]
    assert one_day["accepted_lines"] != day_two["accepted_lines"]  # two reports, each emitted as read
    user_rows = only_rows(run(items_of(USERS)))
    assert len({r["record_id"] for r in user_rows} | {one_day["record_id"]}) == 4


# -- malformed records -----------------------------------------------------------------------------------------


def _set(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = record
    for name in parents:
        node = node[name]
    if value is KeyError:
        node.pop(last)
    else:
        node[last] = value
    return record


@pytest.mark.parametrize(
    ("path", "value", "reason", "in_detail"),
    [
        ("day", KeyError, "missing_timestamp", "day is missing"),
        ("day", None, "missing_timestamp", "day is missing"),
        ("day", "10/01/2025", "invalid_timestamp", "day is a 10-character string"),
        ("day", "1999-12-31", "invalid_timestamp", "day"),
        ("day", 20251001, "invalid_timestamp", "day"),
        ("user_login", KeyError, "missing_developer", "no developer"),
        ("user_login", "", "missing_developer", "no developer"),
        ("user_login", {"login": "x"}, "invalid_record", "user_login is an object"),
        ("loc_added_sum", "12 lines", "invalid_value", "loc_added_sum is a 8-character string"),
        ("loc_added_sum", -1, "invalid_value", "loc_added_sum"),
        ("loc_added_sum", 1.5, "invalid_value", "loc_added_sum"),
        ("code_acceptance_activity_count", True, "invalid_value", "code_acceptance_activity_count is a boolean"),
        ("totals_by_cli", [1], "invalid_record", "totals_by_cli is a list"),
        ("totals_by_cli.token_usage", "lots", "invalid_record", "totals_by_cli.token_usage is a 4-character string"),
        ("totals_by_cli.token_usage.prompt_tokens_sum", 10**16, "invalid_value", "prompt_tokens_sum"),
        ("totals_by_cli.prompt_count", "two", "invalid_value", "totals_by_cli.prompt_count"),
    ],
)
def test_malformed_user_line_is_a_dead_letter_with_its_reason(path, value, reason, in_detail):
    line = _set(user_line(1), path, value)

    ((number, outcome),) = run([(7, line)])

    assert number == 7
    assert isinstance(outcome, Dead)
    assert outcome.reason == reason
    assert outcome.detail.startswith("record 7: ") and in_detail in outcome.detail, outcome.detail


@pytest.mark.parametrize("item", [[1, 2], "a line of text", 42, None, True])
def test_a_line_that_is_not_an_object_is_an_invalid_record(item):
    ((_, outcome),) = run([(3, item)])

    assert isinstance(outcome, Dead) and outcome.reason == "invalid_record"
    assert "not a JSON object" in outcome.detail


def test_malformed_legacy_and_wrapped_records_are_dead_letters():
    legacy = dict(items_of(LEGACY))
    no_date = copy.deepcopy(legacy[1])
    no_date.pop("date")
    bad_editors = copy.deepcopy(legacy[1])
    bad_editors["copilot_ide_code_completions"]["editors"] = "vscode"
    bad_language = copy.deepcopy(legacy[2])
    bad_language["copilot_ide_code_completions"]["editors"][0]["models"][0]["languages"][1] = 3
    bad_lines = copy.deepcopy(legacy[2])
    bad_lines["copilot_ide_code_completions"]["editors"][0]["models"][0]["languages"][0][
        "total_code_lines_accepted"
    ] = "many"

    outcomes = run([(1, no_date), (2, bad_editors), (3, bad_language), (4, bad_lines), (5, {"day_totals": {}})])

    assert [(n, o.reason) for n, o in outcomes] == [
        (1, "missing_timestamp"),
        (2, "invalid_record"),
        (3, "invalid_record"),
        (4, "invalid_value"),
        (5, "invalid_record"),
    ]
    assert "copilot_ide_code_completions.editors is a 6-character string" in outcomes[1][1].detail
    assert "day_totals is an object, not a list" in outcomes[4][1].detail


def test_a_bad_day_total_is_a_dead_letter_and_its_neighbours_are_rows():
    document = json.loads((FIXTURES / ORG_WRAPPED).read_text())
    document["day_totals"].insert(1, "junk")
    document["day_totals"][2].pop("day")

    outcomes = run([(0, document)])

    assert [type(o).__name__ for _, o in outcomes] == ["Row", "Dead", "Dead"]
    assert [o.reason for _, o in outcomes[1:]] == ["invalid_record", "missing_timestamp"]
    assert outcomes[2][1].detail.startswith("document day_totals[3]: ")


# -- accounting and privacy ------------------------------------------------------------------------------------


def test_every_record_yields_exactly_one_outcome_with_its_line_number():
    items = [
        *items_of(USERS),
        (4, "junk"),
        (5, {"user_login": "x"}),  # no day
        (6, user_line(1)),  # a repeat: skipped
        (7, {"download_links": []}),
    ]

    outcomes = run(items)

    assert [n for n, _ in outcomes] == [1, 2, 3, 4, 5, 6, 7]
    assert [type(o).__name__ for _, o in outcomes] == ["Row", "Row", "Row", "Dead", "Dead", "Skip", "Skip"]


def _plant(value: Any, key: str | None = None, spare: frozenset[str] = frozenset()) -> Any:
    """Every string value replaced by the canary, except identities and days (meant to be kept) and `spare`."""
    if isinstance(value, dict):
        return {k: _plant(v, k, spare) for k, v in value.items()}
    if isinstance(value, list):
        return [_plant(v, key, spare) for v in value]
    if isinstance(value, str) and key not in {"user_login", "day", "date"} | spare:
        return CANARY
    return value


def _strip(value: Any, names: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [_strip(v, names) for v in value]
    return value


def _numbers_to_text(value: Any, key: str | None = None) -> Any:
    """Every number replaced by the canary (text where a count goes), except under RAW_KEEP_KEYS (ids)."""
    if isinstance(value, dict):
        return {k: _numbers_to_text(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_to_text(v, key) for v in value]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return CANARY if number and key not in RAW_KEEP_KEYS else value


@pytest.mark.parametrize("name", ALL)
def test_a_canary_in_every_text_field_never_reaches_a_row_or_a_dead_letter(name):
    planted = [(n, _plant(item)) for n, item in items_of(name)]
    rows = [o.values for _, o in run(planted) if isinstance(o, Row)]
    assert rows or name == LINKS
    assert all(CANARY not in repr(row) for row in rows)

    # broken records: no day, or text where every count goes; RAW_KEEP_KEYS values (e.g. `model`) are kept in a
    # dead letter's raw text by design, so the canary is planted everywhere else
    spare = frozenset(RAW_KEEP_KEYS)
    undated = [(n, _plant(_strip(item, frozenset({"day", "date"})), spare=spare)) for n, item in items_of(name)]
    texts = [(n, _plant(_numbers_to_text(item), spare=spare)) for n, item in items_of(name)]
    letters = [o for _, o in run(undated) + run(texts) if not isinstance(o, Skip)]
    assert (letters or name == LINKS) and all(isinstance(o, Dead) for o in letters)
    for letter in letters:
        assert CANARY not in letter.detail and CANARY not in letter.raw, letter


def test_a_canary_day_or_login_type_error_is_not_echoed():
    line = user_line(1)
    line["day"] = CANARY
    ((_, outcome),) = run([(1, line)])

    assert outcome.reason == "invalid_timestamp" and CANARY not in outcome.detail + outcome.raw


# -- detection -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_copilot_shape_is_detected_under_usage_copilot_only(name):
    first = items_of(name)[0][1]

    assert copilot.detects("usage/copilot/org=acme/2025/10/01/report.ndjson", first)
    assert not copilot.detects("usage/cursor/report.json", first)
    assert not copilot.detects("traces/copilot/report.json", first)


@pytest.mark.parametrize(
    "item",
    [
        {"data": [], "period": {}},
        {"items": [{"commitHash": "a1b2c3d4"}]},
        {"resourceMetrics": []},
        [1, 2],
        "text",
        None,
    ],
)
def test_other_shapes_are_not_copilot(item):
    assert not copilot.detects("usage/copilot/x.json", item)


def test_the_format_names_its_source_format_and_tool():
    assert (copilot.FORMAT.name, copilot.FORMAT.tool) == ("copilot_usage", "copilot")
    assert copilot.FORMAT.records is copilot.records and copilot.FORMAT.detects is copilot.detects
