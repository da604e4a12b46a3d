"""The report's "what changed at the AI rollout" section: text, JSON and HTML from rollout_effects rows."""

from __future__ import annotations

import json
from datetime import date, timedelta

from prodlens.report import build_report, render_html, render_json, render_text
from prodlens.report.rollouts import ROLLOUT_TITLE, rollout_view

ROWS = [
    {"unit": "acme/web", "metric": "commit_count", "design": "its", "rollout_date": date(2026, 10, 19),
     "rollout_source": "configured", "days_before": 48, "days_after": 64, "level_change": 2.4,
     "relative_change": 0.38, "ci_low": 1.1, "ci_high": 3.9, "p_adj": 0.0012, "verdict": "increase"},
    {"unit": "acme/web", "metric": "reopened_pr_count", "design": "its", "rollout_date": date(2026, 10, 19),
     "rollout_source": "configured", "days_before": 48, "days_after": 64, "level_change": 0.01,
     "relative_change": 0.05, "ci_low": -0.1, "ci_high": 0.12, "p_adj": 0.8, "verdict": "no_detectable_change"},
    {"unit": "acme/api", "metric": "commit_count", "design": "its", "rollout_date": None, "rollout_source": None,
     "days_before": None, "days_after": None, "level_change": None, "relative_change": None, "ci_low": None,
     "ci_high": None, "p_adj": None, "verdict": "too_little_data"},
    {"unit": "<script>", "metric": "commit_count", "design": "its", "rollout_date": date(2026, 11, 2),
     "rollout_source": "detected", "days_before": 10, "days_after": 30, "level_change": None,
     "relative_change": None, "ci_low": None, "ci_high": None, "p_adj": None, "verdict": "too_little_data"},
]  # fmt: skip


def _report(rows=ROWS, **options):
    return build_report([], [], [], {}, rollout_effects=rows, **options)


def test_text_lists_measured_effects_first_and_says_why_the_rest_could_not_be_judged():
    text = render_text(_report())
    section = text[text.index(ROLLOUT_TITLE) :].splitlines()
    assert section[1].strip().startswith("acme/web commit_count [its] since 2026-10-19 (configured): +2.40/day (+38%)")
    assert "95% CI +1.10 to +3.90" in section[1] and section[1].endswith("-> increase")
    assert "reopened_pr_count" in section[2] and section[2].endswith("-> no detectable change")
    assert "acme/api (its): no rollout date" in section[3]
    assert "<script> (its): 10 days before / 30 after (28 each needed)" in section[3]


def test_json_carries_every_row_and_a_repo_filter_keeps_that_repos_rows():
    data = json.loads(render_json(_report()))
    assert [r["unit"] for r in data["rollout_effects"]] == [r["unit"] for r in ROWS]
    assert [e.unit for e in rollout_view(ROWS, "acme/web").effects] == ["acme/web", "acme/web"]
    assert json.loads(render_json(_report(repo="acme/api")))["rollout_effects"][0]["unit"] == "acme/api"


def test_html_has_a_row_per_measured_effect_and_escapes_units():
    html = render_html(_report())
    section = html[html.index('id="rollouts"') :]
    assert section.count("<tr class=") == 2 and "+38%" in section and "+1.10 to +3.90" in section
    assert "<script>" not in html and "&lt;script&gt;" in section


def test_without_rows_the_text_says_so_and_the_page_has_no_section():
    assert f"{ROLLOUT_TITLE}: no rollout effects computed yet" in render_text(_report([]))
    assert 'id="rollouts"' not in render_html(_report([]))


def test_html_charts_an_increase_of_a_charted_metric_with_its_rollout_line_and_levels():
    # Given daily points for acme/web and the increase of its commits at 2026-10-19
    from prodlens.report.html import rollout_chart
    from prodlens.report.model import DailyPoint
    from prodlens.report.rollouts import RolloutEffect

    points = [DailyPoint(date(2026, 9, 1) + timedelta(days=d), 0.0, 6.0 if d < 48 else 8.4, 1.0) for d in range(112)]
    effect = RolloutEffect.from_row(ROWS[0])
    svg = rollout_chart(effect, points)
    # Then the chart names the unit, draws the rollout line and both post-rollout levels (without: 2.4 / 0.38)
    assert "acme/web" in svg and "rollout 2026-10-19" in svg
    assert "without the change: 6.3 per day" in svg and "estimated: 8.7 per day" in svg
    # And the page shows it for the increase only (the no-change row and unknown metrics get none)
    report = _report()
    report.daily["acme/web"] = points
    assert render_html(report).count("aria-label=\"commit_count per day, week by week") == 1
