"""Self-contained HTML rendering: inline CSS, inline SVG charts, no scripts, no external references."""

from __future__ import annotations

from html import escape
from importlib import resources
from string import Template

from prodlens.report.model import Association, DailyPoint, Report
from prodlens.report.text import NOT_SIGNIFICANT_LABEL, _effects_lines, fmt_num, fmt_p, repo_label

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
    title = f"Adjusted p by lag and metric pair: {repo_label(scope)}"
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
            f'<span class="sentence">{_e(a.sentence)}</span>'
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
            f"<td>{note}</td></tr>"
        )
    head = (
        "<tr><th>repo</th><th>AI metric → delivery metric</th><th>lag (days)</th><th>n</th><th>Pearson r [95% CI]</th>"
        "<th>Spearman rho</th><th>adjusted p (Pearson)</th><th>adjusted p (Spearman)</th><th>reading</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def render_html(report: Report) -> str:
    """A single self-contained page (inline CSS and SVG, every string escaped, no external links)."""
    c = report.counts
    body = ["<h1>ProdLens report</h1>"]
    if report.window_start is not None:
        body.append(
            f'<p class="meta">Window: {_e(report.window_start)} .. {_e(report.window_end)} ({report.days} days)</p>'
        )
    else:
        body.append('<p class="meta">Window: no daily data in range</p>')
    if report.repo_filter:
        body.append(f'<p class="meta">Repo: {_e(report.repo_filter)}</p>')
    body.append(
        f'<p class="meta">Data: {c["session_daily_rows"]} daily AI-usage rows, '
        f"{c['github_daily_rows']} daily GitHub rows, "
        f"{c['repos']} repos; {c['correlation_rows']} correlation rows ({c['tests']} tests)</p>"
    )
    body.append(f"<h2>Significant associations (Benjamini–Hochberg adjusted p &lt; {_e(report.alpha)})</h2>")
    if report.significant:
        body.append(_association_rows(report.significant, significant=True))
    else:
        body.append(f"<p>None: no association reaches adjusted p &lt; {_e(report.alpha)}.</p>")
    body.append(f"<h2>Strongest other associations ({_e(NOT_SIGNIFICANT_LABEL)})</h2>")
    if report.not_significant:
        body.append(_association_rows(report.not_significant, significant=False))
    else:
        body.append("<p>(none)</p>")

    body.append("<h2>Daily AI use against delivery</h2>")
    for scope, points in report.daily.items():
        body.append(f"<h3>{_e(repo_label(scope))}</h3>")
        body.append(daily_chart(scope, points))

    body.append("<h2>Adjusted p by lag and metric</h2>")
    legend = "".join(
        f'<span><span class="swatch" style="background:{fill}"></span>{_e(label)}</span>'
        for _, fill, label in HEAT_BANDS
    )
    body.append(
        f'<p class="legend">{legend}<span><span class="swatch" style="background:{NO_VALUE_FILL}"></span>'
        'no test</span></p><p class="meta">Each cell shows the smaller of the two adjusted p-values '
        "(Pearson, Spearman).</p>"
    )
    by_repo: dict[str, list[Association]] = {}
    for a in report.associations:
        by_repo.setdefault(a.repo, []).append(a)
    for scope, items in by_repo.items():
        body.append(f"<h3>{_e(repo_label(scope))}</h3>")
        body.append(heat_map(scope, items))

    effect_lines = _effects_lines(report.effects)
    if effect_lines:
        body.append("<h2>Effect sizes and efficiency</h2><ul>")
        body.extend(f"<li>{_e(line.strip())}</li>" for line in effect_lines)
        body.append("</ul>")
    body.append(f'<p class="method">{_e(report.method)}</p>')
    return _template().substitute(title=_e("ProdLens report"), body="\n".join(body))
