"""Use case: the report from a lake directory (the local lake, or objects a function downloaded)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from prodlens.duck import literal
from prodlens.lake_engine import LocalEngine
from prodlens.report import build_report, render_html, render_json, render_text
from prodlens.stats.effects import TRACE_SUMMARY_SQL, effects_from_summary

_RENDERERS = {"text": render_text, "json": render_json, "html": render_html}


def local_report(
    lake_dir: Path,
    *,
    fmt: str = "text",
    since: str | None = None,
    until: str | None = None,
    repo: str | None = None,
    holidays: Sequence[date] = (),
    team: str | None = None,
    by_team: bool = False,
) -> str:
    """The report over a lake directory; `holidays` must be those correlate was given (the local stack: none)."""
    engine = LocalEngine(lake_dir)
    conditions = []
    if since:
        conditions.append(f"event_date >= {literal(since)}")
    if until:
        conditions.append(f"event_date <= {literal(until)}")
    if repo:
        conditions.append(f"repo = {literal(repo)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    correlations = engine.query_dicts("SELECT * FROM correlations", dialect="duckdb")
    rollouts = engine.query_dicts("SELECT * FROM rollout_effects ORDER BY unit, design, metric", dialect="duckdb")
    cohorts = engine.query_dicts("SELECT * FROM cohort_weekly ORDER BY week, team, cohort", dialect="duckdb")
    pr_ai = engine.query_dicts("SELECT * FROM pull_request_ai ORDER BY repo, number", dialect="duckdb")
    session = engine.query_dicts("SELECT * FROM daily_session_metrics ORDER BY event_date, repo", dialect="duckdb")
    github = engine.query_dicts("SELECT * FROM daily_github_metrics ORDER BY event_date, repo", dialect="duckdb")
    developers = engine.query_dicts(
        "SELECT * FROM daily_developer_metrics ORDER BY event_date, person", dialect="duckdb"
    )
    # The trace-level figures come from a summary DuckDB computes over any number of traces.
    trace_summary = engine.query_dicts(TRACE_SUMMARY_SQL.format(where=where), dialect="duckdb")
    narrowed_session = [r for r in session if _within(r, since, until, repo)]
    narrowed_github = [r for r in github if _within(r, since, until, repo)]
    effects = effects_from_summary(trace_summary, narrowed_session, narrowed_github)
    report = build_report(
        correlations,
        session,
        github,
        effects,
        since=since,
        until=until,
        repo=repo,
        holidays=holidays,
        developer_daily=developers,
        team=team,
        by_team=by_team,
        rollout_effects=rollouts,
        cohorts=cohorts,
        pull_request_ai=pr_ai,
    )
    return _RENDERERS[fmt](report)


def _within(row: dict, since: str | None, until: str | None, repo: str | None) -> bool:
    day = str(row["event_date"])
    return (not since or day >= since) and (not until or day <= until) and (not repo or row["repo"] == repo)
