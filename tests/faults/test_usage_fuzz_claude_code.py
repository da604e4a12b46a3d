"""Property-based fuzz of the Claude Code usage parsers (claude_code_analytics, claude_code_otel_metrics): the
samples under tests/fixtures/usage with fields replaced, deleted or duplicated by values of any JSON type.

Whatever the input, `records` never raises, yields exactly one outcome per record (the record counts below are
the accounting rules, written independently of the parsers), every row is well-typed, every metric row fills
exactly one measure, and no dead letter's detail quotes a string value.
"""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prodlens.normalize.formats.base import Dead, Row, Skip
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.usage import claude_code_analytics, claude_code_otel_metrics
from prodlens.normalize.usage.base import COUNT_MEASURES, MAX_COUNT, MEASURES, REAL_MEASURES

pytestmark = pytest.mark.faults

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible in CI
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "usage"
ANALYTICS = [json.loads(p.read_text()) for p in sorted((ROOT / "claude_code").glob("*.json"))]
METRICS = [json.loads(p.read_text()) for p in sorted((ROOT / "otel").rglob("metrics_*.json"))]
CANARY = "CANARY-fuzz-usage-do-not-echo"
REASONS = {
    "missing_timestamp",
    "invalid_timestamp",
    "missing_developer",
    "invalid_value",
    "invalid_record",
    "invalid_repo",
}
CLAUDE_CODE_METRICS = {
    "claude_code.session.count",
    "claude_code.lines_of_code.count",
    "claude_code.commit.count",
    "claude_code.pull_request.count",
    "claude_code.cost.usage",
    "claude_code.token.usage",
    "claude_code.code_edit_tool.decision",
    "claude_code.active_time.total",
}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# -- values and mutations ---------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            CANARY,
            "NaN",
            "-1",
            "3.0",
            "1e3",
            "12",
            "9" * 30,
            "0",
            "1757340302115000000",
            "2025-08-08",
            "2025-08-08T00:00:00Z",
            "9999-12-31",
            "USD",
            "EUR",
            "user_actor",
            "api_actor",
            "added",
            "cacheRead",
            "accept",
            "acme/api",
            "../x",
            "claude_code.token.usage",
        ]
    ),
    st.sampled_from([1, 2, 0, 3]),  # aggregationTemporality
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node below the root (dict keys and list indices)."""
    out: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if isinstance(document, dict) and step in document:
            document = document[step]
        elif isinstance(document, list) and isinstance(step, int) and step < len(document):
            document = document[step]
        else:
            return None
    return document


@st.composite
def mutated(draw: st.DrawFn, samples: list[dict[str, Any]]) -> Any:
    """A sample with up to 6 nodes replaced (any JSON value), deleted or duplicated; sometimes plain garbage."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)
    document = copy.deepcopy(draw(st.sampled_from(samples)))
    for path in draw(st.lists(st.sampled_from(_paths(document)), max_size=6)):
        parent = _parent(document, path[:-1])
        key = path[-1]
        if not (isinstance(parent, dict) and key in parent) and not (
            isinstance(parent, list) and isinstance(key, int) and key < len(parent)
        ):
            continue  # an earlier mutation removed this node
        action = draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = [copy.deepcopy(parent[key])]  # a field that is suddenly a list
    return document


@st.composite
def objects(draw: st.DrawFn, samples: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """What core hands `records`: the whole document as item 0, or 1-4 JSON lines numbered from 1."""
    if draw(st.booleans()):
        return [(0, draw(mutated(samples)))]
    return [(n, draw(mutated(samples))) for n in range(1, draw(st.integers(min_value=1, max_value=4)) + 1)]


# -- the accounting rules ---------------------------------------------------------------------------------------


def analytics_records(item: Any) -> int:
    """A page holds len(data) records (one when `data` is not a list); any other item is one record."""
    if isinstance(item, dict) and "data" in item:
        return len(item["data"]) if isinstance(item["data"], list) else 1
    return 1


def _listed(value: Any) -> list[Any] | None:
    """An OTLP list field: its elements, [] when absent, None when it is not a list (then one record)."""
    if value is None:
        return []
    return value if isinstance(value, list) else None


def _points(data: Any) -> int:
    if not isinstance(data, dict):
        return 1
    points = _listed(data.get("dataPoints"))
    return 1 if points is None else len(points)


def metric_records(metric: Any) -> int:
    """A metric holds one record per data point; a part that cannot hold points is one record."""
    if not isinstance(metric, dict):
        return 1
    name = metric.get("name")
    if isinstance(name, str) and name in CLAUDE_CODE_METRICS:
        return _points(metric.get("sum"))
    for field in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
        if metric.get(field) is not None:
            return _points(metric[field])
    return 0


def otel_records(item: Any) -> int:
    if not isinstance(item, dict) or "resourceMetrics" not in item:
        return 1
    resources = _listed(item["resourceMetrics"])
    if resources is None:
        return 1
    count = 0
    for resource in resources:
        if not isinstance(resource, dict):
            count += 1
            continue
        scopes = _listed(
            resource.get("scopeMetrics" if "scopeMetrics" in resource else "instrumentationLibraryMetrics")
        )
        for scope in [None] if scopes is None else scopes:
            if not isinstance(scope, dict):
                count += 1
                continue
            metrics = _listed(scope.get("metrics"))
            count += 1 if metrics is None else sum(metric_records(m) for m in metrics)
    return count


# -- properties -------------------------------------------------------------------------------------------------


def check_common(row: dict[str, Any], ctx: ObjectContext) -> None:
    assert HEX32.match(row["record_id"]), row["record_id"]
    assert row["tool"] == "claude_code"
    assert row["source_key"] == ctx.source_key
    assert isinstance(row["developer_id"], str) and row["developer_id"] == row["developer_id"].strip() != ""
    assert isinstance(row["event_date"], str) and DAY.match(row["event_date"])
    assert 2000 <= int(row["event_date"][:4]) < 2100
    for column in COUNT_MEASURES:
        value = row[column]
        assert value is None or (type(value) is int and 0 <= value <= MAX_COUNT), (column, value)
    for column in REAL_MEASURES:
        value = row[column]
        assert value is None or (type(value) is float and math.isfinite(value) and value >= 0), (column, value)
    assert row["repo"] is None or (isinstance(row["repo"], str) and ".." not in row["repo"] and row["repo"].isascii())


def check_dead(dead: Dead) -> None:
    assert dead.reason in REASONS, dead.reason
    assert isinstance(dead.detail, str) and CANARY not in dead.detail, dead.detail
    assert isinstance(dead.raw, str)


def run(records: Any, items: list[tuple[int, Any]], ctx: ObjectContext) -> list[tuple[int, Any]]:
    outcomes = list(records(items, ctx))  # never raises
    assert all(isinstance(o, Row | Skip | Dead) for _, o in outcomes)
    # outcomes come in item order, each on its item's line
    assert [line for line, _ in outcomes] == sorted(line for line, _ in outcomes)
    return outcomes


@FUZZ
@given(items=objects(ANALYTICS))
def test_analytics_pages_never_raise_and_give_one_well_typed_outcome_per_record(items, ledger):
    ctx = ObjectContext("usage/claude_code/fuzz/page.json", None, None)
    outcomes = run(claude_code_analytics.records, items, ctx)

    for line, item in items:
        assert sum(n == line for n, _ in outcomes) == analytics_records(item)
    for _, outcome in outcomes:
        assert not isinstance(outcome, Skip)  # every analytics record is a row or a dead letter
        if isinstance(outcome, Dead):
            check_dead(outcome)
            continue
        row = outcome.values
        check_common(row, ctx)
        assert (row["kind"], row["source_format"]) == ("report", "claude_code_analytics")
        assert (row["series_id"], row["series_start"], row["point_time"], row["repo"]) == (None, None, None, None)
    ledger["usage fuzz examples"] += 1
    ledger["usage dead letters checked"] += sum(isinstance(o, Dead) for _, o in outcomes)


@FUZZ
@given(items=objects(METRICS), developer=st.sampled_from([None, "meta@acme.example"]))
def test_otel_metrics_never_raise_and_give_one_well_typed_single_measure_outcome_per_point(items, developer, ledger):
    ctx = ObjectContext(
        "usage/otel/claude-code-metrics/year=2025/month=09/day=08/hour=14/minute=05/metrics_fz.json", None, developer
    )
    outcomes = run(claude_code_otel_metrics.records, items, ctx)

    for line, item in items:
        assert sum(n == line for n, _ in outcomes) == otel_records(item)
    for _, outcome in outcomes:
        if isinstance(outcome, Dead):
            check_dead(outcome)
            continue
        if isinstance(outcome, Skip):
            continue
        row = outcome.values
        check_common(row, ctx)
        assert row["source_format"] == "claude_code_otel_metrics"
        assert row["developer_id"] != "meta@acme.example"  # never credited to the object's uploader
        assert row["kind"] in ("delta", "cumulative")
        assert sum(row[m] is not None for m in MEASURES) == 1, {m: row[m] for m in MEASURES}
        assert isinstance(row["series_id"], str) and HEX32.match(row["series_id"])
        assert isinstance(row["point_time"], datetime) and row["point_time"].tzinfo is None
        assert row["event_date"] == row["point_time"].date().isoformat()
        start = row["series_start"]
        assert start is None or (isinstance(start, datetime) and start <= row["point_time"])
        assert start is not None or row["kind"] == "delta"
    ledger["usage fuzz examples"] += 1
    ledger["usage dead letters checked"] += sum(isinstance(o, Dead) for _, o in outcomes)


def test_the_unmutated_samples_are_all_rows():
    """The fuzz's baseline: every sample record is a row, so a dead letter above comes from a mutation."""
    ctx = ObjectContext("usage/x", None, None)
    analytics = run(claude_code_analytics.records, [(0, page) for page in ANALYTICS], ctx)
    metrics = run(claude_code_otel_metrics.records, [(0, document) for document in METRICS], ctx)

    assert [type(o) for _, o in analytics] == [Row] * 4
    assert [type(o) for _, o in metrics] == [Row] * 48
