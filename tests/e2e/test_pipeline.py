"""The contract's commands end to end on the embedded stack: pipeline, second run, query, report."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_INPUT = REPO / "demo" / "input"
pytestmark = pytest.mark.e2e


def _prodlens(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "prodlens.cli", *args], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"prodlens {args[0]} failed:\n{result.stderr[-4000:]}"
    return result


def _lake_digest(lake: Path) -> dict[str, str]:
    return {
        p.relative_to(lake).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((lake / "lake").rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    lake = tmp_path_factory.mktemp("demo") / "lake"
    result = _prodlens("pipeline", "--input", str(DEMO_INPUT), "--lake", str(lake))
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "pipeline prints exactly one JSON summary line on stdout"
    return lake, json.loads(lines[0])


def _query(lake: Path, sql: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_prodlens("query", "--lake", str(lake), sql).stdout)))


def test_pipeline_delivers_every_upload_and_fills_every_table(demo_lake):
    # Given the demo input run once through the embedded stack
    lake, summary = demo_lake
    files = [p for p in DEMO_INPUT.rglob("*") if p.is_file() and not p.name.endswith(".meta.json")]
    inputs = [p for p in files if p.relative_to(DEMO_INPUT).parts[0] in ("traces", "github", "usage")]
    # Then every upload was delivered (plus the s3:TestEvent S3 sends on setup; config/people.json and
    # config/rollouts.json are read by aggregate and correlate, not delivered), nothing failed
    assert summary["uploaded"] == len(files) == len(inputs) + 2
    assert summary["delivered"] == len(inputs) + 1
    assert summary["failed_deliveries"] == 0 and summary["dead_lettered_messages"] == 0
    assert summary["correlate"]["status"] == "computed"
    # And each contract table answers through the Athena SQL
    for table in (
        "traces",
        "dead_letters",
        "daily_session_metrics",
        "daily_github_metrics",
        "correlations",
        "rollout_effects",
        "cohort_weekly",
        "pull_request_ai",
        "daily_branch_sessions",
        "github_pull_commits",
        "pull_requests",
        "commits",
        "developer_daily_usage",
        "ai_commits",
        "daily_developer_metrics",
    ):
        assert int(_query(lake, f"SELECT count(*) AS n FROM {table}")[0]["n"]) > 0, table


def test_traces_hold_every_format_and_rows_match_the_inputs(demo_lake):
    lake, _ = demo_lake
    formats = {
        r["source_format"]: int(r["n"])
        for r in _query(lake, "SELECT source_format, count(*) AS n FROM traces GROUP BY 1")
    }
    seed_lines = sum(1 for f in (DEMO_INPUT / "traces" / "seed").glob("acme-*.jsonl") for _ in f.open())
    assert formats["seed"] == seed_lines + 1  # plus the one good line of broken-upload.jsonl
    assert formats["litellm"] == 12
    assert formats["otlp"] == 24  # only LLM spans: CHAIN parents and TOOL spans are not requests
    # three streamed lines per call count once; <synthetic> is not a call
    assert formats["claude_code"] == len(_claude_calls())


def _claude_calls() -> set[tuple[str, str, str]]:
    """(object key, message id, request id) of every real call in the demo's Claude Code transcripts."""
    calls = set()
    for path in (DEMO_INPUT / "traces" / "claude").rglob("*.jsonl"):
        for line in map(json.loads, path.read_text().splitlines()):
            message = line.get("message") or {}
            if line.get("type") == "assistant" and message.get("model") != "<synthetic>":
                calls.add((path.relative_to(DEMO_INPUT).as_posix(), message["id"], line["requestId"]))
    return calls


def test_repo_partition_filter_and_attribution_from_object_metadata(demo_lake):
    lake, _ = demo_lake
    # Claude Code transcripts name no repo or developer: each object's sidecar metadata does
    rows = _query(
        lake,
        "SELECT source_key, repo, developer_id, count(*) AS n FROM traces "
        "WHERE repo = 'acme/web' AND source_format = 'claude_code' GROUP BY 1, 2, 3",
    )
    expected = {}
    for meta in (DEMO_INPUT / "traces" / "claude").rglob("*.jsonl.meta.json"):
        named = json.loads(meta.read_text())
        if named["repo"] == "acme/web":
            key = meta.relative_to(DEMO_INPUT).as_posix().removesuffix(".meta.json")
            expected[key] = (named["repo"], named["developer"])
    assert {r["source_key"]: (r["repo"], r["developer_id"]) for r in rows} == expected
    calls = sum(1 for key, _, _ in _claude_calls() if key in expected)
    assert sum(int(r["n"]) for r in rows) == calls


def test_bad_lines_become_dead_letters_with_reasons(demo_lake):
    lake, _ = demo_lake
    reasons = {
        r["reason"]
        for r in _query(lake, "SELECT reason FROM dead_letters WHERE source_key = 'traces/seed/broken-upload.jsonl'")
    }
    assert reasons == {"invalid_json", "missing_timestamp"}


def test_second_run_with_the_same_input_changes_nothing(demo_lake, tmp_path):
    # Given a copy of the lake after the first run
    lake, _ = demo_lake
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    before = _lake_digest(copy)
    # When the same input is delivered again
    summary = json.loads(_prodlens("pipeline", "--input", str(DEMO_INPUT), "--lake", str(copy)).stdout)
    # Then no lake object changed, no day was recomputed and correlate answered from its cache
    assert _lake_digest(copy) == before
    assert summary["aggregate"]["days_recomputed"] == 0
    assert summary["correlate"]["status"] == "cached"


def test_report_opens_with_the_verdicts_the_demo_data_was_built_for(demo_lake):
    # Given the demo: a next-day link from AI requests to commits in acme/api only, both repos sharing the calendar
    lake, _ = demo_lake
    text = _prodlens("report", "--lake", str(lake)).stdout
    report = json.loads(_prodlens("report", "--lake", str(lake), "--format", "json").stdout)
    verdicts = {v["repo"]: v for v in report["verdicts"]}
    # Then acme/api shows a positive link at lag 1 and acme/web none, although its raw correlations are "significant"
    assert verdicts["acme/api"]["verdict"] == "link"
    assert verdicts["acme/api"]["lag_days"] == 1 and verdicts["acme/api"]["adj_r"] > 0
    assert verdicts["acme/web"]["verdict"] == "no_evidence"
    assert any(
        a["repo"] == "acme/web" and a["pearson_p_adj"] is not None and a["pearson_p_adj"] < 0.05
        for a in report["associations"]
    )
    # And the verdicts come before the unadjusted appendix
    assert text.index("acme/api: evidence of a link") < text.index("Appendix: unadjusted")


def test_the_demo_rollout_is_found_in_rollout_effects_and_the_report(demo_lake):
    # Given the demo: acme/web rolls AI out on 2026-10-19 (config/rollouts.json) and commits 60 % more from then on
    lake, _ = demo_lake
    rows = _query(lake, "SELECT * FROM rollout_effects WHERE unit = 'acme/web' AND design = 'its'")
    by_metric = {r["metric"]: r for r in rows}
    # Then its commit_count row, at the configured date, says increase, and its interval holds the true 60 %
    commits = by_metric["commit_count"]
    assert (commits["rollout_date"], commits["rollout_source"], commits["verdict"]) == (
        "2026-10-19",
        "configured",
        "increase",
    )
    counterfactual = float(commits["level_change"]) / float(commits["relative_change"])
    assert float(commits["ci_low"]) / counterfactual < 0.6 < float(commits["ci_high"]) / counterfactual
    # And acme/api, which used AI from the first day, has no rollout to judge
    api = _query(lake, "SELECT DISTINCT verdict FROM rollout_effects WHERE unit = 'acme/api'")
    assert api == [{"verdict": "too_little_data"}]
    # And the report says it under its own heading
    text = _prodlens("report", "--lake", str(lake)).stdout
    section = text[text.index("What changed at the AI rollout") :]
    assert "acme/web commit_count [its] since 2026-10-19 (configured)" in section and "-> increase" in section


def test_the_demo_pull_requests_written_with_claude_code_are_found_and_compared(demo_lake):
    # Given the demo: some PRs were worked on in Claude Code sessions on their branch, most of their commits carry
    # its co-author trailer, and a few of acme/api's commits have Cursor AI lines
    lake, _ = demo_lake
    evidence = _query(
        lake,
        "SELECT kind, count(*) AS n FROM pull_request_ai CROSS JOIN UNNEST(evidence) AS t(kind) GROUP BY kind",
    )
    counts = {r["kind"]: int(r["n"]) for r in evidence}
    # Then every kind of evidence is found
    assert set(counts) == {"claude_code_branch", "co_author_trailer", "cursor_ai_lines"}, counts
    # And a branch session's PR carries the session's cost
    costed = _query(
        lake,
        "SELECT count(*) AS n FROM pull_request_ai WHERE contains(evidence, 'claude_code_branch') "
        "AND ai_sessions = 1 AND ai_cost_usd > 0",
    )
    assert int(costed[0]["n"]) == counts["claude_code_branch"]
    # And the trailers arrive in the lake as the tools they name
    assert (
        _query(lake, "SELECT count(*) AS n FROM github_pull_commits WHERE cardinality(ai_coauthors) > 0")[0]["n"] != "0"
    )
    # And the report compares the groups: the demo's AI PRs were the quick ones, so merge time says faster
    report = json.loads(_prodlens("report", "--lake", str(lake), "--format", "json").stdout)
    overall = next(c for c in report["pull_requests_ai"]["comparisons"] if c["unit"] == "*")
    assert overall["merge_time_verdict"] == "faster" and overall["merge_time_ci_high"] < 1
    text = _prodlens("report", "--lake", str(lake)).stdout
    section = text[text.index("AI-assisted pull requests (merged)") :]
    assert "*: AI-assisted PRs merged faster" in section and "it is not an effect of AI" in section


def test_named_queries_run_on_the_local_lake_and_agree_with_the_report(demo_lake):
    lake, _ = demo_lake
    raw = _query(lake, (REPO / "layers/prodlens/prodlens/sql/significant_correlations.sql").read_text())
    assert raw and all(min(float(r["pearson_p_adj"] or 1), float(r["spearman_p_adj"] or 1)) < 0.05 for r in raw)
    adjusted = _query(lake, (REPO / "layers/prodlens/prodlens/sql/adjusted_associations.sql").read_text())
    assert adjusted and all(float(r["adj_p_adj"]) < 0.05 for r in adjusted)
    # The verdicts query gives the report's verdict and strongest row for every scope
    rows = _query(lake, (REPO / "layers/prodlens/prodlens/sql/verdicts.sql").read_text())
    report = json.loads(_prodlens("report", "--lake", str(lake), "--format", "json").stdout)
    expected = {v["repo"]: v for v in report["verdicts"]}
    assert {r["repo"] for r in rows} == set(expected)
    for row in rows:
        verdict = expected[row["repo"]]
        assert row["verdict"] == verdict["verdict"], row["repo"]
        assert (row["x_metric"], row["y_metric"], int(row["lag_days"])) == (
            verdict["x_metric"],
            verdict["y_metric"],
            verdict["lag_days"],
        )
        assert float(row["adj_r"]) == pytest.approx(verdict["adj_r"], abs=1e-12)
