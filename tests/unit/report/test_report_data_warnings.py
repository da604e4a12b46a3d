"""Data warnings on built reports: all-repo gaps, per-repo gaps, stopped sources; quiet weekends and holidays
are not gaps; the block sits right under the verdicts in text, JSON and HTML."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from prodlens.report import build_report, render_html, render_json, render_text
from prodlens.report.gaps import data_warnings

START = date(2026, 3, 2)  # a Monday
END = date(2026, 5, 8)  # a Friday, ten weeks later
REPOS = ("acme/api", "acme/web")
AI_OUTAGE = {date(2026, 3, 18), date(2026, 3, 19), date(2026, 3, 20)}  # Wed..Fri: no AI rows at all
HOLIDAY = date(2026, 3, 30)  # a Monday without any data in either table: the team was off
WEB_AI_HOLE = {date(2026, 4, 6) + timedelta(days=i) for i in range(5)}  # Mon..Fri: acme/web's AI rows missing
WEB_AI_LAST = date(2026, 4, 24)  # acme/web's AI data stops; its commits go on
API_AI_BLIP = date(2026, 4, 14)  # one Tuesday without acme/api AI rows: too short to warn about
SATURDAY_COMMIT = date(2026, 3, 7)  # someone commits on a Saturday, without AI: normal


def _days():
    return [START + timedelta(days=i) for i in range((END - START).days + 1)]


def _sessions():
    rows = []
    for day in _days():
        if day.weekday() >= 5 or day == HOLIDAY or day in AI_OUTAGE:
            continue
        for repo in REPOS:
            if repo == "acme/web" and (day in WEB_AI_HOLE or day > WEB_AI_LAST):
                continue
            if repo == "acme/api" and day == API_AI_BLIP:
                continue
            rows.append({"event_date": day.isoformat(), "repo": repo, "request_count": 40 + day.day})
    return rows


def _github():
    rows = [
        {"event_date": day.isoformat(), "repo": repo, "commit_count": 5 + day.day % 3, "merged_pr_count": 1}
        for day in _days()
        if day.weekday() < 5 and day != HOLIDAY
        for repo in REPOS
    ]
    return [*rows, {"event_date": SATURDAY_COMMIT.isoformat(), "repo": "acme/api", "commit_count": 1}]


CORRELATION = {
    "repo": "acme/api",
    "x_metric": "request_count",
    "y_metric": "commit_count",
    "lag_days": 0,
    "window_start": START,
    "window_end": END,
    "n": 68,
    "pearson_r": 0.1,
    "pearson_p": 0.4,
    "pearson_p_adj": 0.4,
    "spearman_rho": 0.1,
    "spearman_p": 0.4,
    "spearman_p_adj": 0.4,
    "adj_r": 0.05,
    "adj_ci_low": -0.2,
    "adj_ci_high": 0.3,
    "adj_p": 0.6,
    "n_eff": 60.0,
    "adj_p_adj": 0.6,
}


@pytest.fixture(scope="module")
def report():
    return build_report([CORRELATION], _sessions(), _github(), {})


def test_report_warns_about_each_gap_and_the_stopped_source_and_nothing_else(report):
    # Then exactly three warnings, in this order: the all-repo AI outage, acme/web's own hole, acme/web stopping
    assert [w.message for w in report.warnings] == [
        "no AI data on 2026-03-18..2026-03-20 (3 days)",
        "acme/web: no AI data on 2026-04-06..2026-04-10 (5 days)",
        "acme/web: AI data stopped after 2026-04-24 (14 days before the window end) "
        "while its GitHub data continues to 2026-05-08",
    ]
    assert [(w.kind, w.source, w.repo) for w in report.warnings] == [
        ("gap", "AI", None),
        ("repo_gap", "AI", "acme/web"),
        ("stopped", "AI", "acme/web"),
    ]
    assert report.counts["data_warnings"] == 3


def test_quiet_weekends_a_team_holiday_and_a_one_day_blip_are_not_warned_about(report):
    # Weekends (no rows in both tables, or a lone Saturday commit without AI), the holiday and acme/api's one
    # missing Tuesday are not gaps: no warning mentions them
    text = " ".join(w.message for w in report.warnings)
    for day in (date(2026, 3, 7), date(2026, 3, 8), HOLIDAY, API_AI_BLIP):
        assert day.isoformat() not in text


def test_a_weekday_with_ai_use_but_no_commits_is_a_github_gap():
    # Given AI rows on the holiday (so the team worked) but still no GitHub rows
    sessions = [*_sessions(), {"event_date": HOLIDAY.isoformat(), "repo": "acme/api", "request_count": 50}]
    report = build_report([CORRELATION], sessions, _github(), {})
    assert "no GitHub data on 2026-03-30 (1 day)" in [w.message for w in report.warnings]


def test_a_gap_on_a_configured_holiday_is_not_a_gap():
    # Given the AI outage days declared as company holidays
    report = build_report([CORRELATION], _sessions(), _github(), {}, holidays=sorted(AI_OUTAGE))
    # Then the all-repo gap is gone and the per-repo findings stay
    assert [w.kind for w in report.warnings] == ["repo_gap", "stopped"]


def test_report_for_one_repo_reports_its_gaps_as_the_whole(report):
    # When the report is narrowed to acme/web
    web = build_report([CORRELATION], _sessions(), _github(), {}, repo="acme/web")
    # Then its gaps are the report's gaps, the stop reads as a gap to the window end; no per-repo duplicates
    assert [w.message for w in web.warnings] == [
        "no AI data on 2026-03-18..2026-03-20 (3 days)",
        "no AI data on 2026-04-06..2026-04-10 (5 days)",
        "no AI data on 2026-04-27..2026-05-08 (12 days), to the window end",
    ]


def test_github_history_before_the_first_ai_day_says_when_ai_data_starts():
    # Given three weeks of commits before AI use began
    early = [
        {"event_date": (START - timedelta(days=21 - i)).isoformat(), "repo": "acme/api", "commit_count": 3}
        for i in range(21)
        if (START - timedelta(days=21 - i)).weekday() < 5
    ]
    report = build_report([CORRELATION], _sessions(), early + _github(), {})
    # Then the first warning says when the AI data starts, not that three weeks of it are "missing"
    first = report.warnings[0]
    assert (first.kind, first.message) == ("late_start", "AI data starts on 2026-03-02, 21 days after the window start")


def test_window_without_any_ai_data_says_so():
    report = build_report([], [], _github(), {})
    # (Without AI data a weekday without commits cannot be told from a holiday, so the holiday is a GitHub gap too.)
    assert [w.message for w in report.warnings] == [
        "no AI data in the window (2026-03-02..2026-05-08 (68 days))",
        "no GitHub data on 2026-03-30 (1 day)",
    ]


def test_data_warnings_without_a_window_are_empty():
    assert data_warnings([], [], None) == []


def test_text_report_shows_the_warnings_right_under_the_verdicts(report):
    text = render_text(report)
    lines = text.splitlines()
    block = lines.index("Data warnings (they weaken the verdicts above)")
    assert lines[block + 1 : block + 4] == [f"  ! {w.message}" for w in report.warnings]
    # After the verdicts, before the method and the appendix
    assert text.index("Verdicts (") < text.index("Data warnings") < text.index("Method:") < text.index("Appendix")


def test_text_report_without_gaps_says_none():
    # Given complete data: every weekday but the holiday in both tables for both repos
    sessions = [
        {"event_date": d.isoformat(), "repo": r, "request_count": 9}
        for d in _days()
        if d.weekday() < 5 and d != HOLIDAY
        for r in REPOS
    ]
    report = build_report([CORRELATION], sessions, _github(), {})
    assert report.warnings == []
    assert "Data warnings: none: every window day with a working team has AI and GitHub data" in render_text(report)


def test_json_report_carries_the_warnings_after_the_verdicts(report):
    data = json.loads(render_json(report))
    assert list(data)[:2] == ["verdicts", "data_warnings"]
    assert data["data_warnings"][0] == {
        "kind": "gap",
        "source": "AI",
        "repo": None,
        "start": "2026-03-18",
        "end": "2026-03-20",
        "days": 3,
        "working_days": 3,
        "message": "no AI data on 2026-03-18..2026-03-20 (3 days)",
    }
    assert data["data_warnings"][2]["kind"] == "stopped" and data["data_warnings"][2]["repo"] == "acme/web"


def test_html_report_shows_the_warnings_between_the_verdicts_and_the_charts(report):
    html = render_html(report)
    section = html[html.index('<section class="warnings"') : html.index("</section>", html.index('class="warnings"'))]
    assert section.count("<li") == 3
    assert "acme/web: AI data stopped after 2026-04-24" in section
    assert html.index('id="verdicts"') < html.index('id="data-warnings"') < html.index("Adjusted association by repo")


def test_html_report_escapes_a_hostile_repo_in_a_warning():
    # Given a repo name with markup whose AI data stopped
    evil = "<img src=x onerror=alert(1)>/r"
    sessions = [{**r, "repo": evil} for r in _sessions() if r["repo"] == "acme/web"]
    github = [{**r, "repo": evil} for r in _github() if r["repo"] == "acme/web"]
    html = render_html(build_report([], sessions, github, {}))
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;/r: AI data stopped after 2026-04-24" in html
