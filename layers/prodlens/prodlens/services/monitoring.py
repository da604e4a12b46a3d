"""Emits the metrics the data-gap and cost alarms watch (Powertools EMF lines: no cloudwatch:PutMetricData).

- `HoursSinceLastTrace` and `WeekdayHoursSinceLastTrace` (normalize sweep): time since a raw traces object last
  yielded rows; the alarm compares the weekday hours with `DataGapHours`, so a quiet weekend never fires it.
- `DailyCostUsd` (dimension `repo`) and `MaxRepoDailyCostUsd` (aggregate): AI spend per repo for yesterday and
  today (UTC) as daily_session_metrics holds them after the run; the alarm compares the maximum with
  `DailyCostBudgetUsd`.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from prodlens.aggregate.daily import OUTPUT_NAME
from prodlens.errors import ObjectNotFound
from prodlens.lake import object_key
from prodlens.monitoring import DailyCost, daily_costs, max_repo_cost, recent_days, trace_gap
from prodlens.observability import logger, metrics
from prodlens.ports import ObjectStore
from prodlens.schema import DAILY_SESSION_METRICS

COST_DAYS = 2  # yesterday (the most recent complete day, late data included) and today so far


def emit_trace_gap(last_trace_at: datetime | None, now: datetime) -> dict[str, Any] | None:
    """Emit the trace-gap metrics; nothing (and None) before any traces object has yielded rows."""
    if last_trace_at is None:
        logger.info("no traces object has yielded rows yet: no trace-gap metric")
        return None
    gap = trace_gap(last_trace_at, now)
    metrics.add_metric(name="HoursSinceLastTrace", unit=MetricUnit.NoUnit, value=round(gap.hours, 3))
    metrics.add_metric(name="WeekdayHoursSinceLastTrace", unit=MetricUnit.NoUnit, value=round(gap.weekday_hours, 3))
    return {
        "last_trace_at": gap.last_trace_at.isoformat(timespec="seconds"),
        "hours_since_last_trace": round(gap.hours, 3),
        "weekday_hours_since_last_trace": round(gap.weekday_hours, 3),
    }


def _emit_repo_cost(cost: DailyCost) -> None:
    # One EMF line per value: the `repo` dimension must not reach the run's other metrics.
    with single_metric(
        name="DailyCostUsd",
        unit=MetricUnit.NoUnit,
        value=cost.cost_usd,
        namespace=metrics.namespace,
        default_dimensions={"service": str(metrics.service)},
    ) as metric:
        metric.add_dimension(name="repo", value=cost.repo)


def emit_recent_daily_costs(store: ObjectStore, workdir: Path, now: datetime) -> dict[str, Any]:
    """Read yesterday's and today's daily_session_metrics objects (if any) and emit their per-repo cost.

    `MaxRepoDailyCostUsd` is always emitted (0 without AI data), so the cost alarm sees every run.
    """
    local = workdir / "daily-cost"
    local.mkdir(parents=True, exist_ok=True)
    try:
        files: dict[str, Path] = {}
        for day in recent_days(now, COST_DAYS):
            path = local / f"{day}.parquet"
            try:
                store.download(object_key(DAILY_SESSION_METRICS.name, {"event_date": day}, OUTPUT_NAME), path)
            except ObjectNotFound:
                continue
            files[day] = path
        costs = daily_costs(files)
    finally:
        shutil.rmtree(local, ignore_errors=True)
    for cost in costs:
        _emit_repo_cost(cost)
    peak = max_repo_cost(costs)
    metrics.add_metric(name="MaxRepoDailyCostUsd", unit=MetricUnit.NoUnit, value=round(peak, 6))
    return {
        "days": sorted(files),
        "max_repo_daily_cost_usd": round(peak, 6),
        "costs": [{"day": c.day, "repo": c.repo, "cost_usd": round(c.cost_usd, 6)} for c in costs],
    }
