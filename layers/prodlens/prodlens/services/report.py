"""Use case: the report from a lake directory (the local lake, or objects a function downloaded)."""

from __future__ import annotations

from pathlib import Path

from prodlens.duck import literal
from prodlens.lake_engine import LocalEngine
from prodlens.report import build_report, render_html, render_json, render_text
from prodlens.stats.effects import compute_effects

_RENDERERS = {"text": render_text, "json": render_json, "html": render_html}
# Trace-level columns the effect sizes need; the window/repo filter is applied in SQL so a year of
# traces is not pulled into Python for a one-repo report.
_TRACE_COLUMNS = "repo, event_date, model, accepted_flag, latency_ms, total_tokens, accepted_lines"


def local_report(
    lake_dir: Path, *, fmt: str = "text", since: str | None = None, until: str | None = None, repo: str | None = None
) -> str:
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
    session = engine.query_dicts("SELECT * FROM daily_session_metrics ORDER BY event_date, repo", dialect="duckdb")
    github = engine.query_dicts("SELECT * FROM daily_github_metrics ORDER BY event_date, repo", dialect="duckdb")
    traces = engine.query_dicts(f"SELECT {_TRACE_COLUMNS} FROM traces{where}", dialect="duckdb")
    narrowed_session = [r for r in session if _within(r, since, until, repo)]
    narrowed_github = [r for r in github if _within(r, since, until, repo)]
    effects = compute_effects(traces, narrowed_session, narrowed_github)
    report = build_report(correlations, session, github, effects, since=since, until=until, repo=repo)
    return _RENDERERS[fmt](report)


def _within(row: dict, since: str | None, until: str | None, repo: str | None) -> bool:
    day = str(row["event_date"])
    return (not since or day >= since) and (not until or day <= until) and (not repo or row["repo"] == repo)
