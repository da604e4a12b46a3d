"""Property-based fuzz of the Copilot and Cursor usage formats: whatever the records hold, `records` never raises,
yields exactly one outcome per record read (a page's list element, else the item), keeps every untouched sample
record, and every row it yields has the types its table declares.

Items are the sample records from tests/fixtures/usage with keys dropped, types changed, huge or negative numbers
and nested junk planted at any path, mixed with whole items of junk.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prodlens.normalize.fields import MAX_RAW_BYTES
from prodlens.normalize.formats.base import Dead, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.rules import Rules
from prodlens.normalize.usage import copilot, cursor
from prodlens.normalize.usage.base import COUNT_MEASURES, KINDS, MAX_COUNT, REAL_MEASURES

pytestmark = pytest.mark.faults

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run and every worker: a failure is reproducible in CI
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
REASONS = {
    "invalid_record",
    "missing_timestamp",
    "invalid_timestamp",
    "missing_developer",
    "invalid_value",
    "missing_repo",
    "invalid_repo",
}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "usage"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEX32 = re.compile(r"[0-9a-f]{32}")


def _load(path: Path) -> Any:
    text = path.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


COPILOT_RECORDS = [
    *_load(FIXTURES / "copilot" / "users-1-day__2025-10-01.ndjson"),
    *_load(FIXTURES / "copilot" / "LEGACY__orgs-copilot-metrics__2days.json"),
    _load(FIXTURES / "copilot" / "organization-1-day__2025-10-01.ndjson"),
    *_load(FIXTURES / "copilot" / "organization-28-day__wrapped__composed.json")["day_totals"],
]
DAILY_RECORDS = [
    *_load(FIXTURES / "cursor" / "cursor-docs__teams-daily-usage-data__paginated.json")["data"],
    *_load(FIXTURES / "cursor" / "LEGACY__cursor-docs__teams-daily-usage-data__no-userId.json")["data"],
]
COMMIT_RECORDS = [
    item
    for item in _load(FIXTURES / "cursor" / "ai-code-commits__items0-docs_items1-2-composed.json")["items"]
    if item["repoName"]  # the sample without a repository is a dead letter by design
]

# -- values ----------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**15, 10**15 + 1, 2**63, -1, 0, 1.5, 1e300, 7.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "NaN",
            "-1",
            "1e3",
            "12",
            "12.0",
            "²",
            "١٢",
            "9" * 30,
            "2025-10-01",
            "9999-12-31",
            "2025-10-01T00:00:00Z",
            "acme/api",
            "../x",
            "A1B2C3D4",
            "user_1",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
deep_junk = st.integers(min_value=1, max_value=80).map(lambda depth: json.loads("[" * depth + "]" * depth))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a record."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, child in children:
        found.append((*prefix, name))
        found += _paths(child, (*prefix, name))
    return found


@st.composite
def mutated(draw: st.DrawFn, record: dict[str, Any]) -> dict[str, Any]:
    """A copy of `record` with one to four paths dropped or replaced by any JSON value, a huge number or junk."""
    record = copy.deepcopy(record)
    for path in draw(st.lists(st.sampled_from(_paths(record)), min_size=1, max_size=4)):
        parent: Any = record
        for name in path[:-1]:
            parent = parent[name] if isinstance(parent, dict | list) and _has(parent, name) else None
        if parent is None or not _has(parent, path[-1]):
            continue  # an earlier change removed or replaced this path
        if isinstance(parent, dict) and draw(st.booleans()):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = draw(st.one_of(json_values, deep_junk))
    return record


def _has(parent: Any, name: Any) -> bool:
    if isinstance(parent, dict):
        return name in parent
    return isinstance(parent, list) and isinstance(name, int) and name < len(parent)


@st.composite
def records_of(draw: st.DrawFn, samples: list[dict[str, Any]]) -> tuple[dict[str, Any] | Any, bool]:
    """(record, untouched): a sample as is, a mutated sample, or junk."""
    kind = draw(st.sampled_from(["good", "mutated", "mutated", "junk"]))
    sample = draw(st.sampled_from(samples))
    if kind == "good":
        return copy.deepcopy(sample), True
    if kind == "mutated":
        return draw(mutated(sample)), False
    return draw(st.one_of(json_values, deep_junk)), False


@st.composite
def objects(draw: st.DrawFn, samples: list[dict[str, Any]], envelope: str) -> list[tuple[Any, list[bool]]]:
    """Items of one object: (item, untouched flag per record); an item is a record or a page `{envelope: [...]}`."""
    items: list[tuple[Any, list[bool]]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        shape = draw(st.sampled_from(["record", "page", "page", "broken page"]))
        if shape == "record":
            record, good = draw(records_of(samples))
            items.append((record, [good]))
        elif shape == "page":
            listed = draw(st.lists(records_of(samples), max_size=4))
            items.append(({envelope: [r for r, _ in listed], "page": 1}, [g for _, g in listed]))
        else:
            items.append(({envelope: draw(json_values), "page": 1}, [False]))
    return items


def expected_outcomes(item: Any, envelope: str) -> int:
    """One per element of a page's non-empty list; one for any other item (a record, an empty or broken page)."""
    if isinstance(item, dict) and envelope in item and isinstance(item[envelope], list) and item[envelope]:
        return len(item[envelope])
    return 1


# -- properties ------------------------------------------------------------------------------------------------


def check_usage_row(row: dict[str, Any], tool: str, source_format: str) -> None:
    assert _HEX32.fullmatch(row["record_id"])
    assert (row["tool"], row["source_format"], row["kind"] in KINDS, row["repo"]) == (tool, source_format, True, None)
    assert isinstance(row["developer_id"], str) and row["developer_id"].strip() == row["developer_id"] != ""
    assert isinstance(row["event_date"], str) and _DAY.fullmatch(row["event_date"])
    assert 2000 <= datetime.fromisoformat(row["event_date"]).year < 2100
    for name in COUNT_MEASURES:
        value = row[name]
        assert value is None or (type(value) is int and 0 <= value <= MAX_COUNT), (name, value)
    assert all(row[name] is None for name in REAL_MEASURES)  # neither format reports cost or time


def check_commit_row(row: dict[str, Any]) -> None:
    assert _HEX32.fullmatch(row["record_id"]) and row["tool"] == "cursor"
    assert isinstance(row["repo"], str) and Rules().slug(row["repo"]) == row["repo"]  # a valid slug, lower-case
    assert re.fullmatch(r"[0-9a-f]{4,64}", row["sha"])
    assert row["developer_id"] is None or (isinstance(row["developer_id"], str) and row["developer_id"])
    assert isinstance(row["committed_at"], datetime) and row["committed_at"].tzinfo is None
    assert 2000 <= row["committed_at"].year <= 2100
    for name in ("ai_lines_added", "total_lines_added"):
        assert row[name] is None or (type(row[name]) is int and 0 <= row[name] <= MAX_COUNT)
    assert row["is_primary_branch"] in (None, True, False)


def run(fmt: Any, generated: list[tuple[Any, list[bool]]], envelope: str, ledger: Counter[str]) -> list[Any]:
    """records() over the generated items: the accounting and type properties every object keeps."""
    items = [(line, item) for line, (item, _) in enumerate(generated, 1)]
    ctx = ObjectContext(f"usage/{fmt.tool}/fuzz.ndjson", None, None)
    outcomes = list(fmt.records(items, ctx))  # never raises
    assert Counter(line for line, _ in outcomes) == {line: expected_outcomes(item, envelope) for line, item in items}, (
        "one outcome per record read"
    )
    assert [line for line, _ in outcomes] == sorted(line for line, _ in outcomes), "outcomes in item order"
    by_line: dict[int, list[Any]] = {}
    for line, outcome in outcomes:
        by_line.setdefault(line, []).append(outcome)
        assert isinstance(outcome, Row | Skip | Dead)
        if isinstance(outcome, Dead):
            assert outcome.reason in REASONS, outcome.reason
            assert isinstance(outcome.detail, str) and isinstance(outcome.raw, str)
            assert len(outcome.raw.encode()) <= MAX_RAW_BYTES
            ledger["dead letters checked"] += 1
    # an untouched sample record is never a dead letter (a repeat of the same member-day may be a skip)
    for line, (_, flags) in enumerate(generated, 1):
        if len(by_line[line]) == len(flags):
            for outcome, good in zip(by_line[line], flags, strict=True):
                assert not (good and isinstance(outcome, Dead)), outcome
                ledger["rows lost"] += 0
    ledger["fuzz examples"] += 1
    return [outcome.values for _, outcome in outcomes if isinstance(outcome, Row)]


@FUZZ
@given(generated=objects(COPILOT_RECORDS, "day_totals"))
def test_copilot_records_never_raise_and_yield_one_outcome_per_record(generated, ledger):
    rows = run(copilot.FORMAT, generated, "day_totals", ledger)

    for row in rows:
        check_usage_row(row, "copilot", "copilot_usage")
    assert len({(r["event_date"], r["developer_id"]) for r in rows}) == len(rows), "one row per (day, developer)"
    for item, _ in generated:
        assert copilot.detects("usage/copilot/fuzz.ndjson", item) in (True, False)


@FUZZ
@given(generated=objects(DAILY_RECORDS, "data"))
def test_cursor_daily_records_never_raise_and_yield_one_outcome_per_record(generated, ledger):
    rows = run(cursor.FORMAT_DAILY, generated, "data", ledger)

    for row in rows:
        check_usage_row(row, "cursor", "cursor_daily")
    assert len({(r["event_date"], r["developer_id"]) for r in rows}) == len(rows), "one row per (day, developer)"
    for item, _ in generated:
        assert cursor.detects_daily("usage/cursor/fuzz.json", item) in (True, False)


@FUZZ
@given(generated=objects(COMMIT_RECORDS, "items"))
def test_cursor_commit_items_never_raise_and_yield_one_outcome_per_item(generated, ledger):
    rows = run(cursor.FORMAT_COMMITS, generated, "items", ledger)

    for row in rows:
        check_commit_row(row)
    for item, _ in generated:
        assert cursor.detects_commits("usage/cursor/fuzz.json", item) in (True, False)
