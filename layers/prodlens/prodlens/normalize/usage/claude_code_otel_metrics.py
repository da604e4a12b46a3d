"""Claude Code's OpenTelemetry metrics as OTLP/JSON (`resourceMetrics[].scopeMetrics[].metrics[]`), as an
OpenTelemetry Collector's awss3exporter writes them (marshaler otlp_json) under `usage/otel/`: one `delta` or
`cumulative` usage row per data point of a `claude_code.*` counter, each filling exactly ONE measure.

Metric (a monotonic `sum`) and data-point attribute -> usage column:

- `claude_code.session.count` -> `sessions`
- `claude_code.lines_of_code.count` `type=added` -> `accepted_lines`, `type=removed` -> `removed_lines`
- `claude_code.commit.count` -> `commits_by_ai`; `claude_code.pull_request.count` -> `prs_by_ai`
- `claude_code.cost.usage` (USD, per `model`) -> `cost_usd`
- `claude_code.token.usage` (per `model`) `type=input` -> `tokens_in` (uncached), `output` -> `tokens_out`,
  `cacheRead` -> `cache_read_tokens`, `cacheCreation` -> `cache_write_tokens`
- `claude_code.code_edit_tool.decision` `decision=accept` -> `accepts`, `reject` -> `rejects` (over every
  `tool_name`, or the older `tool`, `source` and `language`)
- `claude_code.active_time.total` (seconds; `type=user|cli`, or no type in older releases) -> `active_seconds`
  (user and cli time are different series that add up to the total)

A breakdown value not listed (a new `type` or `decision`), any other `claude_code.*` metric and every metric of
another service is read and skipped, one skip per data point.

Kind: `aggregationTemporality` 1 (DELTA, Claude Code's default) -> `delta`, 2 (CUMULATIVE, with
OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative) -> `cumulative` (the enum names
AGGREGATION_TEMPORALITY_DELTA / _CUMULATIVE are read alike); anything else is a dead letter (invalid_record).
Value: `asInt` (an int64 as a JSON string, or a number) or `asDouble` (a number; counts given as 3.0 are fine),
for every metric; a negative, fractional count or non-numeric value is a dead letter (invalid_value).

Identity of a point:
- `series_id` = record_id(metric name, the point's attributes sorted, the resource's attributes sorted, the
  `startTimeUnixNano`): every point of one running series shares it; a new `startTimeUnixNano` (the process
  restarted) starts a new series. `series_start` = `startTimeUnixNano`, `point_time` = `timeUnixNano` (epoch ns,
  JSON strings), `event_date` = the UTC day of `point_time`. A cumulative point without `startTimeUnixNano` is a
  dead letter (missing_timestamp): it could not be told apart from a restarted series.
- the row's record key = (series_id, `timeUnixNano`): a point delivered twice (the same object twice, or two
  objects) has one record_id.
- `developer_id` = attribute `user.email`, else `user.account_uuid`, else `user.id` (point attributes first, then
  resource attributes); none of them: a dead letter (missing_developer), never the object's uploader. `repo`
  only from a `repo` resource attribute (OTEL_RESOURCE_ATTRIBUTES=repo=owner/name), never from object metadata.

Traps (docs/metrics.md): a cumulative point is a running total; it is emitted as is and never summed: aggregate
diffs consecutive points along `series_id` (the first point, and one after a drop, i.e. a reset, count whole).
The key's `year=/month=/day=/hour=/minute=` is the collector's upload clock, not data time: only `timeUnixNano`
dates a point. The token counts of the `claude_code.api_request` log events (format claude_code_otel_logs)
duplicate `claude_code.token.usage`: the two are never added.

Accounting: one outcome per data point. A part that should hold points and cannot be read (an item that is no
OTLP metrics export, a resource, scope or metric that is not an object, a list field that is not a list, a
`claude_code.*` counter without a `sum` object) is one record, a dead letter (invalid_record). Bad points are
dead letters: missing_timestamp / invalid_timestamp (`timeUnixNano`, `startTimeUnixNano`), invalid_value,
invalid_repo, missing_developer, invalid_record. A string value is never echoed into a detail.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw, dig, record_id
from prodlens.normalize.formats.otlp_json import METRICS, MalformedPart, iter_items, otlp_attributes
from prodlens.normalize.rows import ObjectContext
from prodlens.normalize.rules import SLUG, TIMESTAMP
from prodlens.normalize.usage.base import (
    COUNT_MEASURES,
    CUMULATIVE,
    DELTA,
    Dead,
    Outcome,
    Skip,
    UsageFormat,
    outcome_of,
    shape_of,
    usage_row,
)

NAME = "claude_code_otel_metrics"
TOOL = "claude_code"
PREFIX = "usage/otel/"
METRIC_PREFIX = "claude_code."

# metric name (without the prefix) -> (the attribute that selects the column, {attribute value: column});
# attribute None: every point fills the one column.
COLUMNS: dict[str, tuple[str | None, dict[str | None, str]]] = {
    "session.count": (None, {None: "sessions"}),
    "lines_of_code.count": ("type", {"added": "accepted_lines", "removed": "removed_lines"}),
    "commit.count": (None, {None: "commits_by_ai"}),
    "pull_request.count": (None, {None: "prs_by_ai"}),
    "cost.usage": (None, {None: "cost_usd"}),
    "token.usage": (
        "type",
        {
            "input": "tokens_in",
            "output": "tokens_out",
            "cacheRead": "cache_read_tokens",
            "cacheCreation": "cache_write_tokens",
        },
    ),
    "code_edit_tool.decision": ("decision", {"accept": "accepts", "reject": "rejects"}),
    "active_time.total": (None, {None: "active_seconds"}),
}
TEMPORALITY = {
    1: DELTA,
    2: CUMULATIVE,
    "AGGREGATION_TEMPORALITY_DELTA": DELTA,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": CUMULATIVE,
}
DEVELOPER_KEYS = ("user.email", "user.account_uuid", "user.id")
DATA_FIELDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")
MAX_INT64 = 2**63 - 1


def detects(key: str, item: Any) -> bool:
    return key.startswith(PREFIX) and isinstance(item, dict) and "resourceMetrics" in item


# -- one data point ---------------------------------------------------------------------------------------------


def unix_nanos(value: Any, field: str) -> int | None:
    """An OTLP `*UnixNano` (a decimal string or an integer) -> int; None when absent or 0 (unset)."""
    if value is None or value in ("", 0, "0"):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 2**64:
        return value
    raise RecordError("invalid_timestamp", f"{field} is {shape_of(value)}, not epoch nanoseconds")


def point_value(point: dict[str, Any]) -> int | float:
    """asInt (a JSON string or integer) or asDouble (a finite number) as a non-negative number."""
    if point.get("asInt") is not None:
        raw, field = point["asInt"], "asInt"
        if isinstance(raw, str) and raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 20:
            raw = int(raw)
        if not isinstance(raw, int) or isinstance(raw, bool) or abs(raw) > MAX_INT64:
            raise RecordError("invalid_value", f"asInt is {shape_of(raw)}, not an int64")
        number: int | float = raw
    elif point.get("asDouble") is not None:
        raw, field = point["asDouble"], "asDouble"
        if isinstance(raw, str):  # the protobuf JSON mapping allows a double as a string
            try:
                raw = float(raw)
            except ValueError:
                raise RecordError("invalid_value", f"asDouble is a {len(raw)}-character string") from None
        if not isinstance(raw, int | float) or isinstance(raw, bool) or not abs(raw) < float("inf"):
            raise RecordError("invalid_value", "asDouble is not a finite number")
        number = raw
    else:
        raise RecordError("invalid_value", "the point has no asInt or asDouble value")
    if number < 0:
        raise RecordError("invalid_value", f"{field} is negative")
    return number


def column_value(number: int | float, column: str) -> int | float:
    """A count column takes an integral value (3.0 -> 3); cost_usd / active_seconds any non-negative number."""
    if column not in COUNT_MEASURES:
        return float(number)
    if isinstance(number, float):
        if not number.is_integer():
            raise RecordError("invalid_value", f"{column} is a fractional count")
        return int(number)
    return number


def _canonical(attributes: dict[str, Any]) -> str:
    """Attributes as sorted JSON text (the series identity); values of any JSON type."""
    try:
        return json.dumps(attributes, sort_keys=True, default=str)
    except (RecursionError, ValueError, TypeError):
        raise RecordError("invalid_record", "an attribute value is nested too deep to identify the series") from None


def developer(attrs: dict[str, Any], resource: dict[str, Any]) -> str | None:
    for source in (attrs, resource):
        for key in DEVELOPER_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
    return None


def resource_repo(resource: dict[str, Any], ctx: ObjectContext) -> str | None:
    try:
        return ctx.rules.slug(resource.get("repo"))
    except RecordError:  # the rule's detail quotes the value: not echoed here
        raise RecordError("invalid_repo", "resource attribute repo is not an owner/name slug") from None


def point_row(
    metric: str,
    column: str,
    kind: str,
    point: dict[str, Any],
    *,
    attrs: dict[str, Any],
    resource: dict[str, Any],
    ctx: ObjectContext,
) -> dict[str, Any]:
    time_ns = unix_nanos(point.get("timeUnixNano"), "timeUnixNano")
    if time_ns is None:
        raise RecordError("missing_timestamp", "the point has no timeUnixNano")
    start_ns = unix_nanos(point.get("startTimeUnixNano"), "startTimeUnixNano")
    if start_ns is None and kind == CUMULATIVE:
        raise RecordError("missing_timestamp", "a cumulative point has no startTimeUnixNano")
    if start_ns is not None and start_ns > time_ns:
        raise RecordError("invalid_timestamp", "startTimeUnixNano is after timeUnixNano")
    point_time: datetime = ctx.rules.timestamp(time_ns)
    series_start = ctx.rules.timestamp(start_ns) if start_ns is not None else None
    value = column_value(point_value(point), column)
    series = record_id(NAME, metric, _canonical(attrs), _canonical(resource), start_ns or "")
    return usage_row(
        ctx,
        NAME,
        TOOL,
        event_date=point_time.date().isoformat(),
        developer_id=developer(attrs, resource),
        kind=kind,
        repo=resource_repo(resource, ctx),
        record_key=(series, time_ns),
        series_id=series,
        series_start=series_start,
        point_time=point_time,
        **{column: value},
    )


def point_outcome(
    metric: str, kind: str | None, point: Any, resource: dict[str, Any], where: str, ctx: ObjectContext
) -> Outcome:
    if not isinstance(point, dict):
        return Dead("invalid_record", f"{where} is {shape_of(point)}, not an object", dead_letter_raw(None, point))
    if kind is None:
        detail = f"{where}: aggregationTemporality is neither 1 (delta) nor 2 (cumulative)"
        return Dead("invalid_record", detail, dead_letter_raw(None, point))
    attrs = otlp_attributes(point.get("attributes"))
    selector, columns = COLUMNS[metric]
    choice = attrs.get(selector) if selector else None
    if selector and (choice is None or choice == ""):
        return Dead("invalid_record", f"{where}: the point has no {selector} attribute", dead_letter_raw(None, point))
    column = columns.get(choice) if choice is None or isinstance(choice, str) else None
    if column is None:
        return Skip()  # a breakdown value this format does not map (a new type, a decision other than accept/reject)
    return outcome_of(
        lambda: point_row(metric, column, kind, point, attrs=attrs, resource=resource, ctx=ctx), point, where
    )


# -- one metric -------------------------------------------------------------------------------------------------


def _other_points(metric: dict[str, Any]) -> int:
    """The number of data points of a metric this format does not read (at least one record when malformed)."""
    for field in DATA_FIELDS:
        data = metric.get(field)
        if data is None:
            continue
        if not isinstance(data, dict):
            return 1
        points = data.get("dataPoints")
        return 0 if points is None else len(points) if isinstance(points, list) else 1
    return 0


def metric_outcomes(
    metric: dict[str, Any], resource: dict[str, Any], where: str, ctx: ObjectContext
) -> Iterator[Outcome]:
    name = metric.get("name")
    short = name.removeprefix(METRIC_PREFIX) if isinstance(name, str) and name.startswith(METRIC_PREFIX) else ""
    if short not in COLUMNS:  # another service's metric, or a claude_code metric without a usage column
        for _ in range(_other_points(metric)):
            yield Skip()
        return
    data = metric.get("sum")
    if not isinstance(data, dict):
        detail = f"{where} ({name}): sum is {shape_of(data)}, not an object"
        yield Dead("invalid_record", detail, dead_letter_raw(None, metric))
        return
    points = data.get("dataPoints")
    if points is None:
        return
    if not isinstance(points, list):
        detail = f"{where} ({name}): sum.dataPoints is {shape_of(points)}, not a list"
        yield Dead("invalid_record", detail, dead_letter_raw(None, metric))
        return
    temporality = data.get("aggregationTemporality")
    readable = isinstance(temporality, int | str) and not isinstance(temporality, bool)
    kind = TEMPORALITY.get(temporality) if readable else None
    for n, point in enumerate(points):
        yield point_outcome(short, kind, point, resource, f"{where} ({name}) point {n + 1}", ctx)


def records(items: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    """One outcome per data point of every OTLP metrics export (the object, or one export per JSON line)."""
    exports = [
        (line, item, list(iter_items(item, METRICS)) if isinstance(item, dict) and "resourceMetrics" in item else None)
        for line, item in items
    ]
    # the field rules of every point's times and every resource's repo, evaluated together
    found = [(resource, metric) for *_, metrics in exports for resource, metric in metrics or ()]
    listed = [dig(metric, "sum", "dataPoints") for _, metric in found]
    points = [point for each in listed if isinstance(each, list) for point in each]
    ctx.rules.prefetch(TIMESTAMP, (dig(p, k) for p in points for k in ("timeUnixNano", "startTimeUnixNano")))
    ctx.rules.prefetch(SLUG, (resource.get("repo") for resource, _ in found))
    for line, item, metrics in exports:
        if metrics is None:
            detail = f"item is {shape_of(item)} without resourceMetrics, not an OTLP metrics export"
            yield line, Dead("invalid_record", detail, dead_letter_raw(None, item))
            continue
        for index, (resource, metric) in enumerate(metrics, 1):
            where = f"metric {index}"
            if isinstance(metric, MalformedPart):
                detail = f"{where}: {metric.path} is {shape_of(metric.value)}, not an OTLP object/list"
                yield line, Dead("invalid_record", detail, dead_letter_raw(None, metric.value))
                continue
            for outcome in metric_outcomes(metric, resource, where, ctx):
                yield line, outcome


FORMAT = UsageFormat(NAME, TOOL, detects, records)

__all__ = ["COLUMNS", "FORMAT", "NAME", "detects", "records"]
