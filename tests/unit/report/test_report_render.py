"""The report: verdicts first (adjusted association), raw correlations in an appendix, escaping, self-contained HTML."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from prodlens.report import build_report, describe, render_html, render_json, render_text
from prodlens.report.model import (
    APPENDIX_TITLE,
    LINK,
    NO_EVIDENCE,
    TOO_LITTLE_DATA,
    Association,
    disagreement_note,
    judge,
    strongest_adjusted,
)
from prodlens.stats.correlate import daily_scopes
from prodlens.stats.effects import compute_effects

COMPUTED_AT = datetime(2026, 4, 1, tzinfo=UTC)
EVIL = "<script>alert('x')</script>/repo"
START = date(2026, 3, 2)  # a Monday
DAYS = 98  # 14 weeks
END = START + timedelta(DAYS - 1)


def _row(repo, pair, lag, n, raw, adj=None, **extra):
    """A correlations row of `pair` (x, y); `raw` = (r, rho, pearson_p_adj, spearman_p_adj); `adj` = (adj_r,
    ci_low, ci_high, adj_p, n_eff, adj_p_adj) or None (adjusted null)."""
    x, y = pair
    r, rho, p_adj, s_adj = raw
    adj_r, adj_lo, adj_hi, adj_p, n_eff, adj_p_adj = adj or (None,) * 6
    row = {
        "repo": repo,
        "x_metric": x,
        "y_metric": y,
        "lag_days": lag,
        "window_start": START,
        "window_end": END,
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
        "adj_r": adj_r,
        "adj_ci_low": adj_lo,
        "adj_ci_high": adj_hi,
        "adj_p": adj_p,
        "n_eff": n_eff,
        "adj_p_adj": adj_p_adj,
        "input_version": "abc",
        "computed_at": COMPUTED_AT,
    }
    row.update(extra)
    return row


RC = ("request_count", "commit_count")
CORRELATIONS = [
    # acme/api: a real lagged link (adjusted), and raw flags too
    _row("acme/api", RC, 0, 98, (0.21, 0.18, 0.40, 0.51), (0.05, -0.15, 0.25, 0.6, 95.0, 0.7)),
    _row(
        "acme/api",
        RC,
        1,
        97,
        (0.62, 0.58, 0.004, 0.010),
        (0.41, 0.22, 0.57, 0.0001, 98.4, 0.001),
        pearson_ci_low=0.33,
        pearson_ci_high=0.80,
    ),
    _row("acme/api", RC, 2, 96, (0.30, 0.25, 0.2, 0.3), (0.10, -0.1, 0.3, 0.3, 96.0, 0.4)),
    _row(
        "acme/api",
        ("cost_usd", "merged_pr_count"),
        0,
        98,
        (-0.55, -0.50, 0.03, 0.07),
        (-0.1, -0.3, 0.1, 0.3, 90.0, 0.4),
    ),
    # acme/web: raw flags at lag 0 (the weekly rhythm), nothing after adjustment; a low-sample raw row
    _row("acme/web", RC, 0, 98, (0.60, 0.55, 0.001, 0.002), (0.08, -0.12, 0.27, 0.4, 90.0, 0.6)),
    _row("acme/web", RC, 2, 5, (0.93, 0.90, 0.20, 0.30), (0.02, -0.18, 0.22, 0.8, 88.0, 0.9)),
    _row("acme/web", ("session_count", "merged_pr_count"), 0, 5, (0.97, 1.0, 0.049, 0.04)),
    _row(
        "acme/web",
        ("total_tokens", "commit_count"),
        3,
        27,
        (0.02, 0.05, 0.95, 0.97),
        (0.01, -0.2, 0.2, 0.9, 80.0, 0.95),
    ),
    # all repos pooled: no adjusted values at all
    _row("*", ("accepted_count", "commit_count"), 0, 98, (0.10, 0.12, None, None)),
    # a hostile repo name: raw flag, adjusted nothing
    _row(EVIL, RC, 0, 98, (0.71, 0.69, 0.01, 0.02), (0.05, -0.15, 0.25, 0.6, 85.0, 0.8)),
    # acme/new: only 42 days of overlap (its daily rows start late)
    _row("acme/new", RC, 1, 41, (0.5, 0.5, 0.01, 0.01), (0.5, 0.2, 0.7, 0.001, 40.0, 0.004)),
    # acme/slow: plenty of days but strongly autocorrelated: n_eff at most 24
    _row("acme/slow", RC, 1, 97, (0.5, 0.5, 0.3, 0.3), (0.6, 0.3, 0.8, 0.001, 24.0, 0.008)),
    _row("acme/slow", RC, 2, 96, (0.2, 0.2, 0.5, 0.5), (0.1, -0.3, 0.5, 0.6, 22.0, 0.6)),
]
REPOS = ("acme/api", "acme/web", EVIL, "acme/slow")


def _weekday(i: int) -> bool:
    return (START + timedelta(i)).weekday() < 5


SESSIONS = [
    {"event_date": START + timedelta(i), "repo": repo, "request_count": 10 + i % 7, "cost_usd": 1.25}
    for i in range(DAYS)
    for repo in REPOS
] + [{"event_date": START + timedelta(i), "repo": "acme/new", "request_count": 5} for i in range(56, DAYS)]
GITHUB = [
    {"event_date": START + timedelta(i), "repo": repo, "commit_count": i % 4, "merged_pr_count": i % 2}
    for i in range(DAYS)
    for repo in REPOS
] + [{"event_date": START + timedelta(i), "repo": "acme/new", "commit_count": 2} for i in range(40, DAYS)]
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


@pytest.fixture(scope="module")
def report():
    return build_report(CORRELATIONS, SESSIONS, GITHUB, compute_effects(TRACES, SESSIONS, GITHUB))


def _verdict(report, repo):
    (v,) = [v for v in report.verdicts if v.repo == repo]
    return v


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


# --- verdict rules ---------------------------------------------------------------------------------------------


def test_link_verdict_names_the_strongest_adjusted_row_in_a_plain_sentence(report):
    v = _verdict(report, "acme/api")
    assert v.verdict == LINK
    assert v.sentence == (
        "acme/api: evidence of a link — on days after more AI requests, acme/api gets more commits "
        "(adjusted r = +0.41 [0.22, 0.57], lag 1 day, 98 effective days; adjusted p = 0.001 after Benjamini–Hochberg)"
    )
    assert (v.x_metric, v.y_metric, v.lag_days, v.adj_r, v.n_eff, v.adj_p_adj) == (*RC, 1, 0.41, 98.4, 0.001)
    assert v.overlap_days == DAYS
    assert v.note is None  # the raw columns flag acme/api too: they agree


def test_no_evidence_when_adjusted_rows_exist_but_none_reaches_alpha(report):
    v = _verdict(report, "acme/web")
    assert v.verdict == NO_EVIDENCE
    assert v.sentence.startswith("acme/web: no evidence after adjusting for the weekly rhythm and trends (strongest:")
    assert v.adj_p_adj == 0.6 and v.lag_days == 0
    # raw flags lag 0 -> the weekly rhythm
    assert v.note == "the raw r = +0.60 at lag 0 is the weekly rhythm: it pairs the same weekdays"


def test_too_little_data_by_overlap_counts_the_days_both_tables_cover(report):
    v = _verdict(report, "acme/new")
    assert v.verdict == TOO_LITTLE_DATA
    assert v.overlap_days == 42  # sessions from day 56, GitHub from day 40: the later first day wins
    assert v.sentence == ("acme/new: too little data: 42 days of overlapping AI-use and delivery data (8 weeks needed)")


def test_too_little_data_by_effective_days_even_with_a_small_adjusted_p(report):
    v = _verdict(report, "acme/slow")
    assert v.verdict == TOO_LITTLE_DATA
    assert "at most 24 effective independent days (30 needed" in v.sentence
    assert v.adj_p_adj == 0.008  # the strongest row is still reported


def test_too_little_data_when_every_adjusted_value_is_null(report):
    v = _verdict(report, "*")
    assert v.verdict == TOO_LITTLE_DATA and v.label == "all repos (pooled)"
    assert v.sentence.startswith("all repos (pooled): too little data: no adjusted association could be computed")
    assert v.adj_r is None and v.x_metric is None


def test_verdicts_cover_every_scope_pooled_first(report):
    assert [v.repo for v in report.verdicts] == ["*", EVIL, "acme/api", "acme/new", "acme/slow", "acme/web"]


def test_overlap_falls_back_to_the_row_window_without_daily_rows():
    rep = build_report([r for r in CORRELATIONS if r["repo"] == "acme/api"], [], [], {})
    v = _verdict(rep, "acme/api")
    assert v.overlap_days == DAYS and v.verdict == LINK
    assert rep.charts["acme/api"].series is None


def test_strongest_adjusted_row_smallest_p_then_largest_abs_r():
    def assoc(lag, r, p_adj):
        return Association.from_row(
            _row("r", RC, lag, 90, (0.1, 0.1, 0.5, 0.5), None if r is None else (r, r - 0.2, r + 0.2, p_adj, 90, p_adj))
        )

    items = [assoc(0, 0.3, 0.02), assoc(1, -0.5, 0.02), assoc(2, 0.9, 0.03), assoc(3, None, None)]
    assert strongest_adjusted(items).lag_days == 1
    assert strongest_adjusted([assoc(3, None, None)]) is None


# --- raw vs adjusted notes -------------------------------------------------------------------------------------


def _daily(x_of, y_of, days=DAYS):
    sessions = [{"event_date": START + timedelta(i), "repo": "r", "request_count": x_of(i)} for i in range(days)]
    github = [{"event_date": START + timedelta(i), "repo": "r", "commit_count": y_of(i)} for i in range(days)]
    _pooled, scope = daily_scopes(sessions, github, ("request_count",), ("commit_count",))
    return scope


def _note(raw_lag, x_of, y_of, verdict=NO_EVIDENCE, raw_p=0.001):
    items = [
        Association.from_row(_row("r", RC, raw_lag, 90, (0.6, 0.5, raw_p, raw_p), (0.05, -0.1, 0.2, 0.5, 90, 0.6)))
    ]
    return disagreement_note(verdict, items, _daily(x_of, y_of), (START, END))


def test_note_blames_weekends_when_both_series_drop_on_weekends():
    note = _note(2, lambda i: 20 if _weekday(i) else 2, lambda i: 8 if _weekday(i) else 1)
    assert note == "the raw r = +0.60 at lag 2 is the weekly rhythm: both drop on weekends"


def test_note_blames_the_weekly_rhythm_for_a_lag_of_seven():
    assert "lag 7 is the weekly rhythm" in _note(7, lambda i: 10 + i % 3, lambda i: 5 + i % 2)


def test_note_blames_shared_growth_when_both_trend_the_same_way():
    note = _note(2, lambda i: 10 + i, lambda i: 3 + i / 5)
    assert note == (
        "the raw r = +0.60 at lag 2 is a shared trend: both grow over the window (AI adoption and team growth), "
        "which the adjustment removes"
    )
    assert "both shrink" in _note(3, lambda i: 200 - i, lambda i: 100 - i)


def test_note_is_generic_when_neither_rhythm_nor_trend_explains_it():
    note = _note(3, lambda i: 10 + i % 3, lambda i: 5 + (i * 7) % 3)
    assert note == (
        "the raw r = +0.60 at lag 3 does not survive removing the calendar and the autocorrelation of daily counts"
    )


def test_note_when_adjusted_finds_a_link_the_raw_columns_miss():
    assert _note(1, lambda i: 10, lambda i: 5, verdict=LINK, raw_p=0.4) == (
        "the raw correlation misses it because the weekly rhythm hides day-to-day variation"
    )
    assert _note(1, lambda i: 10, lambda i: 5, verdict=LINK, raw_p=0.001) is None
    assert _note(1, lambda i: 10, lambda i: 5, verdict=NO_EVIDENCE, raw_p=0.4) is None


def test_judge_without_daily_index_still_explains_a_lag_zero_raw_flag():
    items = [Association.from_row(_row("r", RC, 0, 90, (0.6, 0.5, 0.001, 0.001), (0.05, -0.1, 0.2, 0.5, 90, 0.6)))]
    v = judge("r", items, 90)
    assert v.verdict == NO_EVIDENCE and "is the weekly rhythm" in v.note


# --- text ------------------------------------------------------------------------------------------------------


def test_render_text_opens_with_verdicts_and_puts_raw_rows_in_the_appendix(report):
    text = render_text(report)
    verdicts_at = text.index("Verdicts (adjusted")
    appendix_at = text.index(APPENDIX_TITLE)
    assert verdicts_at < text.index("Method:") < appendix_at
    head = text[verdicts_at:appendix_at]
    assert "[LINK] acme/api: evidence of a link — on days after more AI requests, acme/api gets more commits" in head
    assert "raw vs adjusted: the raw r = +0.60 at lag 0 is the weekly rhythm" in head
    assert "[TOO LITTLE DATA] acme/new: too little data: 42 days" in head
    # no raw row line above the appendix
    assert not re.search(r"request_count -> commit_count, lag \dd", head)
    appendix = text[appendix_at:]
    assert "acme/api: request_count -> commit_count, lag 1d, n=97" in appendix
    assert "Pearson 0.004, Spearman 0.010" in appendix
    assert "-> descriptive: on days after more AI requests, acme/api gets more commits" in appendix
    assert "Window: 2026-03-02 .. 2026-06-07 (98 days)" in text


def test_render_text_never_calls_raw_rows_significant_without_adjusted_p_below_alpha(report):
    text = render_text(report)
    for row in CORRELATIONS:
        adjusted = [p for p in (row["pearson_p_adj"], row["spearman_p_adj"]) if p is not None]
        for line in _lines_for(text, row["repo"], row["lag_days"], row["x_metric"]):
            if not adjusted or min(adjusted) >= 0.05:
                assert "significant" not in line.replace("not significant", ""), line
            else:
                assert "adjusted p:" in line
    for line in _lines_for(text, "acme/api", 0, "request_count"):
        assert line.endswith("not significant after Benjamini–Hochberg correction")


def test_render_text_flags_low_samples(report):
    text = render_text(report)
    (line,) = _lines_for(text, "acme/web", 0, "session_count")
    assert "(low sample, n=5)" in line
    (line,) = _lines_for(text, "acme/web", 2, "request_count")
    assert "(low sample, n=5)" in line and "not significant after" in line


def test_render_text_reports_effect_sizes_with_n_and_the_adjusted_method(report):
    text = render_text(report)
    assert re.search(
        r"Cohen's d, accepted vs not-accepted requests, latency_ms: d=[+-]\d\.\d\d \(n=30: 10 accepted, 20", text
    )
    assert "Acceptance rate, claude: 33.3% (10/30 decided, n=30)" in text
    (method,) = [line for line in text.splitlines() if line.startswith("Method:")]
    for phrase in ("log(1+x)", "day of week", "non-working days", "calendar week", "AR(1)", "Benjamini–Hochberg"):
        assert phrase in method
    assert text.index("Effect sizes and efficiency") < text.index(APPENDIX_TITLE)


def test_build_report_filters_by_repo_and_dates():
    rep = build_report(CORRELATIONS, SESSIONS, GITHUB, {}, since="2026-03-10", until=date(2026, 3, 19), repo="acme/web")
    assert {a.repo for a in rep.associations} == {"acme/web"}
    assert [v.repo for v in rep.verdicts] == ["acme/web"]
    assert _verdict(rep, "acme/web").overlap_days == DAYS  # the verdict is about the rows' window, not the filter
    assert (rep.window_start, rep.window_end) == (date(2026, 3, 10), date(2026, 3, 19))
    assert rep.counts["session_daily_rows"] == 10 and rep.counts["repos"] == 1
    assert list(rep.daily) == ["acme/web"]
    assert "Filter: dates 2026-03-10 .. 2026-03-19, repo acme/web" in render_text(rep)


# --- JSON ------------------------------------------------------------------------------------------------------


def test_render_json_puts_verdicts_first_and_raw_rows_under_unadjusted(report):
    data = json.loads(render_json(report))
    assert list(data)[0] == "verdicts"
    assert list(data).index("verdicts") < list(data).index("unadjusted_associations")
    (api,) = [v for v in data["verdicts"] if v["repo"] == "acme/api"]
    assert api["verdict"] == "link" and api["sentence"].startswith("acme/api: evidence of a link — ")
    for key in (
        "x_metric",
        "y_metric",
        "lag_days",
        "adj_r",
        "adj_ci_low",
        "adj_ci_high",
        "adj_p",
        "adj_p_adj",
        "n_eff",
    ):
        assert key in api
    assert (api["lag_days"], api["adj_ci_low"], api["adj_ci_high"], api["overlap_days"]) == (1, 0.22, 0.57, DAYS)
    assert api["note"] is None
    assert {v["verdict"] for v in data["verdicts"]} == {"link", "no_evidence", "too_little_data"}
    raw = data["unadjusted_associations"]
    assert raw["appendix"] == "unadjusted" and raw["title"] == APPENDIX_TITLE
    assert raw["significant"][0]["repo"] == "acme/web" and raw["significant"][0]["best_p_adj"] == 0.001
    assert data["counts"]["significant"] == len(report.significant)
    every = data["associations"][1]
    assert (every["adj_r"], every["n_eff"], every["adj_p_adj"], every["pearson_r"]) == (0.41, 98.4, 0.001, 0.62)
    assert data["window_start"] == "2026-03-02"
    assert data["daily"]["*"][0] == {"day": "2026-03-02", "request_count": 40.0, "commit_count": 0.0,
                                     "merged_pr_count": 0.0}  # fmt: skip
    chart = data["charts"]["acme/api"]
    assert (chart["x_metric"], chart["y_metric"], chart["lag_days"]) == (*RC, 1)
    assert [p["lag_days"] for p in chart["profile"]] == [0, 1, 2]
    assert chart["series"]["start"] == "2026-03-02" and len(chart["series"]["x"]) == DAYS


# --- HTML ------------------------------------------------------------------------------------------------------


class _Checker(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.refs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [value for name, value in attrs if name in ("src", "href", "xlink:href", "srcset", "action")]
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.refs += [value for name, value in attrs if name in ("src", "href", "xlink:href")]
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_render_html_is_well_formed_self_contained_and_escaped(report):
    page = render_html(report)
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert checker.scripts == 0 and checker.refs == []
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(|@font-face", page, re.IGNORECASE)
    assert not re.search(r"\son[a-z]+=", page)  # no event handlers
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;/repo" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page and 'rel="stylesheet"' not in page


def test_render_html_escapes_a_hostile_metric_name():
    rows = [
        _row("acme/api", ("<b>x</b>", "y\"'&"), 1, 97, (0.6, 0.6, 0.001, 0.001), (0.4, 0.2, 0.6, 0.0001, 98, 0.001))
    ]
    page = render_html(build_report(rows, SESSIONS, GITHUB, {}))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "y\"'&" not in page


def test_render_html_verdicts_come_first_then_charts_then_the_appendix(report):
    page = render_html(report)
    verdicts_at = page.index('<section class="verdicts">')
    assert verdicts_at < page.index('class="lag-profile"') < page.index('class="adjusted-series"')
    assert page.index('class="adjusted-series"') < page.index(APPENDIX_TITLE)
    assert page.index(APPENDIX_TITLE) < page.index("Raw p after Benjamini–Hochberg by lag and metric pair:")
    assert page.index(APPENDIX_TITLE) < page.index("descriptive: on days after more AI requests")
    assert page.count('class="verdict v-link"') == 1
    assert page.count('class="verdict v-none"') == 2
    assert page.count('class="verdict v-little"') == 3
    assert "Raw vs adjusted: the raw r = +0.60 at lag 0 is the weekly rhythm" in page


def test_render_html_lag_profile_has_ci_bars_zero_line_and_a_marker_on_the_significant_lag(report):
    page = render_html(report)
    start = page.index('aria-label="Adjusted r by lag, AI requests → commits: acme/api"')
    svg = page[start : page.index("</svg>", start)]
    assert svg.count('class="ci-bar"') == 3 and svg.count('class="r-point"') == 3
    assert svg.count('class="sig-marker"') == 1 and 'class="zero"' in svg
    assert "lag 1: adjusted r +0.41 [0.22, 0.57]" in svg
    # the pooled scope has no adjusted values: the default pair, no bars, no series
    pooled = page[page.index("Adjusted r by lag, AI requests → commits: all repos (pooled)") :]
    pooled = pooled[: pooled.index("</svg>")]
    assert "ci-bar" not in pooled


def test_render_html_draws_the_adjusted_series_lagged(report):
    page = render_html(report)
    assert "Calendar-adjusted daily AI requests and commits: acme/api" in page
    assert "commits drawn 1 day earlier (lag 1)" in page
    assert page.count('class="series-x"') == page.count('class="series-y"') >= 5
