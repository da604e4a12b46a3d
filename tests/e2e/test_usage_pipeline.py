"""Vendor usage reports end to end on the embedded stack: raw usage/ objects -> normalize -> usage_records ->
aggregate -> developer_daily_usage and ai_commits, read with the Athena SQL; reports replace, people re-attribute."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "usage"
pytestmark = pytest.mark.e2e

PEOPLE = [
    {"person": "mara", "team": "platform", "github_logins": ["mara-okafor"]},
    {"person": "dev", "team": "apps", "emails": ["developer@company.com"]},
]


def _prodlens(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "prodlens.cli", *args], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"prodlens {args[0]} failed:\n{result.stderr[-4000:]}"
    return result


def _query(lake: Path, sql: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_prodlens("query", "--lake", str(lake), sql).stdout)))


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


@pytest.fixture(scope="module")
def usage_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("usage")
    inputs, lake = base / "input", base / "lake"
    for path in FIXTURES.rglob("*"):
        if path.suffix in (".json", ".ndjson"):
            _copy(path, inputs / "usage" / path.relative_to(FIXTURES))
    (inputs / "config").mkdir(parents=True)
    (inputs / "config" / "people.json").write_text(json.dumps(PEOPLE))
    summary = json.loads(_prodlens("pipeline", "--input", str(inputs), "--lake", str(lake)).stdout)
    return inputs, lake, summary


def test_every_usage_object_is_delivered_and_accounted(usage_lake):
    _, lake, summary = usage_lake
    assert summary["failed_deliveries"] == 0 and summary["dead_lettered_messages"] == 0
    # The one commit item without a repository is a dead letter with its reason, nothing else is
    letters = _query(lake, "SELECT source_key, reason FROM dead_letters")
    assert letters == [
        {"source_key": "usage/cursor/ai-code-commits__items0-docs_items1-2-composed.json", "reason": "missing_repo"}
    ]


def test_per_user_copilot_rows_replace_the_organization_total_and_carry_people(usage_lake):
    _, lake, _ = usage_lake
    rows = _query(
        lake,
        "SELECT developer_id, person, team, accepted_lines, suggested_lines FROM developer_daily_usage "
        "WHERE tool = 'copilot' AND event_date = '2025-10-01' ORDER BY developer_id",
    )
    # Three user lines that day: the org total ('*') is not kept beside them, and is never added to them
    assert [r["developer_id"] for r in rows] == ["login1", "mara-okafor", "tbaptiste-acme"]
    mara = rows[1]
    assert (mara["person"], mara["team"], mara["accepted_lines"]) == ("mara", "platform", "231")
    assert rows[0]["person"] == ""  # unmapped: NULL


def test_organization_totals_stand_alone_on_days_without_user_rows(usage_lake):
    _, lake, _ = usage_lake
    rows = _query(
        lake,
        "SELECT event_date, accepted_lines FROM developer_daily_usage "
        "WHERE tool = 'copilot' AND developer_id = '*' ORDER BY event_date",
    )
    # The legacy org metrics days and the wrapped 28-day report's other day
    assert [r["event_date"] for r in rows] == ["2024-11-04", "2024-11-19", "2025-09-30"]


def test_a_member_reported_by_two_pages_counts_once(usage_lake):
    _, lake, _ = usage_lake
    rows = _query(
        lake,
        "SELECT developer_id, person, accepted_lines FROM developer_daily_usage "
        "WHERE tool = 'cursor' AND event_date = '2024-03-18' ORDER BY developer_id",
    )
    # The legacy page and the paginated page both report developer@company.com on 2024-03-18: one row
    assert rows == [
        {"developer_id": "developer@company.com", "person": "dev", "accepted_lines": "1102"},
        {"developer_id": "inactive-user@company.com", "person": "", "accepted_lines": "0"},
    ]


def test_claude_code_analytics_pages_give_one_row_per_actor_and_day_in_dollars(usage_lake):
    _, lake, _ = usage_lake
    rows = _query(
        lake,
        "SELECT developer_id, accepted_lines, removed_lines, tokens_in, cost_usd FROM developer_daily_usage "
        "WHERE tool = 'claude_code' AND event_date = '2025-08-08' ORDER BY developer_id",
    )
    assert rows == [
        # an API key actor; no model_breakdown: nothing measured is cost 0 tokens 0, not NULL
        {"developer_id": "api_key:ci-release-bot", "accepted_lines": "500", "removed_lines": "100",
         "tokens_in": "0", "cost_usd": "0.0"},
        # two models: 18305 + 4820 input tokens; (2391 + 7) cents
        {"developer_id": "dmitri.volkov@acme-robotics.example", "accepted_lines": "1287", "removed_lines": "0",
         "tokens_in": "23125", "cost_usd": "23.98"},
        {"developer_id": "priya.natarajan@acme-robotics.example", "accepted_lines": "342", "removed_lines": "128",
         "tokens_in": "68330", "cost_usd": "2.28"},
    ]  # fmt: skip


def test_otel_metrics_sum_delta_points_and_difference_cumulative_ones(usage_lake):
    _, lake, _ = usage_lake
    rows = {
        r["developer_id"]: r
        for r in _query(
            lake,
            "SELECT developer_id, source_format, tokens_in, tokens_out, cache_read_tokens FROM developer_daily_usage "
            "WHERE tool = 'claude_code' AND event_date = '2025-09-08'",
        )
    }
    # delta (Claude Code's default): the points of both models add up: 2311 + 1874 in, 4102 + 96 out
    assert rows["priya.natarajan@acme-robotics.example"]["tokens_in"] == "4185"
    assert rows["priya.natarajan@acme-robotics.example"]["tokens_out"] == "4198"
    assert rows["dmitri.volkov@acme-robotics.example"]["cache_read_tokens"] == "411802"
    # cumulative: two exports of one running process; the day's usage is the last total, never 12400 + 18950
    lena = rows["lena.hoffmann@acme-robotics.example"]
    assert (lena["tokens_in"], lena["tokens_out"], lena["cache_read_tokens"]) == ("18950", "10377", "515003")
    assert {r["source_format"] for r in rows.values()} == {"claude_code_otel_metrics"}


def test_ai_commits_are_one_row_per_repo_and_sha(usage_lake):
    _, lake, _ = usage_lake
    rows = _query(lake, "SELECT repo, sha, ai_lines_added, total_lines_added FROM ai_commits ORDER BY repo")
    assert rows == [
        {
            "repo": "acme-robotics/fleet-telemetry",
            "sha": "4c1a7e93f0b2d6e58a9c3f71b0e2d4a6c8f5e193",
            "ai_lines_added": "211",
            "total_lines_added": "211",
        },
        {"repo": "company/repo", "sha": "a1b2c3d4", "ai_lines_added": "90", "total_lines_added": "120"},
    ]


def test_a_redelivered_report_changes_nothing_and_a_people_edit_re_attributes_history(usage_lake, tmp_path):
    inputs, lake, _ = usage_lake
    before = _query(lake, "SELECT * FROM developer_daily_usage ORDER BY event_date, tool, developer_id")

    # Given: the same reports uploaded again (new LastModified), and mara moved to another team
    again = tmp_path / "again"
    for path in (inputs / "usage").rglob("*.*"):
        _copy(path, again / path.relative_to(inputs))
    (again / "config").mkdir()
    moved = [{**PEOPLE[0], "team": "data"}, PEOPLE[1]]
    (again / "config" / "people.json").write_text(json.dumps(moved))
    page = (lake / "lake" / "reports" / "latest.html").read_text()
    assert 'id="teams"' in page and "<td>platform</td>" in page and "<td>data</td>" not in page
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    second = json.loads(_prodlens("pipeline", "--input", str(again), "--lake", str(lake)).stdout)

    after = _query(lake, "SELECT * FROM developer_daily_usage ORDER BY event_date, tool, developer_id")
    # Then: same rows and figures (the replacing report is the same report); only mara's team changed
    assert len(after) == len(before)
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert changed, "the people edit re-attributed nothing"
    for b, a in changed:
        assert b["developer_id"] == "mara-okafor" and (b["team"], a["team"]) == ("platform", "data")
        assert {k: v for k, v in a.items() if k not in ("team", "source_key")} == {
            k: v for k, v in b.items() if k not in ("team", "source_key")
        }
    # And correlate, whose inputs did not change, wrote the shareable page again with the new team
    assert second["correlate"]["status"] == "unchanged"
    assert "<td>data</td>" in (lake / "lake" / "reports" / "latest.html").read_text()
