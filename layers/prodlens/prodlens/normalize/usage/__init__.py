"""The usage format registry: vendor usage summaries under `usage/` (see usage.base).

FORMATS is the table of usage formats in detection order: the first whose `detects` accepts (raw key, first
parsed item) names the format. Adding a format is adding a module and a row here.
"""

from __future__ import annotations

from typing import Any

from prodlens.normalize.usage import claude_code_analytics, claude_code_otel_metrics, copilot, cursor
from prodlens.normalize.usage.base import UsageFormat

FORMATS: tuple[UsageFormat, ...] = (
    copilot.FORMAT,
    cursor.FORMAT_DAILY,
    cursor.FORMAT_COMMITS,
    claude_code_analytics.FORMAT,
    claude_code_otel_metrics.FORMAT,
)


def classify(key: str, item: Any) -> UsageFormat | None:
    """The usage format of an object, from its key and its first parsed item, or None."""
    return next((fmt for fmt in FORMATS if fmt.detects(key, item)), None)


__all__ = ["FORMATS", "UsageFormat", "classify"]
