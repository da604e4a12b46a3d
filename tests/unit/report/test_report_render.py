"""The report: ordering, honest labels, low-sample flags, escaping and a self-contained HTML page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from prodlens.report import build_report, describe, render_html, render_json, render_text
from prodlens.stats.effects import compute_effects

COMPUTED_AT = datetime(2026, 4, 1, tzinfo=UTC)
EVIL = "<script>alert('x')</script>/repo"


def _row(repo, x, y, lag, n, r, rho, p_adj, s_adj, **extra):
    row = {
        "repo": repo,
        "x_metric": x,
        "y_metric": y,
        "lag_days": lag,
        "window_start": date(2026, 3, 1),
        "window_end": date(2026, 3, 30),
        "n": n,
        "pearson_r": r,
        "pearson_p": p_adj,
        "pearson_ci_low": None,
        "pearson_ci_high": None,
        "spearman_rho": rho,
        "spearman_p": s_adj,
        "pearson_p_adj": p_adj,
        "spearman_p_adj": s_adj,
        "low_sample": n < 6,
        "input_version": "abc",
        "computed_at": COMPUTED_AT,
    }
    row.update(extra)
    return row


CORRELATIONS = [
    _row("acme/api", "request_count", "commit_count", 0, 30, 0.21, 0.18, 0.40, 0.51),
    _row(
        "acme/api",
        "request_count",
        "commit_count",
        1,
        29,
        0.62,
        0.58,
        0.004,
        0.010,
        pearson_ci_low=0.33,
        pearson_ci_high=0.80,
    ),
    _row("acme/api", "cost_usd", "merged_pr_count", 0, 30, -0.55, -0.50, 0.03, 0.07),
    _row("acme/web", "request_count", "commit_count", 2, 5, 0.93, 0.90, 0.20, 0.30),
    _row("acme/web", "session_count", "merged_pr_count", 0, 5, 0.97, 1.0, 0.049, 0.04),
    _row("acme/web", "total_tokens", "commit_count", 3, 27, 0.02, 0.05, 0.95, 0.97),
    _row("*", "accepted_count", "commit_count", 0, 30, 0.10, 0.12, None, None),
    _row(EVIL, "request_count", "commit_count", 0, 12, 0.71, 0.69, 0.01, 0.02),
]
SESSIONS = [
    {"event_date": date(2026, 3, 1) + timedelta(i), "repo": repo, "request_count": 10 + i % 7, "cost_usd": 1.25}
    for i in range(30)
    for repo in ("acme/api", "acme/web", EVIL)
]
GITHUB = [
    {"event_date": date(2026, 3, 1) + timedelta(i), "repo": repo, "commit_count": i % 4, "merged_pr_count": i % 2}
    for i in range(30)
    for repo in ("acme/api", "acme/web", EVIL)
]
TRACES = [
    {
        "model": "claude",
        "accepted_flag": i % 3 == 0,
        "latency_ms": 100.0 + i,
        "total_tokens": 900 + 10 * i,
        "accepted_lines": i % 5,
    }
    for i in range(30)
]


@pytest.fixture
def report():
    return build_report(CORRELATIONS, SESSIONS, GITHUB, compute_effects(TRACES, SESSIONS, GITHUB))


def _lines_for(text: str, repo: str, lag: int, x: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip().startswith(f"{repo}: {x} ->") and f"lag {lag}d" in line]


def test_describe_reads_as_plain_sentences():
    assert describe("acme/api", "request_count", "commit_count", 1, True) == (
        "on days after more AI requests, acme/api gets more commits"
    )
    assert describe("acme/api", "request_count", "commit_count", 0, True) == (
        "on days with more AI requests, acme/api gets more commits"
    )
    assert describe("acme/api", "cost_usd", "merged_pr_count", 0, False) == (
        "on days with more AI spend, acme/api gets fewer merged PRs"
    )
    assert describe("*", "request_count", "commit_count", 3, True).startswith("3 days after days with more AI requests")


def test_render_text_lists_significant_rows_first_with_sentence_and_adjusted_p(report):
    # When
    text = render_text(report)

    # Then the significant section comes before the rest and holds every row with an adjusted p < 0.05
    sig_at = text.index("Significant associations")
    rest_at = text.index("not significant after Benjamini–Hochberg correction")
    assert sig_at < rest_at
    significant_block = text[sig_at:rest_at]
    assert "on days after more AI requests, acme/api gets more commits" in significant_block
    assert "on days with more AI spend, acme/api gets fewer merged PRs" in significant_block
    assert "acme/api: request_count -> commit_count, lag 1d, n=29" in significant_block
    assert "Pearson 0.004, Spearman 0.010" in significant_block
    assert significant_block.index("lag 1d, n=29") < significant_block.index("cost_usd -> merged_pr_count")
    assert "Window: 2026-03-01 .. 2026-03-30 (30 days)" in text
    assert "90 daily AI-usage rows, 90 daily GitHub rows, 3 repos" in text


def test_render_text_never_calls_rows_significant_without_adjusted_p_below_alpha(report):
    text = render_text(report)
    for row in CORRELATIONS:
        adjusted = [p for p in (row["pearson_p_adj"], row["spearman_p_adj"]) if p is not None]
        for line in _lines_for(text, row["repo"], row["lag_days"], row["x_metric"]):
            if not adjusted or min(adjusted) >= 0.05:
                assert "significant" not in line.replace("not significant", ""), line
            else:
                assert "adjusted p:" in line
    # and the not-significant rows carry the honest label
    for line in _lines_for(text, "acme/api", 0, "request_count"):
        assert line.endswith("not significant after Benjamini–Hochberg correction")


def test_render_text_flags_low_samples(report):
    text = render_text(report)
    (line,) = _lines_for(text, "acme/web", 0, "session_count")
    assert "(low sample, n=5)" in line
    (line,) = _lines_for(text, "acme/web", 2, "request_count")
    assert "(low sample, n=5)" in line and "not significant after" in line


def test_render_text_reports_effect_sizes_with_n_and_the_method(report):
    text = render_text(report)
    assert re.search(
        r"Cohen's d, accepted vs not-accepted requests, latency_ms: d=[+-]\d\.\d\d \(n=30: 10 accepted, 20", text
    )
    assert "Acceptance rate, claude: 33.3% (10/30 decided, n=30)" in text
    assert "Cost per merged PR, acme/api: $2.50 ($37.50 / 15 merged, n=15)" in text
    assert text.rstrip().splitlines()[-1].startswith("Method:")


def test_build_report_filters_by_repo_and_dates():
    rep = build_report(CORRELATIONS, SESSIONS, GITHUB, {}, since="2026-03-10", until=date(2026, 3, 19), repo="acme/web")
    assert {a.repo for a in rep.associations} == {"acme/web"}
    assert (rep.window_start, rep.window_end) == (date(2026, 3, 10), date(2026, 3, 19))
    assert rep.counts["session_daily_rows"] == 10 and rep.counts["repos"] == 1
    assert list(rep.daily) == ["acme/web"]
    assert "Filter: dates 2026-03-10 .. 2026-03-19, repo acme/web" in render_text(rep)


def test_render_json_round_trips(report):
    data = json.loads(render_json(report))
    assert data["counts"]["significant"] == len(report.significant) == 4
    assert data["significant"][0]["repo"] == "acme/api" and data["significant"][0]["best_p_adj"] == 0.004
    assert data["window_start"] == "2026-03-01"
    assert data["daily"]["*"][0] == {
        "day": "2026-03-01",
        "request_count": 30.0,
        "commit_count": 0.0,
        "merged_pr_count": 0.0,
    }


class _Checker(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_render_html_is_well_formed_self_contained_and_escaped(report):
    # When
    page = render_html(report)
    checker = _Checker()
    checker.feed(page)
    checker.close()

    # Then tags balance, nothing is loaded from elsewhere and the hostile repo name is inert
    assert checker.errors == [] and checker.stack == []
    assert checker.scripts == 0
    assert not re.search(r"https?://", page)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;/repo" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page and 'rel="stylesheet"' not in page


def test_render_html_has_daily_charts_and_heat_maps(report):
    page = render_html(report)
    assert page.count("Daily AI requests, commits and merged PRs:") >= 2 * 4  # title + aria-label, pooled + 3 repos
    assert "Daily AI requests, commits and merged PRs: all repos (pooled)" in page
    assert page.count("Adjusted p by lag and metric pair:") == 2 * 4
    assert "on days after more AI requests, acme/api gets more commits" in page
    assert "(low sample, n=5)" in page
