"""Claude Code's OTLP/JSON metrics (Collector awss3exporter): one delta/cumulative row per claude_code.* point."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prodlens.normalize.formats.base import Dead, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.usage.base import MEASURES
from prodlens.normalize.usage.claude_code_otel_metrics import FORMAT, detects, records

ROOT = Path(__file__).resolve().parents[3] / "fixtures" / "usage" / "otel"
PARTITION = "claude-code-metrics/year=2025/month=09/day=08/hour=14"
DELTA_FILE = f"{PARTITION}/minute=05/metrics_Qm7rT2xKp.json"
CUMULATIVE_FILES = (f"{PARTITION}/minute=06/metrics_Lb4nW8cZe.json", f"{PARTITION}/minute=07/metrics_Hd2vY6sJr.json")
CANARY = "CANARY-0tel-metrics-do-not-store"
PRIYA, DMITRI, LENA = (
    "priya.natarajan@acme-robotics.example",
    "dmitri.volkov@acme-robotics.example",
    "lena.hoffmann@acme-robotics.example",
)


def load(name: str) -> dict[str, Any]:
    return json.loads((ROOT / name).read_text())


def ctx(name: str, developer: str | None = None) -> ObjectContext:
    return ObjectContext(f"usage/otel/{name}", None, developer)


def run(document: Any, name: str = DELTA_FILE, developer: str | None = None) -> list[Any]:
    """The outcomes of one object (the whole document as item 0), every one on line 0."""
    outcomes = list(records([(0, document)], ctx(name, developer)))
    assert {line for line, _ in outcomes} <= {0}
    return [outcome for _, outcome in outcomes]


def rows_of(outcomes: list[Any]) -> list[dict[str, Any]]:
    return [o.values for o in outcomes if isinstance(o, Row)]


def the_measure(row: dict[str, Any]) -> tuple[str, Any]:
    (filled,) = [(m, row[m]) for m in MEASURES if row[m] is not None]
    return filled


def totals(rows: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Sum of each (developer, measure): what aggregate does with delta points."""
    out: dict[tuple[str, str], Any] = defaultdict(int)
    for row in rows:
        column, value = the_measure(row)
        out[(row["developer_id"], column)] += value
    return dict(out)


def increments(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], Any]:
    """What aggregate does with cumulative points (docs/metrics.md, developer_daily_usage): along each series_id, in
    point_time order, each point adds its value minus the previous point's (the first point, and a point after a
    drop, i.e. a counter reset, count whole); the increments are summed per (day, developer, measure)."""
    out: dict[tuple[str, str, str], Any] = defaultdict(int)
    previous: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: (r["series_id"], r["point_time"])):
        column, value = the_measure(row)
        before = previous.get(row["series_id"], 0)
        out[(row["event_date"], row["developer_id"], column)] += value - before if value >= before else value
        previous[row["series_id"]] = value
    return dict(out)


def metric(document: dict[str, Any], name: str, resource: int = 0) -> dict[str, Any]:
    (found,) = [
        m
        for m in document["resourceMetrics"][resource]["scopeMetrics"][0]["metrics"]
        if m["name"] == f"claude_code.{name}"
    ]
    return found


def first_point(document: dict[str, Any], name: str = "session.count") -> dict[str, Any]:
    return metric(document, name)["sum"]["dataPoints"][0]


def set_attribute(attributes: list[dict[str, Any]], key: str, value: Any) -> None:
    """Set (value given) or remove (value None) an OTLP attribute in place."""
    attributes[:] = [a for a in attributes if a["key"] != key]
    if value is not None:
        attributes.append({"key": key, "value": value})


# -- delta -----------------------------------------------------------------------------------------------------


def test_delta_export_of_two_processes_gives_one_row_per_point_each_filling_one_measure():
    outcomes = run(load(DELTA_FILE))
    rows = rows_of(outcomes)

    assert len(outcomes) == len(rows) == 18 + 6  # priya: 18 points, dmitri: 6 (cost, 4 token types, cli time)
    assert {(r["kind"], r["tool"], r["source_format"], r["repo"]) for r in rows} == {
        ("delta", "claude_code", "claude_code_otel_metrics", None)
    }
    assert totals(rows) == {
        (PRIYA, "sessions"): 1,
        (PRIYA, "accepted_lines"): 148,
        (PRIYA, "removed_lines"): 37,
        (PRIYA, "commits_by_ai"): 1,
        (PRIYA, "prs_by_ai"): 1,
        (PRIYA, "cost_usd"): pytest.approx(0.41271435 + 0.0018832),
        (PRIYA, "tokens_in"): 2311 + 1874,  # sonnet + haiku
        (PRIYA, "tokens_out"): 4102 + 96,
        (PRIYA, "cache_read_tokens"): 198432,
        (PRIYA, "cache_write_tokens"): 21877,
        (PRIYA, "accepts"): 4 + 1,  # Edit accept, Write accept
        (PRIYA, "rejects"): 1,
        (PRIYA, "active_seconds"): pytest.approx(41.7 + 18.236),  # type=user + type=cli
        (DMITRI, "cost_usd"): 1.90851,
        (DMITRI, "tokens_in"): 38,
        (DMITRI, "tokens_out"): 3105,
        (DMITRI, "cache_read_tokens"): 411802,
        (DMITRI, "cache_write_tokens"): 52214,
        (DMITRI, "active_seconds"): 55.02,
    }


def test_delta_points_are_dated_by_their_nanosecond_times_not_by_the_key():
    rows = rows_of(run(load(DELTA_FILE)))
    by_developer = {r["developer_id"]: r for r in rows}

    # 1757340302115000000 ns = 20339 days (2025-09-08) + 50702.115 s (14:05:02.115)
    assert by_developer[PRIYA]["point_time"] == datetime(2025, 9, 8, 14, 5, 2, 115000)
    assert by_developer[PRIYA]["series_start"] == datetime(2025, 9, 8, 14, 4, 2, 115000)
    assert by_developer[DMITRI]["point_time"] == datetime(2025, 9, 8, 14, 5, 6, 930000)
    assert {r["event_date"] for r in rows} == {"2025-09-08"}
    assert all(isinstance(r["point_time"], datetime) and r["point_time"].tzinfo is None for r in rows)


def test_a_point_after_midnight_belongs_to_the_next_day_whatever_the_key_says():
    document = load(DELTA_FILE)
    point = first_point(document)
    point["startTimeUnixNano"] = "1757375970000000000"  # 2025-09-08 23:59:30
    point["timeUnixNano"] = "1757376030000000000"  # 2025-09-09 00:00:30
    (row,) = [r for r in rows_of(run(document)) if r["sessions"] is not None]

    assert (row["event_date"], row["point_time"]) == ("2025-09-09", datetime(2025, 9, 9, 0, 0, 30))


def test_every_series_of_a_delta_export_is_distinct():
    rows = rows_of(run(load(DELTA_FILE)))

    assert len({r["series_id"] for r in rows}) == len({r["record_id"] for r in rows}) == 24


# -- cumulative -------------------------------------------------------------------------------------------------


def test_cumulative_points_are_emitted_as_running_totals_sharing_their_series_across_files():
    older, newer = (rows_of(run(load(name), name)) for name in CUMULATIVE_FILES)

    assert len(older) == len(newer) == 12
    assert {r["kind"] for r in older + newer} == {"cumulative"}
    assert {r["developer_id"] for r in older + newer} == {LENA}
    # same startTimeUnixNano in both files: every point of the newer file continues a series of the older one
    assert [r["series_id"] for r in older] == [r["series_id"] for r in newer]
    assert not {r["record_id"] for r in older} & {r["record_id"] for r in newer}
    assert {r["series_start"] for r in older + newer} == {datetime(2025, 9, 8, 14, 1, 47, 300000)}
    assert ({r["point_time"] for r in older}, {r["point_time"] for r in newer}) == (
        {datetime(2025, 9, 8, 14, 6, 47, 300000)},
        {datetime(2025, 9, 8, 14, 7, 47, 300000)},
    )
    # values as exported (never summed here): lines added 212 then 305, commits 2 then 2 (repeated unchanged)
    assert [the_measure(r) for r in older] == [
        ("sessions", 1),
        ("accepted_lines", 212),
        ("removed_lines", 64),
        ("commits_by_ai", 2),
        ("cost_usd", 0.93307),
        ("tokens_in", 12400),
        ("tokens_out", 8811),
        ("cache_read_tokens", 402117),
        ("cache_write_tokens", 39220),
        ("accepts", 7),  # legacy attribute `tool` instead of `tool_name`
        ("rejects", 1),
        ("active_seconds", 188.4),  # active_time.total without `type`
    ]
    assert [the_measure(r) for r in newer] == [
        ("sessions", 1),
        ("accepted_lines", 305),
        ("removed_lines", 71),
        ("commits_by_ai", 2),
        ("cost_usd", 1.14562),
        ("tokens_in", 18950),
        ("tokens_out", 10377),
        ("cache_read_tokens", 515003),
        ("cache_write_tokens", 44871),
        ("accepts", 9),
        ("rejects", 1),
        ("active_seconds", 231.9),
    ]


def test_increments_along_each_series_give_the_day_totals_and_summing_the_totals_would_double_count():
    rows = [row for name in CUMULATIVE_FILES for row in rows_of(run(load(name), name))]
    day = increments(rows)

    assert day == {
        ("2025-09-08", LENA, "sessions"): 1,
        ("2025-09-08", LENA, "accepted_lines"): 212 + (305 - 212),
        ("2025-09-08", LENA, "removed_lines"): 71,
        ("2025-09-08", LENA, "commits_by_ai"): 2,  # 2, then 2 - 2 = 0
        ("2025-09-08", LENA, "cost_usd"): pytest.approx(1.14562),
        ("2025-09-08", LENA, "tokens_in"): 18950,
        ("2025-09-08", LENA, "tokens_out"): 10377,
        ("2025-09-08", LENA, "cache_read_tokens"): 515003,
        ("2025-09-08", LENA, "cache_write_tokens"): 44871,
        ("2025-09-08", LENA, "accepts"): 9,
        ("2025-09-08", LENA, "rejects"): 1,
        ("2025-09-08", LENA, "active_seconds"): pytest.approx(231.9),
    }
    assert totals(rows)[(LENA, "accepted_lines")] == 517  # the trap: 212 + 305


def test_a_process_restart_is_a_new_series_whose_first_point_counts_whole():
    restarted = load(CUMULATIVE_FILES[1])
    for point in metric(restarted, "lines_of_code.count")["sum"]["dataPoints"]:
        point["startTimeUnixNano"] = "1757340500000000000"  # 14:08:20, after the last point of the old process
        point["timeUnixNano"] = "1757340560000000000"  # 14:09:20
        point["asInt"] = {"added": "40", "removed": "3"}[point["attributes"][-1]["value"]["stringValue"]]
    rows = [row for name in CUMULATIVE_FILES for row in rows_of(run(load(name), name))]
    after = [r for r in rows_of(run(restarted)) if r["accepted_lines"] is not None or r["removed_lines"] is not None]

    assert not {r["series_id"] for r in after} & {r["series_id"] for r in rows}
    assert {r["series_start"] for r in after} == {datetime(2025, 9, 8, 14, 8, 20)}
    day = increments(rows + after)
    assert day[("2025-09-08", LENA, "accepted_lines")] == 305 + 40  # not 40 - 305
    assert day[("2025-09-08", LENA, "removed_lines")] == 71 + 3


def test_a_point_delivered_twice_has_one_record_id():
    name = CUMULATIVE_FILES[0]
    once = rows_of(run(load(name), name))
    twice = rows_of(run(load(name), name))
    elsewhere = rows_of(run(load(name), f"{PARTITION}/minute=09/metrics_Zz9zZ9zZ9.json"))
    doubled = load(name)
    doubled["resourceMetrics"].append(copy.deepcopy(doubled["resourceMetrics"][0]))

    ids = [r["record_id"] for r in once]
    assert ids == [r["record_id"] for r in twice] == [r["record_id"] for r in elsewhere]
    assert len(set(ids)) == 12
    assert [r["record_id"] for r in rows_of(run(doubled, name))] == ids + ids


def test_a_series_id_depends_on_metric_attributes_resource_and_start_only():
    base = rows_of(run(load(CUMULATIVE_FILES[0])))[0]
    renamed = load(CUMULATIVE_FILES[0])
    set_attribute(first_point(renamed)["attributes"], "terminal.type", {"stringValue": "vscode"})
    moved = load(CUMULATIVE_FILES[0])
    set_attribute(moved["resourceMetrics"][0]["resource"]["attributes"], "host.arch", {"stringValue": "amd64"})
    later = load(CUMULATIVE_FILES[0])
    first_point(later)["timeUnixNano"] = "1757340999000000000"
    value = load(CUMULATIVE_FILES[0])
    first_point(value)["asInt"] = "5"

    assert rows_of(run(renamed))[0]["series_id"] != base["series_id"]
    assert rows_of(run(moved))[0]["series_id"] != base["series_id"]
    assert rows_of(run(later))[0]["series_id"] == base["series_id"]
    assert rows_of(run(value))[0]["series_id"] == base["series_id"]
    assert rows_of(run(value))[0]["record_id"] == base["record_id"]  # same point, corrected value: one record


# -- values, identity, repo -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"asInt": "7"}, 7),
        ({"asInt": 7}, 7),
        ({"asDouble": 7.0}, 7),
        ({"asDouble": "7"}, 7),
        ({"asInt": "0"}, 0),
    ],
)
def test_a_count_reads_from_as_int_strings_or_integral_doubles(value, expected):
    document = load(DELTA_FILE)
    point = first_point(document, "commit.count")
    point.pop("asInt")
    point.update(value)
    (row,) = [r for r in rows_of(run(document)) if r["commits_by_ai"] is not None]

    assert row["commits_by_ai"] == expected
    assert isinstance(row["commits_by_ai"], int)


def test_cost_and_active_time_read_as_int_too():
    document = load(DELTA_FILE)
    cost = first_point(document, "cost.usage")
    cost.pop("asDouble")
    cost["asInt"] = "2"
    (row,) = [r for r in rows_of(run(document)) if r["cost_usd"] == 2.0]

    assert isinstance(row["cost_usd"], float)


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        (("user.email", "user.account_uuid", "user.id"), PRIYA),
        (("user.account_uuid", "user.id"), "a3c9e5f1-7b2d-4e8a-9c0b-6d4f2e1a8b75"),
        (("user.id",), "5f0c1e9a2b7d4c3e8f6a1b0d9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"),
    ],
)
def test_developer_is_the_email_else_the_account_else_the_install_id(keep, expected):
    document = load(DELTA_FILE)
    point = first_point(document)
    for key in {"user.email", "user.account_uuid", "user.id"} - set(keep):
        set_attribute(point["attributes"], key, None)
    (row,) = [r for r in rows_of(run(document)) if r["sessions"] is not None]

    assert row["developer_id"] == expected


def test_developer_falls_back_to_resource_attributes_and_never_to_the_uploader():
    document = load(DELTA_FILE)
    point = first_point(document)
    for key in ("user.email", "user.account_uuid", "user.id"):
        set_attribute(point["attributes"], key, None)
    resource = copy.deepcopy(document)
    set_attribute(
        resource["resourceMetrics"][0]["resource"]["attributes"], "user.email", {"stringValue": "res@acme.example"}
    )

    assert run(resource)[0].values["developer_id"] == "res@acme.example"
    assert run(document, developer="uploader@acme.example")[0].reason == "missing_developer"
    assert (run(document)[0].reason, type(run(document)[1])) == ("missing_developer", Row)


def test_repo_comes_from_a_repo_resource_attribute_only():
    document = load(DELTA_FILE)
    set_attribute(document["resourceMetrics"][0]["resource"]["attributes"], "repo", {"stringValue": "Acme/API"})
    set_attribute(first_point(document)["attributes"], "repo", {"stringValue": "other/repo"})
    rows = rows_of(run(document))

    assert {r["repo"] for r in rows if r["developer_id"] == PRIYA} == {"acme/api"}
    assert {r["repo"] for r in rows if r["developer_id"] == DMITRI} == {None}
    on_meta = ObjectContext(f"usage/otel/{DELTA_FILE}", "meta/repo", None)
    assert {o.values["repo"] for _, o in records([(0, load(DELTA_FILE))], on_meta)} == {None}


def test_an_invalid_repo_is_a_dead_letter_that_does_not_quote_it():
    document = load(DELTA_FILE)
    set_attribute(document["resourceMetrics"][1]["resource"]["attributes"], "repo", {"stringValue": f"../{CANARY}"})
    outcomes = run(document)

    dead = [o for o in outcomes if isinstance(o, Dead)]
    assert len(dead) == 6 and {d.reason for d in dead} == {"invalid_repo"}
    assert all(CANARY not in d.detail for d in dead)


# -- skips ------------------------------------------------------------------------------------------------------


def test_other_metrics_and_unmapped_breakdowns_are_skipped_one_per_point():
    document = load(DELTA_FILE)
    metrics = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    points = metric(document, "session.count")["sum"]["dataPoints"]
    metrics.append({"name": "http.server.duration", "histogram": {"dataPoints": [{}, {}, {}]}})
    metrics.append({"name": "process.cpu", "gauge": {"dataPoints": "broken"}})  # not ours: one skipped record
    metrics.append({"name": "claude_code.future.count", "sum": {"dataPoints": copy.deepcopy(points)}})
    metrics.append({"name": 17, "sum": {"dataPoints": [{}]}})
    metrics.append({"name": "claude_code.session.count", "sum": {"aggregationTemporality": 1}})  # no points
    loc = copy.deepcopy(metric(document, "lines_of_code.count"))
    set_attribute(loc["sum"]["dataPoints"][0]["attributes"], "type", {"stringValue": "modified"})
    set_attribute(loc["sum"]["dataPoints"][1]["attributes"], "type", {"intValue": "2"})
    metrics.append(loc)
    decisions = copy.deepcopy(metric(document, "code_edit_tool.decision"))
    set_attribute(decisions["sum"]["dataPoints"][0]["attributes"], "decision", {"stringValue": "ask"})
    metrics.append(decisions)
    outcomes = run(document)

    skipped = [o for o in outcomes if isinstance(o, Skip)]
    assert len(skipped) == 3 + 1 + 1 + 1 + 2 + 1
    assert len(outcomes) == 24 + len(skipped) + 2  # the two remaining decision points are rows


# -- bad input --------------------------------------------------------------------------------------------------


def _point(change: dict[str, Any], name: str = "commit.count") -> dict[str, Any]:
    document = load(DELTA_FILE)
    point = first_point(document, name)
    for key, value in change.items():
        if value is None:
            point.pop(key, None)
        else:
            point[key] = value
    return document


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_point({"timeUnixNano": None}), "missing_timestamp"),
        (_point({"timeUnixNano": "0"}), "missing_timestamp"),
        (_point({"timeUnixNano": "soon"}), "invalid_timestamp"),
        (_point({"timeUnixNano": 1.5e18}), "invalid_timestamp"),
        (_point({"timeUnixNano": "99999999999999999999"}), "invalid_timestamp"),
        (_point({"timeUnixNano": "946684799000000000"}), "invalid_timestamp"),  # 1999-12-31: before 2000
        (_point({"startTimeUnixNano": "1757340402115000000"}), "invalid_timestamp"),  # after timeUnixNano
        (_point({"startTimeUnixNano": ["x"]}), "invalid_timestamp"),
        (_point({"asInt": "-3"}), "invalid_value"),
        (_point({"asInt": "three"}), "invalid_value"),
        (_point({"asInt": True}), "invalid_value"),
        (_point({"asInt": None, "asDouble": 2.5}), "invalid_value"),  # a fractional count
        (_point({"asInt": None, "asDouble": -0.5}, "cost.usage"), "invalid_value"),
        (_point({"asInt": None, "asDouble": "NaN"}, "cost.usage"), "invalid_value"),
        (_point({"asInt": None, "asDouble": None}, "cost.usage"), "invalid_value"),
        (_point({"asInt": str(10**16)}), "invalid_value"),  # above the count bound
        (_point({"attributes": [{"key": "user.email", "value": {"stringValue": ""}}]}), "missing_developer"),
    ],
)
def test_a_bad_point_is_one_dead_letter_with_its_reason(document, reason):
    outcomes = run(document)

    dead = [o for o in outcomes if isinstance(o, Dead)]
    assert len(outcomes) == 24
    assert [d.reason for d in dead] == [reason]
    assert dead[0].detail.startswith("metric ")


def test_a_cumulative_point_without_a_start_is_dead_but_a_delta_point_without_one_is_a_row():
    cumulative = load(CUMULATIVE_FILES[0])
    first_point(cumulative).pop("startTimeUnixNano")
    delta = load(DELTA_FILE)
    first_point(delta).pop("startTimeUnixNano")

    assert run(cumulative)[0].reason == "missing_timestamp"
    assert run(delta)[0].values["series_start"] is None


@pytest.mark.parametrize("temporality", [0, 3, None, "1", 1.0, True, "AGGREGATION_TEMPORALITY_UNSPECIFIED"])
def test_an_unknown_temporality_makes_every_point_of_the_metric_dead(temporality):
    document = load(DELTA_FILE)
    data = metric(document, "token.usage")["sum"]
    if temporality is None:
        data.pop("aggregationTemporality")
    else:
        data["aggregationTemporality"] = temporality
    outcomes = run(document)

    assert len(outcomes) == 24
    assert [o.reason for o in outcomes if isinstance(o, Dead)] == ["invalid_record"] * 6


def test_temporality_enum_names_read_as_their_numbers():
    document = load(DELTA_FILE)
    metric(document, "token.usage")["sum"]["aggregationTemporality"] = "AGGREGATION_TEMPORALITY_CUMULATIVE"

    assert sum(r["kind"] == "cumulative" for r in rows_of(run(document))) == 6


def test_malformed_parts_are_one_dead_letter_each():
    document = load(DELTA_FILE)
    metric(document, "commit.count")["sum"]["dataPoints"] = {"0": {}}  # 1 point -> 1 dead record
    metric(document, "pull_request.count").pop("sum")  # a claude_code counter without sum: 1 dead record
    metric(document, "session.count")["sum"]["dataPoints"].append(42)
    document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].append("not a metric")
    document["resourceMetrics"].append("not a resource")
    document["resourceMetrics"].append({"resource": {}, "scopeMetrics": {"metrics": []}})
    document["resourceMetrics"].append({"scopeMetrics": [None]})
    outcomes = run(document)

    dead = [o for o in outcomes if isinstance(o, Dead)]
    assert len(dead) == 7
    assert {d.reason for d in dead} == {"invalid_record"}
    assert len(rows_of(outcomes)) == 24 - 2  # commit and pull_request points lost to their broken parts


@pytest.mark.parametrize("item", [{"resourceLogs": []}, [], "text", None, {}])
def test_an_item_that_is_not_a_metrics_export_is_one_dead_letter(item):
    outcomes = list(records([(3, item)], ctx(DELTA_FILE)))

    assert [(line, o.reason) for line, o in outcomes] == [(3, "invalid_record")]


def test_an_empty_export_holds_no_record():
    assert run({"resourceMetrics": []}) == []
    assert run({"resourceMetrics": [{"scopeMetrics": [{"metrics": []}]}]}) == []


# -- accounting, detection --------------------------------------------------------------------------------------


def test_one_outcome_per_point_over_several_exports_on_their_lines():
    items = [(1, load(CUMULATIVE_FILES[0])), (2, load(DELTA_FILE)), (3, "garbage"), (4, load(CUMULATIVE_FILES[1]))]
    outcomes = list(records(items, ctx("claude-code-metrics/batch.jsonl")))

    lines = [line for line, _ in outcomes]
    assert [lines.count(n) for n in (1, 2, 3, 4)] == [12, 24, 1, 12]
    assert sum(isinstance(o, Row) for _, o in outcomes) == 48


def test_detects_metrics_exports_under_usage_otel_only():
    assert detects(f"usage/otel/{DELTA_FILE}", load(DELTA_FILE))
    assert not detects(f"traces/otel/{DELTA_FILE}", load(DELTA_FILE))
    assert not detects("usage/claude_code/p.json", load(DELTA_FILE))
    assert not detects("usage/otel/logs.json", {"resourceLogs": []})
    assert not detects("usage/otel/x.json", [load(DELTA_FILE)])
    assert (FORMAT.name, FORMAT.tool) == ("claude_code_otel_metrics", "claude_code")


# -- privacy ----------------------------------------------------------------------------------------------------

# Text-ish fields: free-form resource attributes (OTEL_RESOURCE_ATTRIBUTES), scope, metric description and unit,
# point attributes no column reads. Identifier and timestamp keys (session.id, user.id, model, type, *UnixNano)
# are kept in a dead letter's raw text by design (fields.RAW_KEEP_KEYS), so the canary is not planted there.
RESOURCE_TEXT = ("department", "team.id", "os.version", "host.name", "note")
POINT_TEXT = ("terminal.type", "language", "source", "tool_name", "organization.id", "comment")


def _with_canary(document: dict[str, Any]) -> dict[str, Any]:
    planted = copy.deepcopy(document)
    for resource in planted["resourceMetrics"]:
        for key in RESOURCE_TEXT:
            set_attribute(resource["resource"]["attributes"], key, {"stringValue": CANARY})
        for scope in resource["scopeMetrics"]:
            scope["scope"] = {"name": CANARY, "version": CANARY}
            for item in scope["metrics"]:
                item["description"], item["unit"] = CANARY, CANARY
                for point in item["sum"]["dataPoints"]:
                    for key in POINT_TEXT:
                        set_attribute(point["attributes"], key, {"stringValue": CANARY})
    return planted


def test_a_canary_in_any_text_field_reaches_no_row_value_and_no_dead_letter():
    valid = _with_canary(load(DELTA_FILE))
    broken = _with_canary(load(DELTA_FILE))
    for item in broken["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]:
        for n, point in enumerate(item["sum"]["dataPoints"]):
            if n % 3 == 0:
                point["asInt"] = CANARY  # invalid_value
            elif n % 3 == 1:
                point.pop("timeUnixNano")  # missing_timestamp
            else:
                point["asDouble"], point["asInt"] = CANARY, None  # invalid_value
    metric(broken, "token.usage")["sum"]["aggregationTemporality"] = CANARY  # invalid_record
    not_a_slug = {"stringValue": f"{CANARY} notes"}  # a repo that is a slug is an identifier, kept by design
    set_attribute(broken["resourceMetrics"][1]["resource"]["attributes"], "repo", not_a_slug)
    broken["resourceMetrics"].append(CANARY)
    outcomes = run(valid) + run(broken) + [o for _, o in records([(1, CANARY)], ctx(DELTA_FILE))]

    rows = rows_of(outcomes)
    dead = [o for o in outcomes if isinstance(o, Dead)]
    assert (len(rows), len(dead)) == (24, 24 + 1 + 1)
    assert {d.reason for d in dead} == {"invalid_value", "missing_timestamp", "invalid_record", "invalid_repo"}
    assert all(CANARY not in str(value) for row in rows for value in row.values())
    assert all(CANARY not in d.detail and CANARY not in d.raw for d in dead)
