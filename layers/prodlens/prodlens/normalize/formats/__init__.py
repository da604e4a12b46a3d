"""The trace format registry: one module per format, each with its detection and its parsing.

FORMATS is the table of formats in detection order: the first whose `detects` accepts a parsed JSON value
(a line, or a whole document) names the format. Adding a format is adding a module and a row here; core
routes objects by the format's shape (formats.base) and keeps the accounting.
"""

from __future__ import annotations

from typing import Any

from prodlens.normalize.formats import claude_code, claude_code_otel_logs, codex, litellm, otlp, seed
from prodlens.normalize.formats.base import (
    Dead,
    DocumentFormat,
    LineFormat,
    Outcome,
    Row,
    Skip,
    StreamFormat,
    TraceFormat,
)

FORMATS: tuple[TraceFormat, ...] = (
    litellm.FORMAT,
    otlp.FORMAT,
    claude_code_otel_logs.FORMAT,
    codex.FORMAT,
    seed.FORMAT,
    claude_code.FORMAT,
)

# source_format -> the tool whose requests a traces row is (daily_developer_metrics: one source per tool)
TRACE_TOOLS: dict[str, str] = {fmt.name: fmt.tool or fmt.name for fmt in FORMATS}


def skipped_by_key(key: str) -> tuple[str, str] | None:
    """(format, reason) when a format knows from a traces key alone that the object holds no requests."""
    for fmt in FORMATS:
        reason = fmt.skips_key(key) if isinstance(fmt, DocumentFormat) and fmt.skips_key else None
        if reason:
            return fmt.name, reason
    return None


def classify(value: Any) -> TraceFormat | None:
    """The format of one parsed JSON value, or None."""
    if not isinstance(value, dict):
        return None
    return next((fmt for fmt in FORMATS if fmt.detects(value)), None)


__all__ = [
    "FORMATS",
    "Dead",
    "DocumentFormat",
    "LineFormat",
    "Outcome",
    "Row",
    "Skip",
    "StreamFormat",
    "TRACE_TOOLS",
    "TraceFormat",
    "classify",
    "skipped_by_key",
]
