"""Pure computations behind the alarm metrics: how long traces have been missing on weekdays, and daily AI cost.

No boto3, no environment, no clock: the services pass `now` and the records they already hold, and emit the
results as EMF metrics (prodlens.services.monitoring). The alarms themselves are in template.yaml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb

from prodlens.duck import literal

TRACES_PREFIX = "traces/"
WEEKEND = (5, 6)  # Saturday, Sunday (date.weekday())


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (as every timestamp in the lake is)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_utc(text: Any) -> datetime | None:
    """An ISO 8601 timestamp as aware UTC; None when missing or not a timestamp."""
    if isinstance(text, datetime):
        return as_utc(text)
    if not isinstance(text, str) or not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def is_weekday(day: date) -> bool:
    """Monday to Friday (UTC days; holidays are not known here)."""
    return day.weekday() not in WEEKEND


def weekday_hours(start: datetime, end: datetime) -> float:
    """Hours of [start, end) that fall on a UTC Monday–Friday; 0.0 when end <= start.

    A trace gap that spans a weekend counts only its weekday hours: Friday 18:00 to Monday 06:00 is 12 hours.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        return 0.0
    seconds = 0.0
    day = start.date()
    while day <= end.date():
        if is_weekday(day):
            lo = max(start, datetime.combine(day, time.min, UTC))
            hi = min(end, datetime.combine(day + timedelta(days=1), time.min, UTC))
            seconds += max((hi - lo).total_seconds(), 0.0)
        day += timedelta(days=1)
    return seconds / 3600.0


@dataclass(frozen=True)
class TraceGap:
    """Time since the newest trace data arrived: all hours, and the weekday hours the data-gap alarm compares."""

    last_trace_at: datetime
    hours: float
    weekday_hours: float


def trace_gap(last_trace_at: datetime, now: datetime) -> TraceGap:
    """The gap from `last_trace_at` to `now` (0 when `last_trace_at` is in the future)."""
    last, now = as_utc(last_trace_at), as_utc(now)
    return TraceGap(last, max((now - last).total_seconds(), 0.0) / 3600.0, weekday_hours(last, now))


class TraceArrivals:
    """The newest time a raw traces object yielded rows, from the processed-object records the sweep reads.

    `see` takes a raw key and its processed-object record (`counts.rows`, `processed_at`); GitHub pages,
    objects never processed and objects that yielded no row (all dead letters, skipped) do not count.
    """

    def __init__(self) -> None:
        self.newest: datetime | None = None

    def see(self, key: str, record: Mapping[str, Any] | None) -> None:
        if not key.startswith(TRACES_PREFIX) or not record:
            return
        if _rows(record) <= 0:
            return
        self._advance(parse_utc(record.get("processed_at")))

    def see_normalized(self, key: str, result: Mapping[str, Any], at: datetime) -> None:
        """An object normalized just now (a sweep result summary): counts if it wrote rows."""
        if key.startswith(TRACES_PREFIX) and result.get("status") == "normalized" and _rows(result) > 0:
            self._advance(as_utc(at))

    def _advance(self, at: datetime | None) -> None:
        if at is not None and (self.newest is None or at > self.newest):
            self.newest = at


def _rows(record: Mapping[str, Any]) -> int:
    counts = record.get("counts") or {}
    try:
        return int(counts.get("rows", 0) or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class DailyCost:
    """AI spend of one repo on one UTC day (daily_session_metrics.cost_usd; a NULL cost counts as 0)."""

    day: str
    repo: str
    cost_usd: float


def recent_days(now: datetime, days: int = 2) -> list[str]:
    """The `days` most recent UTC days up to today, oldest first: today and yesterday by default."""
    today = as_utc(now).date()
    return [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


def daily_costs(files: Mapping[str, Path]) -> list[DailyCost]:
    """Per (day, repo) cost from daily_session_metrics objects, `files` = {event_date: local Parquet path}."""
    out: list[DailyCost] = []
    if not files:
        return out
    con = duckdb.connect()
    try:
        for day, path in sorted(files.items()):
            sql = f"SELECT repo, coalesce(sum(cost_usd), 0) FROM read_parquet({literal(path)}) GROUP BY repo"
            rows = con.execute(sql + " ORDER BY repo").fetchall()
            out.extend(DailyCost(day, str(repo), float(cost)) for repo, cost in rows)
    finally:
        con.close()
    return out


def max_repo_cost(costs: Iterable[DailyCost]) -> float:
    """The largest single (day, repo) cost; 0.0 when there is none."""
    return max((c.cost_usd for c in costs), default=0.0)
