"""Self-contained HTML rendering: inline CSS, inline SVG charts, no scripts, no external references."""

from __future__ import annotations

import math
from collections.abc import Iterable
from html import escape
from importlib import resources
from string import Template

from prodlens.report.cohorts import COHORT_COLUMNS, COHORTS_TITLE, cohort_cells
from prodlens.report.model import (
    APPENDIX_TITLE,
    X_PHRASES,
    Y_PHRASES,
    Association,
    DailyPoint,
    Report,
    ScopeCharts,
    Verdict,
    fmt_num,
    fmt_p,
    repo_label,
)
from prodlens.report.pr_ai import PR_AI_COLUMNS, PR_AI_TITLE, pr_ai_cells, pr_ai_findings
from prodlens.report.rollouts import ROLLOUT_NOTE, ROLLOUT_TITLE, RolloutEffect
from prodlens.report.teams import COLUMNS, TEAMS_TITLE, table_rows
from prodlens.report.text import NO_WARNINGS, NOT_SIGNIFICANT_LABEL, WARNINGS_TITLE, _effects_lines

REQUEST_COLOR = "#0969da"
COMMIT_COLOR = "#1a7f37"
MERGED_COLOR = "#8250df"
HEAT_BANDS = (  # (upper bound of adjusted p, fill, label)
    (0.01, "#1a7f37", "adjusted p < 0.01"),
    (0.05, "#6fdd8b", "0.01 ≤ adjusted p < 0.05"),
    (0.10, "#dafbe1", "0.05 ≤ adjusted p < 0.10 (not significant)"),
    (1.01, "#eaeef2", "adjusted p ≥ 0.10 (not significant)"),
)
NO_VALUE_FILL = "#ffffff"
LINK_COLOR = "#1a7f37"
CI_COLOR = "#59636e"
VERDICT_CLASS = {"link": "v-link", "no_evidence": "v-none", "too_little_data": "v-little"}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _template() -> Template:
    text = resources.files("prodlens.report").joinpath("template.html").read_text(encoding="utf-8")
    return Template(text)


def _axis_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def daily_chart(scope: str, points: list[DailyPoint]) -> str:
    """Two stacked panels on one day axis: AI requests (bars) above, commits and merged PRs (lines) below."""
    width, left, right = 900, 60, 20
    top_h, bottom_h, gap, top, axis_h = 90, 100, 26, 22, 24
    height = top + top_h + gap + bottom_h + axis_h
    plot_w = width - left - right
    days = len(points)
    step = plot_w / max(days, 1)
    req_max = max((p.request_count for p in points), default=0.0) or 1.0
    gh_max = max((max(p.commit_count, p.merged_pr_count) for p in points), default=0.0) or 1.0
    title = f"Daily AI requests, commits and merged PRs: {repo_label(scope)}"
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<text x="{left}" y="14">AI requests per day (max {_e(_axis_label(req_max))})</text>',
    ]
    bar_w = max(step * 0.8, 0.5)
    for i, p in enumerate(points):
        h = top_h * p.request_count / req_max
        x = left + i * step + (step - bar_w) / 2
        parts.append(
            f'<rect x="{x:.2f}" y="{top + top_h - h:.2f}" width="{bar_w:.2f}" height="{h:.2f}" '
            f'fill="{REQUEST_COLOR}"><title>{_e(p.day)}: {_e(_axis_label(p.request_count))} requests</title></rect>'
        )
    base = top + top_h + gap
    parts.append(
        f'<line x1="{left}" y1="{top + top_h}" x2="{left + plot_w}" y2="{top + top_h}" stroke="#d0d7de"/>'
        f'<line x1="{left}" y1="{base + bottom_h}" x2="{left + plot_w}" y2="{base + bottom_h}" stroke="#d0d7de"/>'
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{_e(_axis_label(req_max))}</text>'
        f'<text x="{left - 6}" y="{top + top_h}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{base - 6}">commits (green) and merged PRs (purple) per day '
        f"(max {_e(_axis_label(gh_max))})</text>"
        f'<text x="{left - 6}" y="{base + 10}" text-anchor="end">{_e(_axis_label(gh_max))}</text>'
        f'<text x="{left - 6}" y="{base + bottom_h}" text-anchor="end">0</text>'
    )
    for name, color, attr in (
        ("commits", COMMIT_COLOR, "commit_count"),
        ("merged PRs", MERGED_COLOR, "merged_pr_count"),
    ):
        coords = " ".join(
            f"{left + (i + 0.5) * step:.2f},{base + bottom_h - bottom_h * getattr(p, attr) / gh_max:.2f}"
            for i, p in enumerate(points)
        )
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5">'
            f"<title>{_e(name)}</title></polyline>"
        )
    if points:
        label_y = base + bottom_h + 16
        parts.append(f'<text x="{left}" y="{label_y}">{_e(points[0].day)}</text>')
        parts.append(f'<text x="{left + plot_w}" y="{label_y}" text-anchor="end">{_e(points[-1].day)}</text>')
    parts.append("</svg>")
    legend = (
        '<p class="legend">'
        f'<span><span class="swatch" style="background:{REQUEST_COLOR}"></span>AI requests</span>'
        f'<span><span class="swatch" style="background:{COMMIT_COLOR}"></span>commits</span>'
        f'<span><span class="swatch" style="background:{MERGED_COLOR}"></span>merged PRs</span></p>'
    )
    return "".join(parts) + legend


def _band(p: float | None) -> str:
    if p is None:
        return NO_VALUE_FILL
    for upper, fill, _ in HEAT_BANDS:
        if p < upper:
            return fill
    return HEAT_BANDS[-1][1]


def heat_map(scope: str, associations: list[Association]) -> str:
    """Lag (columns) x metric pair (rows): cells coloured by the smaller BH-adjusted p of the two methods."""
    pairs = list(dict.fromkeys((a.x_metric, a.y_metric) for a in associations))
    lags = sorted({a.lag_days for a in associations})
    cell = {(a.x_metric, a.y_metric, a.lag_days): a for a in associations}
    label_w, cw, ch, top = 250, 58, 22, 36
    width = label_w + cw * len(lags) + 10
    height = top + ch * len(pairs) + 10
    title = f"Raw p after Benjamini–Hochberg by lag and metric pair: {repo_label(scope)}"
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<text x="{label_w}" y="12">lag (days after AI use)</text>',
    ]
    for j, lag in enumerate(lags):
        parts.append(f'<text x="{label_w + j * cw + cw / 2}" y="{top - 6}" text-anchor="middle">{_e(lag)}</text>')
    for i, (x_metric, y_metric) in enumerate(pairs):
        y = top + i * ch
        parts.append(
            f'<text x="{label_w - 6}" y="{y + ch * 0.7:.1f}" text-anchor="end">{_e(x_metric)} → {_e(y_metric)}</text>'
        )
        for j, lag in enumerate(lags):
            a = cell.get((x_metric, y_metric, lag))
            p = a.best_p_adj if a else None
            text = "–" if p is None else ("<.01" if p < 0.01 else f"{p:.2f}")
            tip = "no test (constant series or too few days)"
            if a is not None and p is not None:
                tip = (
                    f"lag {lag}, n={a.n}, r={fmt_num(a.pearson_r, signed=True)}, "
                    f"rho={fmt_num(a.spearman_rho, signed=True)}, "
                    f"adjusted p Pearson {fmt_p(a.pearson_p_adj)}, Spearman {fmt_p(a.spearman_p_adj)}"
                    + (f" (low sample, n={a.n})" if a.low_sample else "")
                )
            x = label_w + j * cw
            dark_text = ' style="fill:#ffffff"' if p is not None and p < HEAT_BANDS[0][0] else ""
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{_band(p)}" stroke="#d0d7de">'
                f"<title>{_e(tip)}</title></rect>"
                f'<text x="{x + cw / 2 - 1}" y="{y + ch * 0.68:.1f}" text-anchor="middle"'
                f"{dark_text}>{_e(text)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _association_rows(items: list[Association], significant: bool) -> str:
    rows = []
    for a in items:
        low = f' <span class="low">(low sample, n={a.n})</span>' if a.low_sample else ""
        ci = ""
        if a.pearson_ci_low is not None and a.pearson_ci_high is not None:
            ci = f" [{fmt_num(a.pearson_ci_low)}, {fmt_num(a.pearson_ci_high)}]"
        note = (
            f'<span class="sentence">descriptive: {_e(a.sentence)}</span>'
            if significant and a.sentence
            else f'<span class="ns">{_e(NOT_SIGNIFICANT_LABEL)}</span>'
        )
        rows.append(
            "<tr>"
            f"<td>{_e(repo_label(a.repo))}</td><td>{_e(a.x_metric)} → {_e(a.y_metric)}</td>"
            f'<td class="num">{_e(a.lag_days)}</td><td class="num">{_e(a.n)}{low}</td>'
            f'<td class="num">{_e(fmt_num(a.pearson_r, signed=True) + ci)}</td>'
            f'<td class="num">{_e(fmt_num(a.spearman_rho, signed=True))}</td>'
            f'<td class="num">{_e(fmt_p(a.pearson_p_adj))}</td><td class="num">{_e(fmt_p(a.spearman_p_adj))}</td>'
            f'<td class="num">{_e(fmt_num(a.adj_r, signed=True))} ({_e(fmt_p(a.adj_p_adj))})</td>'
            f"<td>{note}</td></tr>"
        )
    head = (
        "<tr><th>repo</th><th>AI metric → delivery metric</th><th>lag (days)</th><th>n</th><th>Pearson r [95% CI]</th>"
        "<th>Spearman rho</th><th>BH-adjusted p (Pearson)</th><th>BH-adjusted p (Spearman)</th>"
        "<th>calendar-adjusted r (p after BH)</th><th>reading</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def verdict_block(v: Verdict) -> str:
    """One coloured block per scope: label, verdict headline, the sentence and the raw-vs-adjusted note."""
    note = f'<p class="note">Raw vs adjusted: {_e(v.note)}</p>' if v.note else ""
    return (
        f'<div class="verdict {VERDICT_CLASS[v.verdict]}" data-verdict="{_e(v.verdict)}">'
        f'<p class="vhead"><strong>{_e(v.label)}</strong>: {_e(v.headline)}</p>'
        f'<p class="vsentence">{_e(v.detail)}</p>{note}</div>'
    )


def _pair_words(x_metric: str, y_metric: str) -> str:
    return f"{X_PHRASES.get(x_metric, x_metric)} → {Y_PHRASES.get(y_metric, y_metric)}"


def lag_profile_chart(chart: ScopeCharts) -> str:
    """Adjusted r by lag with 95% CI error bars, a zero line, and a ring on lags with adjusted p < 0.05 after BH."""
    width, height, left, right, top, bottom = 460, 250, 50, 20, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    points = chart.profile
    lags = [p.lag_days for p in points] or list(range(8))
    lo_lag, hi_lag = min(lags), max(lags)
    span = max(hi_lag - lo_lag, 1)
    values = [v for p in points for v in (p.adj_r, p.adj_ci_low, p.adj_ci_high) if v is not None]
    top_v = min(1.0, max(0.2, *values) if values else 1.0)
    low_v = max(-1.0, min(-0.2, *values) if values else -1.0)
    top_v, low_v = math.ceil(top_v * 5) / 5, math.floor(low_v * 5) / 5

    def x_of(lag: int) -> float:
        return left + 20 + (plot_w - 40) * (lag - lo_lag) / span

    def y_of(value: float) -> float:
        return top + plot_h * (top_v - value) / (top_v - low_v)

    title = f"Adjusted r by lag, {_pair_words(chart.x_metric, chart.y_metric)}: {repo_label(chart.repo)}"
    parts = [
        f'<svg class="lag-profile" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}"><title>{_e(title)}</title>',
        f'<text x="{left}" y="14">adjusted r (95% CI) of {_e(chart.x_metric)} → {_e(chart.y_metric)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d0d7de"/>',
    ]
    tick = low_v
    while tick <= top_v + 1e-9:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:+.1f}</text>'
        )
        tick = round(tick + 0.2, 10)
    zero = y_of(0.0)
    parts.append(
        f'<line class="zero" x1="{left}" y1="{zero:.1f}" x2="{left + plot_w}" y2="{zero:.1f}" '
        'stroke="#1f2328" stroke-width="1"/>'
    )
    for lag in range(lo_lag, hi_lag + 1):
        parts.append(f'<text x="{x_of(lag):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_e(lag)}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">lag (days after AI use)</text>')
    for p in points:
        x = x_of(p.lag_days)
        if p.adj_r is None:
            parts.append(f'<text x="{x:.1f}" y="{zero - 4:.1f}" text-anchor="middle">–</text>')
            continue
        tip = (
            f"lag {p.lag_days}: adjusted r {fmt_num(p.adj_r, signed=True)} "
            f"[{fmt_num(p.adj_ci_low)}, {fmt_num(p.adj_ci_high)}], {fmt_num(p.n_eff, 0)} effective days, "
            f"adjusted p after BH {fmt_p(p.adj_p_adj)}"
        )
        color = LINK_COLOR if p.significant else CI_COLOR
        if p.adj_ci_low is not None and p.adj_ci_high is not None:
            y1, y2 = y_of(max(p.adj_ci_low, low_v)), y_of(min(p.adj_ci_high, top_v))
            parts.append(
                f'<g class="ci-bar" stroke="{color}" stroke-width="1.5">'
                f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2:.1f}"/>'
                f'<line x1="{x - 6:.1f}" y1="{y1:.1f}" x2="{x + 6:.1f}" y2="{y1:.1f}"/>'
                f'<line x1="{x - 6:.1f}" y1="{y2:.1f}" x2="{x + 6:.1f}" y2="{y2:.1f}"/></g>'
            )
        y = y_of(p.adj_r)
        parts.append(
            f'<circle class="r-point" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>{_e(tip)}</title></circle>'
        )
        if p.significant:
            parts.append(
                f'<circle class="sig-marker" cx="{x:.1f}" cy="{y:.1f}" r="8" fill="none" stroke="{LINK_COLOR}" '
                f'stroke-width="2"/><text x="{x + 11:.1f}" y="{y - 6:.1f}" '
                f'style="fill:{LINK_COLOR};font-weight:600">p&lt;.05</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _standardized(values: list[float]) -> list[float]:
    n = len(values)
    if n == 0:
        return []
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    return [(v - mean) / sd if sd > 0 else 0.0 for v in values]


def adjusted_series_chart(chart: ScopeCharts) -> str:
    """The two calendar-adjusted series (standardized), the delivery series shifted back by the strongest lag."""
    series = chart.series
    if series is None:
        return '<p class="meta">No adjusted series: fewer than 21 days both tables cover.</p>'
    lag = chart.lag_days or 0
    x = _standardized(series.x)
    y = _standardized(series.y)
    days = len(x)
    width, left, right, top, plot_h = 900, 50, 20, 30, 170
    height = top + plot_h + 40
    plot_w = width - left - right
    step = plot_w / max(days - 1, 1)
    peak = max([abs(v) for v in x + y] + [1.0])
    limit = math.ceil(peak)

    def y_of(value: float) -> float:
        return top + plot_h / 2 - (plot_h / 2) * value / limit

    x_name, y_name = X_PHRASES.get(chart.x_metric, chart.x_metric), Y_PHRASES.get(chart.y_metric, chart.y_metric)
    title = f"Calendar-adjusted daily {x_name} and {y_name}: {repo_label(chart.repo)}"
    shifted = f", {y_name} drawn {lag} day{'s' if lag != 1 else ''} earlier (lag {lag})" if lag else " (lag 0)"
    parts = [
        f'<svg class="adjusted-series" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}"><title>{_e(title)}</title>',
        f'<text x="{left}" y="14">what the calendar does not explain, in standard deviations{_e(shifted)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d0d7de"/>',
        f'<line class="zero" x1="{left}" y1="{y_of(0):.1f}" x2="{left + plot_w}" y2="{y_of(0):.1f}" stroke="#8c959f"/>',
        f'<text x="{left - 6}" y="{y_of(limit) + 10:.1f}" text-anchor="end">+{limit}</text>'
        f'<text x="{left - 6}" y="{y_of(0) + 4:.1f}" text-anchor="end">0</text>'
        f'<text x="{left - 6}" y="{y_of(-limit):.1f}" text-anchor="end">-{limit}</text>',
    ]
    x_coords = " ".join(f"{left + i * step:.1f},{y_of(v):.1f}" for i, v in enumerate(x))
    # y(d + lag) is drawn at day d, so the pairs the lagged r correlates sit on the same vertical
    y_coords = " ".join(f"{left + (i - lag) * step:.1f},{y_of(v):.1f}" for i, v in enumerate(y) if i >= lag)
    parts.append(
        f'<polyline class="series-x" points="{x_coords}" fill="none" stroke="{REQUEST_COLOR}" stroke-width="1.4">'
        f"<title>{_e(x_name)} (adjusted)</title></polyline>"
        f'<polyline class="series-y" points="{y_coords}" fill="none" stroke="{COMMIT_COLOR}" stroke-width="1.4">'
        f"<title>{_e(y_name)} (adjusted, lag {lag})</title></polyline>"
    )
    label_y = top + plot_h + 16
    parts.append(f'<text x="{left}" y="{label_y}">{_e(series.start)}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{label_y}" text-anchor="end">{_e(series.day(days - 1))}</text>')
    parts.append("</svg>")
    later = f", {lag} day{'s' if lag != 1 else ''} later" if lag else ""
    legend = (
        '<p class="legend">'
        f'<span><span class="swatch" style="background:{REQUEST_COLOR}"></span>{_e(x_name)} (adjusted)</span>'
        f'<span><span class="swatch" style="background:{COMMIT_COLOR}"></span>{_e(y_name)} (adjusted'
        f"{_e(later)})</span></p>"
    )
    return "".join(parts) + legend


def warnings_block(report: Report) -> str:
    """The data warnings, right under the verdicts they weaken."""
    if not report.warnings:
        none = f"{WARNINGS_TITLE}: {NO_WARNINGS}"
        return f'<section class="warnings" id="data-warnings"><p class="meta">{_e(none)}</p></section>'
    items = "".join(f'<li class="w-{_e(w.kind)}">{_e(w.message)}</li>' for w in report.warnings)
    return (
        f'<section class="warnings" id="data-warnings"><h2>{_e(WARNINGS_TITLE)}</h2>'
        f'<p class="meta">Days without data in the window and sources that stopped: they weaken the verdicts '
        f"above.</p><ul>{items}</ul></section>"
    )


def _table(heads: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def teams_block(report: Report) -> str:
    """The team view as a table, with its caveat."""
    view = report.teams
    if view is None:
        return ""
    groups = view.people if view.team_filter else view.teams
    title = f"{TEAMS_TITLE}: {view.team_filter}" if view.team_filter else TEAMS_TITLE
    heads = ["person" if view.team_filter else "team", *(h for h, _, _ in COLUMNS), "tools"]
    return (
        f'<section class="teams" id="teams"><h2>{_e(title)}</h2>{_table(heads, table_rows(groups))}'
        f'<p class="meta">{_e(view.caveat)}</p></section>'
    )


CHARTED_METRICS = {"commit_count": COMMIT_COLOR, "merged_pr_count": MERGED_COLOR}


def rollout_chart(effect: RolloutEffect, points: list[DailyPoint]) -> str:
    """Before/after one rollout: the metric's mean per day of each week, the rollout line, and after it the level
    the unit would have had without the change (dashed) and the level estimated with it (its design)."""
    if effect.rollout_date is None or effect.level_change is None or not effect.relative_change or not points:
        return ""
    width, left, right, top, plot_h, axis_h = 900, 60, 20, 22, 140, 24
    plot_w = width - left - right
    first, days = points[0].day, len(points)
    weeks: dict[int, list[float]] = {}
    for p in points:
        weeks.setdefault((p.day - first).days // 7, []).append(getattr(p, effect.metric))
    weekly = [(week * 7 + 3.5, sum(v) / len(v)) for week, v in sorted(weeks.items())]
    without = effect.level_change / effect.relative_change
    with_change = without + effect.level_change
    high = max([v for _, v in weekly] + [without, with_change, 0.0]) or 1.0

    def x_of(day: float) -> float:
        return left + plot_w * day / max(days, 1)

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / high

    rollout_x = x_of((effect.rollout_date - first).days)
    title = f"{effect.metric} per day, week by week, around the AI rollout: {repo_label(effect.unit)}"
    color = CHARTED_METRICS[effect.metric]
    coords = " ".join(f"{x_of(d):.2f},{y_of(v):.2f}" for d, v in weekly)
    end = left + plot_w
    parts = [
        f'<svg viewBox="0 0 {width} {top + plot_h + axis_h}" width="{width}" height="{top + plot_h + axis_h}" '
        f'role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>',
        f'<text x="{left}" y="14">{_e(effect.metric)}: mean per day of each week (max {_e(_axis_label(high))})</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{end}" y2="{top + plot_h}" stroke="#d0d7de"/>',
        f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"><title>weekly mean</title>'
        "</polyline>",
        f'<line x1="{rollout_x:.2f}" y1="{top}" x2="{rollout_x:.2f}" y2="{top + plot_h}" stroke="{CI_COLOR}" '
        f'stroke-dasharray="2 3"><title>rollout {_e(effect.rollout_date)}</title></line>',
        f'<line x1="{rollout_x:.2f}" y1="{y_of(without):.2f}" x2="{end}" y2="{y_of(without):.2f}" stroke="{CI_COLOR}" '
        f'stroke-dasharray="6 4"><title>without the change: {_e(_axis_label(without))} per day</title></line>',
        f'<line x1="{rollout_x:.2f}" y1="{y_of(with_change):.2f}" x2="{end}" y2="{y_of(with_change):.2f}" '
        f'stroke="{color}" stroke-width="2.5"><title>estimated: {_e(_axis_label(with_change))} per day</title></line>',
        f'<text x="{left}" y="{top + plot_h + 16}">{_e(first)}</text>',
        f'<text x="{rollout_x:.2f}" y="{top + plot_h + 16}" text-anchor="middle">'
        f"rollout {_e(effect.rollout_date)}</text>",
        f'<text x="{end}" y="{top + plot_h + 16}" text-anchor="end">{_e(points[-1].day)}</text>',
        "</svg>",
        '<p class="legend">thin line: the mean per day of each week; after the dotted rollout line, thick: the level '
        "estimated with the change, dashed: the level the same days would have had without it (weekday, holidays "
        "and trend accounted for)</p>",
    ]
    return "".join(parts)


def rollouts_block(report: Report) -> str:
    """What changed at the AI rollout: one table row per measured effect, then the units without a verdict."""
    view = report.rollouts
    if not view.effects:
        return ""
    heads = ("unit", "metric", "design", "rollout", "change/day", "relative", "95% CI", "p_adj", "verdict")
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    rows = []
    for e in view.measured:
        cells = (
            e.unit,
            e.metric,
            e.design,
            f"{e.rollout_date} ({e.rollout_source})",
            f"{e.level_change:+.2f}",
            "" if e.relative_change is None else f"{e.relative_change:+.0%}",
            f"{e.ci_low:+.2f} to {e.ci_high:+.2f}",
            f"{e.p_adj:.3g}",
            e.verdict.replace("_", " "),
        )
        rows.append(f'<tr class="{_e(e.verdict)}">' + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows else ""
    charts = "".join(
        rollout_chart(e, report.daily.get(e.unit, []))
        for e in view.measured
        if e.design == "its" and e.metric in CHARTED_METRICS and e.verdict in ("increase", "decrease")
    )
    missing = "".join(f"<li>{_e(unit)}: {_e(why)}</li>" for unit, why in view.unmeasured_units.items())
    missing_block = f'<p class="meta">Too little data:</p><ul>{missing}</ul>' if missing else ""
    return (
        f'<section class="rollouts" id="rollouts"><h2>{_e(ROLLOUT_TITLE)}</h2>{table}{charts}{missing_block}'
        f'<p class="meta">{_e(ROLLOUT_NOTE.strip())}</p></section>'
    )


def _table_section(name: str, title: str, table: str, findings: str, *notes: str) -> str:
    """A report section: its table, an optional line of findings, then notes in the muted style."""
    lines = f"<p>{_e(findings)}</p>" if findings else ""
    meta = "".join(f'<p class="meta">{_e(note)}</p>' for note in notes)
    return f'<section class="{name}" id="{name}"><h2>{_e(title)}</h2>{table}{lines}{meta}</section>'


def cohorts_block(report: Report) -> str:
    """The weekly AI-use cohorts as a table, with the self-selection caveat."""
    view = report.cohorts
    if not view.cohorts:
        return ""
    table = _table(COHORT_COLUMNS, (cohort_cells(s) for s in view.cohorts))
    return _table_section("cohorts", COHORTS_TITLE, table, "", view.caveat)


def pr_ai_block(report: Report) -> str:
    """AI-assisted vs other merged pull requests, with the evidence counts and the observational caveat."""
    view = report.pull_requests_ai
    if not view.comparisons:
        return ""
    table = _table(PR_AI_COLUMNS, (pr_ai_cells(c) for c in view.comparisons))
    evidence = ", ".join(f"{kind} {count}" for kind, count in view.evidence.items()) or "none"
    findings = "; ".join(pr_ai_findings(view) or ["No detectable difference between the two groups."])
    return _table_section("pr-ai", PR_AI_TITLE, table, findings, f"Evidence: {evidence}", view.caveat)


def render_html(report: Report) -> str:
    """A single self-contained page (inline CSS and SVG, every string escaped, no external links).

    Verdicts first, then per repo the adjusted lag profile and adjusted series, the daily data, effect sizes,
    the method, and last the appendix of unadjusted correlations.
    """
    body = [
        *_header_parts(report),
        *_verdict_parts(report),
        warnings_block(report),
        teams_block(report),
        rollouts_block(report),
        pr_ai_block(report),
        cohorts_block(report),
        *_adjusted_chart_parts(report),
        *_daily_chart_parts(report),
        *_effects_parts(report),
        f'<p class="method">{_e(report.method)}</p>',
        *_appendix_parts(report),
    ]
    return _template().substitute(title=_e("ProdLens report"), body="\n".join(body))


def _header_parts(report: Report) -> list[str]:
    parts = ["<h1>ProdLens report</h1>", f'<p class="meta">{_e(report.window_text)}</p>']
    if report.repo_filter:
        parts.append(f'<p class="meta">Repo: {_e(report.repo_filter)}</p>')
    parts.append(f'<p class="meta">{_e(report.data_text)}</p>')
    return parts


def _verdict_parts(report: Report) -> list[str]:
    parts = ['<h2 id="verdicts">Verdicts (adjusted for the weekly rhythm, holidays and trends)</h2>']
    parts.append('<section class="verdicts">')
    if report.verdicts:
        parts.extend(verdict_block(v) for v in report.verdicts)
    else:
        parts.append("<p>No correlations rows: run correlate first.</p>")
    parts.append("</section>")
    return parts


def _adjusted_chart_parts(report: Report) -> list[str]:
    if not report.charts:
        return []
    parts = [
        "<h2>Adjusted association by repo</h2>",
        '<p class="meta">First: adjusted r at each lag with its 95% confidence interval (ringed where the '
        "adjusted p after Benjamini–Hochberg is below 0.05). Then: the two daily series after removing the "
        "calendar, standardized.</p>",
    ]
    for scope, chart in report.charts.items():
        parts.append(f'<div class="scope"><h3>{_e(repo_label(scope))}</h3>')
        parts.append(lag_profile_chart(chart))
        parts.append(adjusted_series_chart(chart))
        parts.append("</div>")
    return parts


def _daily_chart_parts(report: Report) -> list[str]:
    parts = ["<h2>Daily AI use against delivery</h2>"]
    for scope, points in report.daily.items():
        parts.append(f"<h3>{_e(repo_label(scope))}</h3>")
        parts.append(daily_chart(scope, points))
    return parts


def _effects_parts(report: Report) -> list[str]:
    lines = _effects_lines(report.effects)
    if not lines:
        return []
    return ["<h2>Effect sizes and efficiency</h2><ul>", *(f"<li>{_e(line.strip())}</li>" for line in lines), "</ul>"]


def _appendix_parts(report: Report) -> list[str]:
    parts = [f'<section class="appendix"><h2 id="appendix">{_e(APPENDIX_TITLE)}</h2>']
    parts.append(f"<h3>Raw associations with Benjamini–Hochberg adjusted p &lt; {_e(report.alpha)}</h3>")
    if report.significant:
        parts.append(_association_rows(report.significant, significant=True))
    else:
        parts.append(f"<p>None: no raw association reaches adjusted p &lt; {_e(report.alpha)}.</p>")
    parts.append(f"<h3>Strongest other raw associations ({_e(NOT_SIGNIFICANT_LABEL)})</h3>")
    if report.not_significant:
        parts.append(_association_rows(report.not_significant, significant=False))
    else:
        parts.append("<p>(none)</p>")
    parts.append("<h3>Raw adjusted p by lag and metric</h3>")
    legend = "".join(
        f'<span><span class="swatch" style="background:{fill}"></span>{_e(label)}</span>'
        for _, fill, label in HEAT_BANDS
    )
    parts.append(
        f'<p class="legend">{legend}<span><span class="swatch" style="background:{NO_VALUE_FILL}"></span>'
        'no test</span></p><p class="meta">Each cell shows the smaller of the two raw p-values after '
        "Benjamini–Hochberg (Pearson, Spearman), without the calendar adjustment.</p>"
    )
    by_repo: dict[str, list[Association]] = {}
    for a in report.associations:
        by_repo.setdefault(a.repo, []).append(a)
    for scope, items in by_repo.items():
        parts.append(f"<h4>{_e(repo_label(scope))}</h4>")
        parts.append(heat_map(scope, items))
    parts.append("</section>")
    return parts
