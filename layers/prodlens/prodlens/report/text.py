"""Terminal and JSON renderings of the report."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime
from typing import Any

from prodlens.report.cohorts import cohort_lines
from prodlens.report.gaps import DataWarning
from prodlens.report.model import (
    APPENDIX_TITLE,
    Association,
    Report,
    Verdict,
    fmt_num,
    fmt_p,
    repo_label,
)
from prodlens.report.pr_ai import pr_ai_lines
from prodlens.report.rollouts import rollout_lines
from prodlens.report.teams import COLUMNS, TEAMS_TITLE, TeamView, table_rows

MAX_SIGNIFICANT_SHOWN = 25
NOT_SIGNIFICANT_LABEL = "not significant after Benjamini–Hochberg correction"
VERDICT_MARKS = {"link": "[LINK]", "no_evidence": "[NO EVIDENCE]", "too_little_data": "[TOO LITTLE DATA]"}

__all__ = ["fmt_num", "fmt_p", "repo_label", "render_json", "render_text", "report_dict"]


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def association_line(a: Association) -> str:
    """One row: repo, pair, lag, n, r with CI, rho, and both adjusted p-values (always shown)."""
    ci = ""
    if a.pearson_ci_low is not None and a.pearson_ci_high is not None:
        ci = f" [{fmt_num(a.pearson_ci_low)}, {fmt_num(a.pearson_ci_high)}]"
    line = (
        f"{repo_label(a.repo)}: {a.x_metric} -> {a.y_metric}, lag {a.lag_days}d, n={a.n}, "
        f"r={fmt_num(a.pearson_r, signed=True)}{ci}, rho={fmt_num(a.spearman_rho, signed=True)}, "
        f"adjusted p: Pearson {fmt_p(a.pearson_p_adj)}, Spearman {fmt_p(a.spearman_p_adj)}"
    )
    if a.adj_r is not None:
        line += f"; calendar-adjusted r={fmt_num(a.adj_r, signed=True)}, p after BH {fmt_p(a.adj_p_adj)}"
    if a.low_sample:
        line += f" (low sample, n={a.n})"
    return line


def _effects_lines(effects: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for metric, d in (effects.get("cohens_d") or {}).items():
        lines.append(
            f"  Cohen's d, accepted vs not-accepted requests, {metric}: d={fmt_num(d.get('d'), signed=True)} "
            f"(n={d.get('n', 0)}: {d.get('n1', 0)} accepted, {d.get('n2', 0)} not accepted; pooled SD)"
        )
    for entry in effects.get("acceptance_by_model") or []:
        rate = entry.get("rate")
        shown = "n/a" if rate is None else f"{rate * 100:.1f}%"
        lines.append(
            f"  Acceptance rate, {entry['model']}: {shown} ({entry.get('accepted', 0)}/{entry.get('decided', 0)} "
            f"decided, n={entry.get('n', 0)})"
        )
    tpl = effects.get("tokens_per_accepted_line")
    if tpl:
        lines.append(
            f"  Tokens per accepted line: {fmt_num(tpl.get('value'), 1)} (n={tpl.get('n', 0)} accepted requests)"
        )
    for entry in effects.get("cost_per_merged_pr") or []:
        value = entry.get("value")
        shown = "n/a (no merged PRs)" if value is None else f"${value:,.2f}"
        lines.append(
            f"  Cost per merged PR, {repo_label(entry['repo'])}: {shown} "
            f"(${entry.get('cost_usd', 0):,.2f} / {entry.get('merged_prs', 0)} merged, n={entry.get('n', 0)})"
        )
    growth = effects.get("request_growth")
    if growth:
        dod = growth.get("day_over_day") or {}
        wow = growth.get("week_over_week") or {}
        if dod.get("last_day"):
            lines.append(
                f"  AI requests, {dod['last_day']} vs {dod.get('previous_day') or 'n/a'}: {fmt_pct(dod.get('growth'))} "
                f"({fmt_num(dod.get('last'), 0)} vs {fmt_num(dod.get('previous'), 0)}, n={dod.get('n', 0)} days)"
            )
        if wow.get("last_end"):
            lines.append(
                f"  AI requests, 7 days to {wow['last_end']} vs the 7 days before: {fmt_pct(wow.get('growth'))} "
                f"({fmt_num(wow.get('last'), 0)} vs {fmt_num(wow.get('previous'), 0)}, "
                f"n={wow.get('n', 0)} days with data)"
            )
    return lines


def verdict_lines(verdicts: list[Verdict]) -> list[str]:
    """The headline: one verdict per scope, with the raw-vs-adjusted note under it, then a caveat across repos."""
    out = ["Verdicts (adjusted for the weekly rhythm, holidays and trends)"]
    if not verdicts:
        out.append("  (no correlations rows: run correlate first)")
    for v in verdicts:
        out.append(f"  {VERDICT_MARKS[v.verdict]} {v.sentence}")
        if v.note:
            out.append(f"      raw vs adjusted: {v.note}")
    if len({v.repo for v in verdicts}) > 2:
        out.append(
            "  (The correction is per repo; across many repos a few chance findings are expected, so weigh a lone"
            " link in one repo accordingly.)"
        )
    return out


WARNINGS_TITLE = "Data warnings"
NO_WARNINGS = (
    "none: every window day with a working team has AI and GitHub data "
    "(weekends, holidays and days the whole team stopped are not gaps)"
)


def warning_lines(warnings: list[DataWarning]) -> list[str]:
    """The data-warnings block: gaps in the window and sources that stopped, one line each."""
    if not warnings:
        return [f"{WARNINGS_TITLE}: {NO_WARNINGS}"]
    return [f"{WARNINGS_TITLE} (they weaken the verdicts above)"] + [f"  ! {w.message}" for w in warnings]


def team_lines(view: TeamView | None) -> list[str]:
    """The team view: one line per team (or per person of the team asked for), as a fixed-width table."""
    if view is None:
        return []
    title = f"{TEAMS_TITLE}: {view.team_filter}" if view.team_filter else f"{TEAMS_TITLE} (config/people.json)"
    groups = view.people if view.team_filter else view.teams
    if not groups:
        return [f"{title}: no activity in the window", ""]
    header = ["person" if view.team_filter else "team", *(h for h, _, _ in COLUMNS), "tools"]
    rows = [header, *table_rows(groups)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [title]
    for row in rows:
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:-1], widths[1:], strict=True))]
        lines.append("  " + "  ".join(cells) + "  " + row[-1])
    lines.append(f"  {view.caveat}")
    return [*lines, ""]


def render_text(report: Report) -> str:
    """The terminal report: header, verdicts, effects, method, then the appendix of raw correlations."""
    sections = (
        _header_lines(report),
        verdict_lines(report.verdicts),
        warning_lines(report.warnings),
        team_lines(report.teams) + rollout_lines(report.rollouts),
        pr_ai_lines(report.pull_requests_ai),
        cohort_lines(report.cohorts),
        _effects_and_method_lines(report),
    )
    out: list[str] = []
    for lines in sections:
        out.extend([*lines, ""])
    out.extend(_appendix_lines(report))
    return "\n".join(out) + "\n"


def _header_lines(report: Report) -> list[str]:
    out = ["ProdLens report", "=" * 15, report.window_text]
    filters = []
    if report.since or report.until:
        filters.append(f"dates {report.since or '...'} .. {report.until or '...'}")
    if report.repo_filter:
        filters.append(f"repo {report.repo_filter}")
    if filters:
        out.append("Filter: " + ", ".join(filters))
    out.append(report.data_text)
    return out


def _effects_and_method_lines(report: Report) -> list[str]:
    effects = _effects_lines(report.effects)
    if not effects:
        return [report.method]
    return ["Effect sizes and efficiency", *effects, "", report.method]


def _appendix_lines(report: Report) -> list[str]:
    alpha = report.alpha
    out = [APPENDIX_TITLE, "-" * len(APPENDIX_TITLE)]
    out.append(f"Raw associations with Benjamini–Hochberg adjusted p < {alpha}: {len(report.significant)}")
    if not report.significant:
        out.append(f"  None: no raw association reaches adjusted p < {alpha}.")
    for a in report.significant[:MAX_SIGNIFICANT_SHOWN]:
        out.append("  " + association_line(a))
        out.append(f"    -> descriptive: {a.sentence}")
    if len(report.significant) > MAX_SIGNIFICANT_SHOWN:
        out.append(f"  ... and {len(report.significant) - MAX_SIGNIFICANT_SHOWN} more (see --format json)")
    out.append("")
    out.append(f"Strongest other raw associations, {NOT_SIGNIFICANT_LABEL}:")
    if not report.not_significant:
        out.append("  (none)")
    out.extend(f"  {association_line(a)}; {NOT_SIGNIFICANT_LABEL}" for a in report.not_significant)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _association_dict(a: Association) -> dict[str, Any]:
    item = dataclasses.asdict(a)
    item["best_p_adj"] = a.best_p_adj
    return item


def report_dict(report: Report) -> dict[str, Any]:
    """Verdicts first, then the data warnings; the raw lists sit under `unadjusted_associations` (the appendix)."""
    data: dict[str, Any] = {"verdicts": [{**dataclasses.asdict(v), "headline": v.headline} for v in report.verdicts]}
    data["data_warnings"] = [dataclasses.asdict(w) for w in report.warnings]
    data["teams"] = dataclasses.asdict(report.teams) if report.teams is not None else None
    data["rollout_effects"] = [dataclasses.asdict(e) for e in report.rollouts.effects]
    data["cohorts"] = dataclasses.asdict(report.cohorts)
    data["pull_requests_ai"] = dataclasses.asdict(report.pull_requests_ai)
    for key in ("since", "until", "repo_filter", "window_start", "window_end"):
        data[key] = getattr(report, key)
    data["days"] = report.days
    data["counts"] = report.counts
    data["method"] = report.method
    data["alpha"] = report.alpha
    data["charts"] = {scope: dataclasses.asdict(chart) for scope, chart in report.charts.items()}
    data["effects"] = report.effects
    data["associations"] = [_association_dict(a) for a in report.associations]
    data["unadjusted_associations"] = {
        "appendix": "unadjusted",
        "title": APPENDIX_TITLE,
        "significant": [_association_dict(a) for a in report.significant],
        "not_significant": [_association_dict(a) for a in report.not_significant],
    }
    data["correlation_versions"] = report.correlation_versions
    data["daily"] = {scope: [dataclasses.asdict(p) for p in points] for scope, points in report.daily.items()}
    return _jsonable(data)


def render_json(report: Report) -> str:
    """The report model as JSON, verdicts first (dates ISO, NaN as null)."""
    return json.dumps(report_dict(report), indent=2, sort_keys=False, allow_nan=False)
