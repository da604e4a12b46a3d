"""cohort_weekly from daily_developer_metrics and pull_requests: thresholds, people, teams, and the report's view."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from prodlens.people import parse_people
from prodlens.report import build_report, render_html, render_text
from prodlens.report.cohorts import COHORTS_CAVEAT, COHORTS_TITLE
from prodlens.schema import COHORT_WEEKLY
from prodlens.stats.cohorts import cohort, cohort_weekly

MONDAY = date(2026, 3, 2)
PEOPLE = parse_people(b'[{"person": "ana", "team": "core", "github_logins": ["ana-gh"]},'
                      b' {"person": "ben", "team": "core"}, {"person": "cy", "team": "web"}]')  # fmt: skip


def _day(person: str, team: str, d: int, ai: bool, prs: int = 0, lines: int = 0) -> dict:
    return {"event_date": MONDAY + timedelta(days=d), "person": person, "team": team, "requests": 3 if ai else 0,
            "sessions": 0, "ai_accepted_lines": lines, "prs_merged": prs}  # fmt: skip


def _pr(author: str, opened_h: float, merged_day: int, reopened: int = 0) -> dict:
    merged = datetime(2026, 3, 2, 12) + timedelta(days=merged_day)
    return {"author": author, "created_at": merged - timedelta(hours=opened_h), "merged_at": merged,
            "reopened_count": reopened}  # fmt: skip


@pytest.mark.parametrize(("days", "name"), [(0, "none"), (1, "light"), (2, "light"), (3, "moderate"),
                                            (4, "moderate"), (5, "heavy"), (7, "heavy")])  # fmt: skip
def test_thresholds_on_ai_active_days(days, name):
    assert cohort(days) == name


def test_each_week_groups_people_by_ai_days_per_team_and_all_teams():
    # ana: 5 AI days (heavy), ben: 1 (light), cy: none; ana's PRs are authored as ana-gh (people.json maps it)
    developer = [_day("ana", "core", d, True, prs=1, lines=40) for d in range(5)]
    developer += [_day("ben", "core", 0, True, prs=1), _day("ben", "core", 1, False)]
    developer += [_day("cy", "web", d, False, prs=1) for d in range(2)]
    pulls = [_pr("ANA-gh", 10, 0), _pr("ana-gh", 30, 1, reopened=1), _pr("ana-gh", 20, 9), _pr("cy", 4, 2)]
    rows = cohort_weekly(developer, pulls, PEOPLE)
    by_key = {(r["week"], r["team"], r["cohort"]): r for r in rows}
    heavy = by_key[(MONDAY, "core", "heavy")]
    assert (heavy["developers"], heavy["prs_merged_per_developer"], heavy["ai_accepted_lines_per_developer"]) == (
        1,
        5,
        200,
    )
    # Only the PRs merged that week: 10 h and 30 h, one of the two reopened
    assert (heavy["median_merge_hours"], heavy["reopen_rate"]) == (20.0, 0.5)
    assert (
        by_key[(MONDAY, "core", "light")]["developers"] == 1
        and by_key[(MONDAY, "core", "light")]["reopen_rate"] is None
    )
    assert by_key[(MONDAY, "web", "none")]["median_merge_hours"] == 4.0
    # The `*` rows hold every team; rows carry exactly the table's columns
    assert {(t, c): r["developers"] for (w, t, c), r in by_key.items() if t == "*"} == {
        ("*", "none"): 1, ("*", "light"): 1, ("*", "heavy"): 1}  # fmt: skip
    assert all(set(r) == {name for name, _ in COHORT_WEEKLY.columns} for r in rows)


def test_the_report_summarises_every_team_per_cohort_and_says_cohorts_are_self_selected():
    # ana: heavy for six weeks, merging 1 PR a day in the first week and 2 a day in the last
    developer = [_day("ana", "core", 7 * w + d, True, prs=1 if w < 5 else 2) for w in range(6) for d in range(5)]
    developer += [_day("cy", "web", 0, False, prs=2)]
    rows = cohort_weekly(developer, [], PEOPLE)
    text = render_text(build_report([], [], [], {}, cohorts=rows))
    section = text[text.index(COHORTS_TITLE) :].splitlines()
    # cohort, weeks, developer-weeks, PRs per developer-week over the window, over its last 4 weeks
    assert section[2].split()[:5] == ["none", "1", "1", "2.00", "-"]
    assert section[3].split()[:5] == ["heavy", "6", "6", "5.83", "6.25"]
    assert COHORTS_CAVEAT in text
    assert 'id="cohorts"' in render_html(build_report([], [], [], {}, cohorts=rows))
