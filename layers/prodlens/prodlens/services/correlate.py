"""Use case: lagged correlations and rollout effects over the daily tables, cached on their inputs, plus the
shareable report.

Cheap first: a fingerprint of the daily objects' keys and ETags (one LIST per table) says whether
anything changed since the last run. Only then are the objects read and `input_version` (a hash of
the daily rows themselves) computed; an unchanged input_version is not recomputed either. The shareable page
also shows the team view (daily_developer_metrics): when only that table changed (people moved team, a usage
report arrived), the stored correlations are read back and the page alone is written again.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prodlens.duck import write_rows
from prodlens.lake_engine import LocalEngine
from prodlens.normalize.formats import TRACE_TOOLS
from prodlens.observability import logger, metrics
from prodlens.people import PEOPLE_KEY, parse_people
from prodlens.ports import ObjectStore, StateStore
from prodlens.report import build_report, render_html
from prodlens.rollouts import ROLLOUTS_KEY, parse_rollouts
from prodlens.schema import (
    AI_COMMITS,
    COHORT_WEEKLY,
    CORRELATIONS,
    DAILY_BRANCH_SESSIONS,
    DAILY_DEVELOPER_METRICS,
    DAILY_GITHUB_METRICS,
    DAILY_SESSION_METRICS,
    PULL_REQUEST_AI,
    PULL_REQUESTS,
    ROLLOUT_EFFECTS,
    Table,
)
from prodlens.stats import correlate, input_version
from prodlens.stats.cohorts import cohort_weekly
from prodlens.stats.effects import compute_effects
from prodlens.stats.pr_ai import pull_request_ai
from prodlens.stats.rollout_table import rollout_effects

CORRELATIONS_KEY = "correlations/correlations.parquet"
ROLLOUT_EFFECTS_KEY = "rollout_effects/rollout_effects.parquet"
COHORT_WEEKLY_KEY = "cohort_weekly/cohort_weekly.parquet"
PULL_REQUEST_AI_KEY = "pull_request_ai/pull_request_ai.parquet"
REPORT_KEY = "reports/latest.html"
CACHE_PK, CACHE_SK = "cache#correlations", "latest"
INPUT_TABLES = (DAILY_SESSION_METRICS.name, DAILY_GITHUB_METRICS.name)
# the team view, rollouts, cohorts and AI-assisted pull requests
PAGE_TABLES = (DAILY_DEVELOPER_METRICS.name, PULL_REQUESTS.name, DAILY_BRANCH_SESSIONS.name, AI_COMMITS.name)


def _fingerprint(store: ObjectStore, holidays: Sequence[date], config_etags: Sequence[str]) -> tuple[str, list[str]]:
    keys, digest = [], hashlib.sha256()
    digest.update(("holidays=" + ",".join(day.isoformat() for day in holidays) + "\n").encode())
    digest.update(("config=" + ",".join(config_etags) + "\n").encode())
    for table in INPUT_TABLES + PAGE_TABLES:
        for obj in sorted(store.list(f"{table}/"), key=lambda o: o.key):
            keys.append(obj.key)
            digest.update(f"{obj.key}\0{obj.etag}\n".encode())
    return digest.hexdigest(), keys


@dataclass(frozen=True)
class _PageInputs:
    session: list[dict[str, Any]]
    github: list[dict[str, Any]]
    developers: list[dict[str, Any]]
    holidays: Sequence[date]
    rollouts: list[dict[str, Any]]
    cohorts: list[dict[str, Any]]
    pull_request_ai: list[dict[str, Any]]


def _write_page(store: ObjectStore, page: _PageInputs, correlations: list[dict[str, Any]]) -> None:
    """The shareable page: figures from the daily tables (trace-level effect sizes are in `prodlens report`)."""
    effects = compute_effects([], page.session, page.github)
    report = build_report(
        correlations,
        page.session,
        page.github,
        effects,
        holidays=page.holidays,
        developer_daily=page.developers,
        rollout_effects=page.rollouts,
        cohorts=page.cohorts,
        pull_request_ai=page.pull_request_ai,
    )
    store.put_bytes(REPORT_KEY, render_html(report).encode("utf-8"), content_type="text/html; charset=utf-8")


def _read_config(config: ObjectStore | None, key: str, present: bool, workdir: Path) -> bytes | None:
    """A config file of the raw bucket (config/rollouts.json, config/people.json), None when it is not there."""
    if config is None or not present:
        return None
    path = workdir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    config.download(key, path)
    return path.read_bytes()


def _write_table(store: ObjectStore, workdir: Path, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    out = workdir / "out" / key
    out.parent.mkdir(parents=True, exist_ok=True)
    write_rows(table, rows, out)
    store.upload(out, key)


def run_correlate(
    store: ObjectStore,
    state: StateStore,
    *,
    now: datetime,
    force: bool = False,
    holidays: Sequence[date] = (),
    config: ObjectStore | None = None,
) -> dict[str, Any]:
    """Recompute `correlations` when the daily tables (or the configured holidays) changed, and `rollout_effects`
    and the page whenever any input (also config/rollouts.json in `config`, the raw bucket) did; a summary."""
    cached = state.get_item(CACHE_PK, CACHE_SK) or {}
    heads = {key: config.head(key) if config is not None else None for key in (ROLLOUTS_KEY, PEOPLE_KEY)}
    fingerprint, keys = _fingerprint(store, holidays, [head.etag if head else "" for head in heads.values()])
    if not force and cached.get("fingerprint") == fingerprint:
        metrics.add_metric(name="CorrelateCacheHits", unit="Count", value=1)
        return {"status": "cached", "input_version": cached.get("input_version"), "rows": cached.get("rows", 0)}

    with tempfile.TemporaryDirectory(prefix="prodlens-correlate-") as tmp:
        workdir = Path(tmp)
        rollouts_file = _read_config(config, ROLLOUTS_KEY, heads[ROLLOUTS_KEY] is not None, workdir)
        configured = parse_rollouts(rollouts_file) if rollouts_file is not None else {}
        people_file = _read_config(config, PEOPLE_KEY, heads[PEOPLE_KEY] is not None, workdir)
        people = parse_people(people_file) if people_file is not None else []
        for key in keys:
            target = workdir / key
            target.parent.mkdir(parents=True, exist_ok=True)
            store.download(key, target)
        engine = LocalEngine(workdir, threads=1)
        session_rows = engine.query_dicts(f"SELECT * FROM {DAILY_SESSION_METRICS.name}", dialect="duckdb")
        github_rows = engine.query_dicts(f"SELECT * FROM {DAILY_GITHUB_METRICS.name}", dialect="duckdb")
        developer_rows = engine.query_dicts(f"SELECT * FROM {DAILY_DEVELOPER_METRICS.name}", dialect="duckdb")
        pull_rows = engine.query_dicts(f"SELECT * FROM {PULL_REQUESTS.name}", dialect="duckdb")
        branch_rows = engine.query_dicts(f"SELECT * FROM {DAILY_BRANCH_SESSIONS.name}", dialect="duckdb")
        ai_commit_rows = engine.query_dicts(f"SELECT * FROM {AI_COMMITS.name}", dialect="duckdb")
        version = input_version(session_rows, github_rows, holidays)
        computed_at = now.replace(tzinfo=None)
        # What changed at each rollout, the weekly cohorts and the AI-assisted pull requests: cheap next to the
        # correlations, and they also read the team table, the pull requests, the branch sessions, the rollout
        # dates and the people, so they are recomputed whenever anything did
        rollouts = rollout_effects(
            session_rows,
            github_rows,
            developer_rows,
            configured=configured,
            holidays=holidays,
            input_version=version,
            computed_at=computed_at,
        )
        _write_table(store, workdir, ROLLOUT_EFFECTS, ROLLOUT_EFFECTS_KEY, rollouts)
        cohorts = cohort_weekly(developer_rows, pull_rows, people, computed_at=computed_at)
        _write_table(store, workdir, COHORT_WEEKLY, COHORT_WEEKLY_KEY, cohorts)
        pr_ai = pull_request_ai(pull_rows, branch_rows, ai_commit_rows, tool_of=TRACE_TOOLS, computed_at=computed_at)
        _write_table(store, workdir, PULL_REQUEST_AI, PULL_REQUEST_AI_KEY, pr_ai)
        page = _PageInputs(session_rows, github_rows, developer_rows, holidays, rollouts, cohorts, pr_ai)
        if not force and cached.get("input_version") == version and store.head(CORRELATIONS_KEY) is not None:
            # The correlations stand; the page's other inputs (the team view) may have changed
            stored = workdir / "stored" / CORRELATIONS_KEY
            stored.parent.mkdir(parents=True)
            store.download(CORRELATIONS_KEY, stored)
            _write_page(
                store,
                page,
                LocalEngine(workdir / "stored", threads=1).query_dicts(
                    f"SELECT * FROM {CORRELATIONS.name}", dialect="duckdb"
                ),
            )
            state.put_item(CACHE_PK, CACHE_SK, {**cached, "fingerprint": fingerprint})
            metrics.add_metric(name="CorrelateCacheHits", unit="Count", value=1)
            return {
                "status": "unchanged",
                "input_version": version,
                "rows": cached.get("rows", 0),
                "rollout_rows": len(rollouts),
                "cohort_rows": len(cohorts),
                "pull_request_ai_rows": len(pr_ai),
            }

        rows = correlate(session_rows, github_rows, holidays=holidays, input_version=version, computed_at=computed_at)
        _write_table(store, workdir, CORRELATIONS, CORRELATIONS_KEY, rows)
        _write_page(store, page, rows)

    state.put_item(
        CACHE_PK,
        CACHE_SK,
        {"fingerprint": fingerprint, "input_version": version, "rows": len(rows), "computed_at": now.isoformat()},
    )
    metrics.add_metric(name="CorrelationRows", unit="Count", value=len(rows))
    logger.info("correlations computed", rows=len(rows), input_version=version, daily_objects=len(keys))
    return {
        "status": "computed",
        "input_version": version,
        "rows": len(rows),
        "rollout_rows": len(rollouts),
        "cohort_rows": len(cohorts),
        "pull_request_ai_rows": len(pr_ai),
        "daily_objects": len(keys),
    }
