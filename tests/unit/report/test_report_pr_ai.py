"""The report's AI-assisted pull request section (prodlens.report.pr_ai): table, findings, caveat, in every format."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from prodlens.report import build_report, render_html
from prodlens.report.pr_ai import PR_AI_CAVEAT, PR_AI_TITLE
from prodlens.report.text import render_json, render_text

T0 = datetime(2026, 10, 1, 9)


def rows() -> list[dict]:
    out = []
    for repo in ("acme/api", "acme/web"):
        for n in range(24):
            ai = n % 2 == 0
            hours = (2.0 if ai else 20.0) * (1 + n / 10) if repo == "acme/api" else 10.0 + n
            merged = T0 + timedelta(days=n, hours=hours)
            out.append(
                {
                    "repo": repo,
                    "number": n,
                    "ai_assisted": ai,
                    "evidence": ["co_author_trailer"] if ai else [],
                    "merged": True,
                    "merged_at": merged,
                    "merge_hours": hours,
                    "reopened": n % 7 == 0,
                }  # fmt: skip
            )
    return out


def test_the_section_shows_every_unit_the_findings_and_the_caveat_in_text_json_and_html():
    report = build_report([], [], [], {}, pull_request_ai=rows())
    text = render_text(report)
    section = text[text.index(PR_AI_TITLE) :]
    assert "acme/api: AI-assisted PRs merged faster" in section
    assert "acme/web: AI-assisted PRs merged" not in section  # same merge times on both sides there
    assert "Evidence: co_author_trailer 24" in section and PR_AI_CAVEAT in section
    data = json.loads(render_json(report))["pull_requests_ai"]
    assert [c["unit"] for c in data["comparisons"]] == ["*", "acme/api", "acme/web"]
    page = render_html(report)
    assert 'id="pr-ai"' in page and "AI-assisted PRs merged faster" in page


def test_the_window_and_the_repo_filter_narrow_the_comparison():
    late = build_report([], [], [], {}, pull_request_ai=rows(), since="2026-10-13", repo="acme/web")
    (only,) = late.pull_requests_ai.comparisons
    # merged from 2026-10-13 on: PRs 11 (merged at 06:00 that day) to 23
    assert (only["unit"], only["ai_prs"] + only["other_prs"]) == ("acme/web", 13)


def test_without_pull_requests_the_text_says_so_and_the_page_has_no_section():
    report = build_report([], [], [], {})
    assert f"{PR_AI_TITLE}: no merged pull requests yet" in render_text(report)
    assert 'id="pr-ai"' not in render_html(report)
