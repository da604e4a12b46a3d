"""Claude Code analytics pages (Admin API usage_report/claude_code): one report row per (actor, day) record."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from prodlens.normalize.formats.base import Dead, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.usage.base import MEASURES
from prodlens.normalize.usage.claude_code_analytics import FORMAT, detects, records

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "usage" / "claude_code"
GUIDE = "anthropic-docs__claude_code_usage_report__guide-example.json"
PAGE1 = "anthropic-api-ref__claude_code_usage_report__page1.json"
PAGE2 = "composed__claude_code_usage_report__page2.json"
KEY = "usage/claude_code/2025-08-08/page-1.json"
CTX = ObjectContext(KEY, None, None)
CANARY = "CANARY-c0de-analytics-do-not-store"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def run(*items: Any, ctx: ObjectContext = CTX) -> list[tuple[int, Any]]:
    return list(records(list(enumerate(items, 1)) if len(items) > 1 else [(0, items[0])], ctx))


def rows_of(outcomes: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    return [o.values for _, o in outcomes if isinstance(o, Row)]


def dead_of(outcomes: list[tuple[int, Any]]) -> list[Dead]:
    return [o for _, o in outcomes if isinstance(o, Dead)]


def measures(row: dict[str, Any]) -> dict[str, Any]:
    return {m: row[m] for m in MEASURES}


def record(**changes: Any) -> dict[str, Any]:
    """The API reference's record with top-level fields replaced (None deletes)."""
    base = copy.deepcopy(load(PAGE1)["data"][0])
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def page(*data: Any) -> dict[str, Any]:
    return {"data": list(data), "has_more": False, "next_page": None}


# -- the samples -------------------------------------------------------------------------------------------------


def test_api_reference_record_sums_tool_actions_and_models_and_reads_cents_as_dollars():
    (row,) = rows_of(run(load(PAGE1)))

    assert measures(row) == {
        "sessions": 15,
        "interactions": None,
        "suggested_lines": None,
        "accepted_lines": 342,
        "removed_lines": 128,
        "accepts": 25 + 12 + 5 + 8,  # edit, multi_edit, notebook_edit, write
        "rejects": 3 + 1 + 2 + 0,
        "commits_by_ai": 8,
        "prs_by_ai": 2,
        "tokens_in": 45230 + 23100,  # sonnet + haiku
        "tokens_out": 12450 + 5680,
        "cache_read_tokens": 8790 + 3420,
        "cache_write_tokens": 2340 + 890,
        "cost_usd": 2.28,  # 186 + 42 cents
        "active_seconds": None,
    }
    assert (row["kind"], row["tool"], row["source_format"]) == ("report", "claude_code", "claude_code_analytics")
    assert (row["developer_id"], row["event_date"], row["repo"]) == (
        "priya.natarajan@acme-robotics.example",
        "2025-08-08",
        None,
    )
    assert (row["series_id"], row["series_start"], row["point_time"]) == (None, None, None)
    assert row["source_key"] == KEY
    assert len(row["record_id"]) == 32


def test_guide_example_cost_of_1025_cents_is_10_25_usd():
    (row,) = rows_of(run(load(GUIDE)))

    assert (row["developer_id"], row["event_date"]) == ("developer@company.com", "2025-09-01")
    assert (row["sessions"], row["accepted_lines"], row["removed_lines"]) == (5, 1543, 892)
    assert (row["commits_by_ai"], row["prs_by_ai"]) == (12, 2)
    assert (row["accepts"], row["rejects"]) == (45 + 12 + 8 + 3, 5 + 2 + 1 + 0)
    assert (row["tokens_in"], row["tokens_out"], row["cache_read_tokens"], row["cache_write_tokens"]) == (
        100000,
        35000,
        10000,
        5000,
    )
    assert row["cost_usd"] == 10.25


def test_api_actor_is_its_key_name_and_empty_tool_actions_and_model_breakdown_are_measured_zeros():
    api, user = rows_of(run(load(PAGE2)))

    assert api["developer_id"] == "api_key:ci-release-bot"
    assert measures(api) == {
        "sessions": 2,
        "interactions": None,
        "suggested_lines": None,
        "accepted_lines": 500,
        "removed_lines": 100,
        "accepts": 0,  # tool_actions {}: no tool decision that day
        "rejects": 0,
        "commits_by_ai": 3,
        "prs_by_ai": 1,
        "tokens_in": 0,  # model_breakdown []: no model use that day
        "tokens_out": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 0.0,
        "active_seconds": None,
    }
    assert user["developer_id"] == "dmitri.volkov@acme-robotics.example"
    assert (user["accepts"], user["rejects"]) == (31 + 6, 9 + 0)  # only edit_tool and write_tool
    assert (user["tokens_in"], user["tokens_out"]) == (18305 + 4820, 27716 + 713)
    assert (user["cache_read_tokens"], user["cache_write_tokens"]) == (1180422, 61044)
    assert user["cost_usd"] == 23.98  # 2391 + 7 cents
    assert (user["commits_by_ai"], user["prs_by_ai"], user["removed_lines"]) == (0, 0, 0)  # zeros stay zeros


def test_a_rfc3339_date_and_a_plain_day_are_the_same_report_key():
    plain, stamped = rows_of(run(page(record(date="2025-08-08"), record(date="2025-08-08T00:00:00Z"))))

    assert plain["event_date"] == stamped["event_date"] == "2025-08-08"
    assert plain["record_id"] == stamped["record_id"]  # a re-pulled day replaces the report, never adds to it


def test_pages_of_one_day_and_a_repull_keep_one_record_id_per_actor_and_day():
    first = rows_of(run(load(PAGE1)))
    again = rows_of(run(load(PAGE1), ctx=ObjectContext("usage/claude_code/2025-08-08/repull.json", None, None)))
    other = rows_of(run(load(PAGE2)))

    assert [r["record_id"] for r in first] == [r["record_id"] for r in again]
    assert len({r["record_id"] for r in first + other}) == 3


def test_absent_sections_are_unknown_not_zero():
    (row,) = rows_of(run(page(record(core_metrics=None, tool_actions=None, model_breakdown=None))))

    assert set(measures(row).values()) == {None}


def test_partly_reported_sections_keep_what_is_reported():
    partial = record(
        core_metrics={"num_sessions": 3},
        tool_actions={"edit_tool": {"accepted": 2}, "write_tool": None},
        model_breakdown=[{"model": "m", "tokens": {"input": 7}}, {"model": "n"}],
    )
    (row,) = rows_of(run(page(partial)))

    assert (row["sessions"], row["accepted_lines"], row["commits_by_ai"]) == (3, None, None)
    assert (row["accepts"], row["rejects"]) == (2, None)
    assert (row["tokens_in"], row["tokens_out"], row["cost_usd"]) == (7, None, None)


def test_a_cost_in_another_currency_is_no_cost_and_an_absent_currency_is_usd():
    eur = record()
    eur["model_breakdown"][1]["estimated_cost"]["currency"] = "EUR"
    bare = record()
    for entry in bare["model_breakdown"]:
        entry["estimated_cost"].pop("currency")
    lower = record()
    lower["model_breakdown"][0]["estimated_cost"]["currency"] = "usd"

    in_eur, no_currency, lowercase = rows_of(run(page(eur, bare, lower)))

    assert in_eur["cost_usd"] is None
    assert in_eur["tokens_in"] == 45230 + 23100  # the tokens are kept
    assert no_currency["cost_usd"] == lowercase["cost_usd"] == 2.28


def test_fractional_cents_and_numeric_strings_are_amounts():
    odd = record()
    odd["model_breakdown"][0]["estimated_cost"]["amount"] = 12.5
    odd["model_breakdown"][1]["estimated_cost"]["amount"] = "30"
    (row,) = rows_of(run(page(odd)))

    assert row["cost_usd"] == 0.425


def test_an_actor_without_a_type_is_its_email_else_its_key_name():
    email, key = rows_of(
        run(
            page(
                record(actor={"email_address": " lee@acme.example "}),
                record(actor={"api_key_name": "nightly"}),
            )
        )
    )

    assert (email["developer_id"], key["developer_id"]) == ("lee@acme.example", "api_key:nightly")


# -- bad records -------------------------------------------------------------------------------------------------


def _negative_session() -> dict[str, Any]:
    bad = record()
    bad["core_metrics"]["num_sessions"] = -1
    return bad


def _text_amount() -> dict[str, Any]:
    bad = record()
    bad["model_breakdown"][0]["estimated_cost"]["amount"] = "lots"
    return bad


def _text_tokens() -> dict[str, Any]:
    bad = record()
    bad["model_breakdown"][1]["tokens"]["output"] = "many"
    return bad


def _fractional_accepts() -> dict[str, Any]:
    bad = record()
    bad["tool_actions"]["edit_tool"]["accepted"] = 2.5
    return bad


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (record(date=None), "missing_timestamp"),
        (record(date=""), "missing_timestamp"),
        (record(date="yesterday"), "invalid_timestamp"),
        (record(date="2025-13-01"), "invalid_timestamp"),
        (record(date=True), "invalid_timestamp"),
        (record(actor=None), "missing_developer"),
        (record(actor={"type": "user_actor"}), "missing_developer"),
        (record(actor={"type": "user_actor", "email_address": "  ", "api_key_name": "k"}), "missing_developer"),
        (record(actor={"type": "api_actor", "email_address": "a@b.example"}), "missing_developer"),
        (record(actor={"type": "user_actor", "email_address": 42}), "invalid_record"),
        (record(actor="someone"), "invalid_record"),
        (_negative_session(), "invalid_value"),
        (_text_amount(), "invalid_value"),
        (_text_tokens(), "invalid_value"),
        (_fractional_accepts(), "invalid_value"),
        (record(core_metrics=[1, 2]), "invalid_record"),
        (record(core_metrics={"lines_of_code": 12}), "invalid_record"),
        (record(tool_actions=["edit_tool"]), "invalid_record"),
        (record(tool_actions={"edit_tool": 3}), "invalid_record"),
        (record(model_breakdown={"model": "m"}), "invalid_record"),
        (record(model_breakdown=["m"]), "invalid_record"),
        (record(model_breakdown=[{"tokens": 5}]), "invalid_record"),
        (record(model_breakdown=[{"estimated_cost": 186}]), "invalid_record"),
        ("a string", "invalid_record"),
        (None, "invalid_record"),
    ],
)
def test_a_bad_record_is_one_dead_letter_with_its_reason_next_to_the_good_ones(bad, reason):
    outcomes = run(page(record(), bad, record(actor={"type": "user_actor", "email_address": "z@acme.example"})))

    assert [type(o) for _, o in outcomes] == [Row, Dead, Row]
    dead = outcomes[1][1]
    assert dead.reason == reason
    assert dead.detail.startswith("record 2")
    assert isinstance(dead.raw, str)


def test_an_actorless_record_is_never_given_to_the_object_uploader():
    outcomes = run(page(record(actor=None)), ctx=ObjectContext(KEY, None, "uploader@acme.example"))

    assert [o.reason for _, o in outcomes] == ["missing_developer"]


@pytest.mark.parametrize("data", [{"0": {}}, "records", 3, None])
def test_a_page_whose_data_is_not_a_list_is_one_dead_letter(data):
    outcomes = run({"data": data, "has_more": False})

    assert [(line, type(o), o.reason) for line, o in outcomes] == [(0, Dead, "invalid_record")]


def test_an_empty_page_holds_no_record():
    assert run(page()) == []


# -- accounting and items ---------------------------------------------------------------------------------------


def test_every_record_read_has_exactly_one_outcome_on_its_line():
    first, second = load(PAGE1), load(PAGE2)
    second["data"].append({"date": "2025-08-08"})  # no actor: dead
    bare = record(date="2025-08-09")  # one record per JSON line, unwrapped
    outcomes = run(first, second, bare, [1, 2], {"has_more": False})

    assert [(line, type(o).__name__) for line, o in outcomes] == [
        (1, "Row"),
        (2, "Row"),
        (2, "Row"),
        (2, "Dead"),
        (3, "Row"),
        (4, "Dead"),  # neither a page nor a record
        (5, "Dead"),
    ]
    assert not any(isinstance(o, Skip) for _, o in outcomes)


def test_detects_pages_and_records_under_usage_claude_code_only():
    assert detects("usage/claude_code/2025/08/08/p1.json", load(PAGE1))
    assert detects("usage/claude_code/x.jsonl", record())
    assert not detects("usage/otel/x.json", load(PAGE1))
    assert not detects("traces/claude_code/x.json", load(PAGE1))
    assert not detects("usage/claude_code/x.json", {"resourceMetrics": []})
    assert not detects("usage/claude_code/x.json", [load(PAGE1)])
    assert (FORMAT.name, FORMAT.tool) == ("claude_code_analytics", "claude_code")


# -- privacy ----------------------------------------------------------------------------------------------------

# Free-text fields a record carries but no column reads; the dead letter's raw text must redact them too.
TEXT_FIELDS = ("terminal_type", "customer_type", "subscription_type", "organization_id", "note")


def _with_canary(base: dict[str, Any]) -> dict[str, Any]:
    planted = copy.deepcopy(base)
    for field in TEXT_FIELDS:
        planted[field] = CANARY
    planted["actor"]["display_name"] = CANARY
    planted["core_metrics"]["comment"] = CANARY
    for entry in planted.get("model_breakdown") or []:
        entry["estimated_cost"]["note"] = CANARY
        entry["tokens"]["label"] = CANARY
    return planted


def test_a_canary_in_any_text_field_reaches_no_row_value_and_no_dead_letter():
    valid = _with_canary(record())
    bad_values = _with_canary(record())
    bad_values["core_metrics"]["num_sessions"] = CANARY
    bad_values["core_metrics"]["lines_of_code"]["added"] = CANARY
    bad_values["model_breakdown"][0]["estimated_cost"]["amount"] = CANARY
    bad_email = _with_canary(record(actor={"type": "user_actor", "email_address": 7, "nick": CANARY}))
    bad_cost = _with_canary(record())
    bad_cost["model_breakdown"][1]["tokens"]["input"] = CANARY
    bad_date = _with_canary(record(date=CANARY))
    outcomes = run(page(valid, bad_values, bad_email, bad_cost, bad_date, CANARY), {"data": CANARY})

    rows, dead = rows_of(outcomes), dead_of(outcomes)
    assert (len(rows), len(dead)) == (1, 6)
    assert all(CANARY not in str(value) for row in rows for value in row.values())
    assert all(CANARY not in d.detail for d in dead)
    # raw keeps identifiers and timestamps (a `date` explains its own rejection): every other string is redacted
    assert all(CANARY not in d.raw for d in dead if d.reason != "invalid_timestamp")
    assert {d.reason for d in dead} == {"invalid_value", "invalid_record", "invalid_timestamp"}
