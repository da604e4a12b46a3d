"""AI-assisted pull requests (prodlens.stats.pr_ai): the evidence rules and the comparison, checked against scipy."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from prodlens.stats.pr_ai import (
    MIN_GROUP,
    compare,
    compare_groups,
    newcombe_difference,
    pull_request_ai,
    wilson_interval,
)
from scipy import stats as sps

T0 = datetime(2026, 3, 2, 9, 0)


def pr(number: int, head: str | None = "feature/x", *, created: float = 0, merged: float | None = 24, closed=None,
       base: str = "main", repo: str = "acme/api", reopened: int = 0, shas=(), coauthors=()) -> dict:  # fmt: skip
    merged_at = T0 + timedelta(hours=merged) if merged is not None else None
    return {
        "repo": repo,
        "pr_number": number,
        "author": "dev",
        "head_ref": head,
        "base_ref": base,
        "created_at": T0 + timedelta(hours=created),
        "merged_at": merged_at,
        "closed_at": T0 + timedelta(hours=closed) if closed is not None else merged_at,
        "reopened_count": reopened,
        "commit_shas": list(shas),
        "ai_coauthors": list(coauthors),
    }


def session(start: float, end: float, *, branch: str = "feature/x", sid: str = "s1", cost: float | None = 1.0,
            fmt: str = "claude_code", repo: str = "acme/api") -> dict:  # fmt: skip
    return {
        "repo": repo,
        "git_branch": branch,
        "source_format": fmt,
        "session_id": sid,
        "first_ts": T0 + timedelta(hours=start),
        "last_ts": T0 + timedelta(hours=end),
        "requests": 3,
        "cost_usd": cost,
    }


def by_number(rows):
    return {row["number"]: row for row in rows}


def test_a_session_on_the_head_ref_before_the_merge_is_branch_evidence_with_its_sessions_and_cost():
    rows = pull_request_ai(
        [pr(1)],
        [session(2, 3, sid="a", cost=0.5), session(30, 31, sid="b"), session(5, 6, sid="a", cost=0.25)],
    )
    (row,) = rows
    assert row["ai_assisted"] and row["evidence"] == ["claude_code_branch"]
    # session b started after the merge: not this PR's; session a counted once, its two days' costs summed
    assert row["ai_sessions"] == 1 and row["ai_cost_usd"] == pytest.approx(0.75)
    assert row["merged"] and row["merge_hours"] == pytest.approx(24.0) and row["reopened"] is False


def test_a_reused_branch_name_belongs_to_the_pr_whose_window_holds_the_session():
    # PR 1 on feature/x merged at 24 h; PR 2 reuses feature/x from 48 h; the session at 50 h is PR 2's alone
    rows = by_number(pull_request_ai([pr(1), pr(2, created=48, merged=72)], [session(50, 51)]))
    assert not rows[1]["ai_assisted"] and rows[1]["ai_cost_usd"] is None and rows[1]["ai_sessions"] == 0
    assert rows[2]["evidence"] == ["claude_code_branch"]


def test_a_head_ref_equal_to_its_base_ref_is_no_evidence():
    (row,) = pull_request_ai([pr(1, head="main", base="main")], [session(1, 2, branch="main")])
    assert not row["ai_assisted"]


def test_trailers_and_ai_lines_are_evidence_and_tools_are_named_by_format():
    rows = by_number(
        pull_request_ai(
            [pr(1, coauthors=["claude_code"]), pr(2, head="b2", shas=["s" * 40]), pr(3, head="b3", shas=["t" * 40])],
            [session(1, 2, branch="b3", fmt="codex_rollout")],
            [
                {"repo": "acme/api", "sha": "s" * 40, "tool": "cursor", "ai_lines_added": 12},
                {"repo": "acme/api", "sha": "t" * 40, "tool": "cursor", "ai_lines_added": 0},
            ],
            tool_of={"codex_rollout": "codex"},
        )
    )
    assert rows[1]["evidence"] == ["co_author_trailer"]
    assert rows[2]["evidence"] == ["cursor_ai_lines"]
    assert rows[3]["evidence"] == ["codex_branch"]  # no AI lines in t: that commit is no evidence
    assert rows[3]["ai_cost_usd"] == 1.0


def test_an_open_pull_request_window_is_still_open():
    (row,) = pull_request_ai([pr(1, merged=None)], [session(500, 501)])
    assert row["ai_assisted"] and not row["merged"] and row["merge_hours"] is None


def test_wilson_and_newcombe_match_newcombe_1998():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 - 48/80, method 10
    d, low, high = newcombe_difference(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    # Wilson's interval for 81/263 (Newcombe 1998b, table I): 0.2553 to 0.3662
    assert tuple(round(x, 4) for x in wilson_interval(81, 263)) == (0.2553, 0.3662)


def _merged(hours: list[float], reopened: list[bool], ai: bool) -> list[dict]:
    return [{"merge_hours": h, "reopened": r, "ai_assisted": ai} for h, r in zip(hours, reopened, strict=True)]


def test_merge_time_ratio_is_welchs_interval_on_log_hours_and_reopen_p_is_fishers():
    rng = np.random.default_rng(7)
    a_hours, b_hours = rng.lognormal(2.0, 1.0, 40), rng.lognormal(2.5, 1.0, 60)
    a_reopen, b_reopen = rng.random(40) < 0.1, rng.random(60) < 0.3
    out = compare_groups(_merged(list(a_hours), list(a_reopen), True), _merged(list(b_hours), list(b_reopen), False))

    test = sps.ttest_ind(np.log(a_hours), np.log(b_hours), equal_var=False)
    ci = test.confidence_interval(0.95)
    assert out["merge_time_ratio"] == pytest.approx(math.exp(np.log(a_hours).mean() - np.log(b_hours).mean()))
    assert (out["merge_time_ci_low"], out["merge_time_ci_high"]) == pytest.approx((math.exp(ci.low), math.exp(ci.high)))
    assert out["merge_time_p"] == pytest.approx(test.pvalue)
    x1, x2 = int(a_reopen.sum()), int(b_reopen.sum())
    assert out["reopen_p"] == pytest.approx(sps.fisher_exact([[x1, 40 - x1], [x2, 60 - x2]]).pvalue)
    assert out["ai_median_merge_hours"] == pytest.approx(np.median(a_hours))
    assert out["merge_time_verdict"] is None  # set by compare, on the adjusted p


def test_too_few_prs_on_either_side_is_too_little_data():
    out = compare_groups(
        _merged([1.0] * (MIN_GROUP - 1), [False] * (MIN_GROUP - 1), True), _merged([2.0] * 20, [True] * 20, False)
    )
    assert out["merge_time_verdict"] == out["reopen_verdict"] == "too_little_data"
    assert out["merge_time_ratio"] is None and out["ai_reopen_rate"] == 0.0


def test_compare_reports_all_repos_first_then_each_repo_over_merged_prs_only():
    rows = [
        {"repo": repo, "merged": merged, "ai_assisted": ai, "merge_hours": 3.0 if merged else None, "reopened": False}
        for repo in ("acme/api", "acme/web")
        for merged, ai in ((True, True), (True, False), (False, True))
    ]
    units = [(c["unit"], c["ai_prs"], c["other_prs"]) for c in compare(rows)]
    assert units == [("*", 2, 2), ("acme/api", 1, 1), ("acme/web", 1, 1)]


def test_verdicts_need_a_benjamini_hochberg_adjusted_p_below_005_across_every_test_shown():
    rng = np.random.default_rng(11)
    rows = []
    # acme/api: AI PRs merge in a third of the time; acme/web: no difference at all
    for repo, factor in (("acme/api", 1 / 3), ("acme/web", 1.0)):
        for ai in (True, False):
            for h in rng.lognormal(3.0, 0.8, 30) * (factor if ai else 1.0):
                rows.append({"repo": repo, "merged": True, "ai_assisted": ai, "merge_hours": h, "reopened": False})
    result = {c["unit"]: c for c in compare(rows)}
    tested = [result[u][f"{m}_p"] for u in ("*", "acme/api", "acme/web") for m in ("merge_time", "reopen")]
    expected = sps.false_discovery_control(tested, method="bh")
    got = [result[u][f"{m}_p_adj"] for u in ("*", "acme/api", "acme/web") for m in ("merge_time", "reopen")]
    assert got == pytest.approx(list(expected))
    assert result["acme/api"]["merge_time_verdict"] == "faster"
    assert result["acme/web"]["merge_time_verdict"] == "no_detectable_difference"
    assert result["acme/web"]["reopen_verdict"] == "no_detectable_difference"  # no PR reopened on either side
