"""The report's team view: daily_developer_metrics summed per team, one team's people, NULL kept as unmeasured."""

from __future__ import annotations

import json

from prodlens.report import build_report, render_html, render_json, render_text
from prodlens.report.teams import UNASSIGNED, team_view


def _row(day: str, person: str, team: str | None, **values) -> dict:
    base = {"requests": 0, "sessions": None, "ai_accepted_lines": None, "cost_usd": None, "tools": [],
            "commits_authored": 0, "prs_merged": 0, "prs_opened": 0}  # fmt: skip
    return {"event_date": day, "person": person, "team": team, **base, **values}


ROWS = [
    _row("2026-05-04", "alice", "platform", requests=3, ai_accepted_lines=10, cost_usd=1.5, tools=["copilot"]),
    _row("2026-05-05", "alice", "platform", commits_authored=2),  # delivered, no AI that day
    _row("2026-05-04", "bob", "platform", ai_accepted_lines=5, tools=["cursor"], prs_merged=1),
    _row("2026-05-04", "carol", "product", requests=7, cost_usd=2.0, tools=["claude_code"]),
    _row("2026-05-04", "zoe@else.dev", None, requests=1, tools=["litellm"]),
]


def test_teams_sum_their_people_and_keep_unmeasured_figures_unmeasured():
    view = team_view(ROWS)
    teams = {t["name"]: t for t in view.teams}
    assert [t["name"] for t in view.teams] == ["platform", "product", UNASSIGNED]
    platform = teams["platform"]
    assert (platform["people"], platform["person_days"], platform["ai_active_days"]) == (2, 3, 2)
    assert (platform["requests"], platform["ai_accepted_lines"], platform["cost_usd"]) == (3, 15, 1.5)
    assert (platform["commits_authored"], platform["prs_merged"], platform["tools"]) == (2, 1, ["copilot", "cursor"])
    assert teams["product"]["ai_accepted_lines"] is None  # nobody measured it: not 0
    assert view.people == []


def test_one_team_is_shown_person_by_person():
    view = team_view(ROWS, team="platform")
    assert [t["name"] for t in view.teams] == ["platform"]
    assert [(p["name"], p["requests"], p["commits_authored"]) for p in view.people] == [("alice", 3, 2), ("bob", 0, 0)]


def test_report_shows_the_team_view_with_its_caveat_in_every_format():
    report = build_report([], [], [], {}, developer_daily=ROWS, since="2026-05-04", until="2026-05-04")
    text = render_text(report)
    assert "Teams (config/people.json)" in text and "not an effect of AI" in text
    platform_line = next(line for line in text.splitlines() if line.strip().startswith("platform"))
    assert platform_line.split()[:4] == ["platform", "2", "2", "3"]  # the 05-05 commits are outside the dates
    data = json.loads(render_json(report))
    assert {t["name"] for t in data["teams"]["teams"]} == {"platform", "product", UNASSIGNED}
    html = render_html(report)
    assert 'id="teams"' in html and "<td>platform</td>" in html


def test_without_teams_the_view_appears_only_when_asked_for():
    unmapped = [_row("2026-05-04", "zoe@else.dev", None, requests=1, tools=["litellm"])]
    assert build_report([], [], [], {}, developer_daily=unmapped).teams is None
    asked = build_report([], [], [], {}, developer_daily=unmapped, by_team=True).teams
    assert asked is not None and [t["name"] for t in asked.teams] == [UNASSIGNED]
