"""OTLP/JSON envelopes (`resource<Kind>[].scope<Kind>[].<items>[]`), shared by the OTLP-based formats: traces
(`resourceSpans`), Claude Code's log events (`resourceLogs`) and metrics (`resourceMetrics`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prodlens.normalize.fields import dig


def _otlp_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "arrayValue" in value:
        values = dig(value, "arrayValue", "values")
        return [_otlp_value(v) for v in values] if isinstance(values, list) else None
    if "kvlistValue" in value:
        return otlp_attributes(dig(value, "kvlistValue", "values"))
    return None


def otlp_attributes(attributes: Any) -> dict[str, Any]:
    """OTLP `[{key, value: {stringValue|intValue|...}}]` (or an already flat map) -> {key: python value}."""
    if isinstance(attributes, dict):
        return attributes
    out: dict[str, Any] = {}
    if not isinstance(attributes, list):  # malformed: no attributes (the span is then not an LLM span)
        return out
    for item in attributes:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = _otlp_value(item.get("value"))
    return out


@dataclass(frozen=True)
class MalformedPart:
    """A part of an OTLP export that should hold items but has the wrong JSON type: one record, a dead letter."""

    path: str
    value: Any


def _items(value: Any, path: str) -> list[Any]:
    """The elements of an OTLP list field: [] when absent, a MalformedPart when it is not a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [MalformedPart(path, value)]


@dataclass(frozen=True)
class Envelope:
    """The keys of one OTLP signal: e.g. resourceSpans / scopeSpans (or the older instrumentationLibrarySpans)."""

    resources: str
    scopes: str
    legacy_scopes: str
    items: str


SPANS = Envelope("resourceSpans", "scopeSpans", "instrumentationLibrarySpans", "spans")
LOGS = Envelope("resourceLogs", "scopeLogs", "instrumentationLibraryLogs", "logRecords")
METRICS = Envelope("resourceMetrics", "scopeMetrics", "instrumentationLibraryMetrics", "metrics")


def iter_items(
    document: dict[str, Any], kind: Envelope = SPANS
) -> Iterator[tuple[dict[str, Any], dict[str, Any] | MalformedPart]]:
    """(resource attributes, item) for every span / log record / metric; a part that cannot hold items (an
    item, scope or resource that is not an object, a list field that is not a list) is yielded once as a
    MalformedPart, never skipped."""
    for i, resource_part in enumerate(_items(document.get(kind.resources), kind.resources)):
        if not isinstance(resource_part, dict):
            yield (
                {},
                resource_part
                if isinstance(resource_part, MalformedPart)
                else MalformedPart(f"{kind.resources}[{i}]", resource_part),
            )
            continue
        resource = otlp_attributes(dig(resource_part, "resource", "attributes"))
        scopes_key = kind.scopes if kind.scopes in resource_part else kind.legacy_scopes
        for j, scope_part in enumerate(_items(resource_part.get(scopes_key), f"{kind.resources}[{i}].{scopes_key}")):
            path = f"{kind.resources}[{i}].{scopes_key}[{j}]"
            if not isinstance(scope_part, dict):
                yield (
                    resource,
                    scope_part if isinstance(scope_part, MalformedPart) else MalformedPart(path, scope_part),
                )
                continue
            for k, item in enumerate(_items(scope_part.get(kind.items), f"{path}.{kind.items}")):
                yield (
                    resource,
                    item
                    if isinstance(item, dict | MalformedPart)
                    else MalformedPart(f"{path}.{kind.items}[{k}]", item),
                )
