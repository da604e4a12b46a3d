"""AI-assisted pull requests: the `pull_request_ai` table, and how those PRs compare with the others.

A pull request is AI-assisted when there is evidence of it (`evidence`, any of):

- `<tool>_branch` (`claude_code_branch`, `codex_branch`): a session of that tool (daily_branch_sessions) on the
  PR's repo whose git branch is the PR's head ref, active inside the PR's branch window;
- `co_author_trailer`: a commit of the PR names an AI tool in a `Co-authored-by` trailer
  (pull_requests.ai_coauthors, read at sync time);
- `<tool>_ai_lines` (`cursor_ai_lines`): a commit of the PR has AI-added lines in that tool's AI code tracking
  (ai_commits).

The branch window of a PR runs from the close of the previous PR of the repo with the same head ref (or the
beginning) to the PR's merge (or close; an open PR's window is still open). A session counts when it was active
in that window (its first request before the end, its last after the start). A PR whose head ref is its base ref
(a fork's `main` into `main`) has no branch evidence: the name says nothing about the work.

`ai_sessions` and `ai_cost_usd` are the distinct matching sessions and the cost of their requests on those days
(null when no session matched). `merge_hours` = merged_at - created_at in hours; `reopened` = at least one
`reopened` event.

The comparison (`compare`), per repo and over all repos (`*`), among merged PRs:
- merge time: the ratio of geometric mean merge hours, AI-assisted / other, exp of the difference in mean
  log(max(hours, 1/60)) with Welch's 95 % interval and p (scipy.stats.ttest_ind, equal_var=False); medians
  are shown for reading;
- reopen rate: the difference of proportions, AI-assisted - other, with Newcombe's hybrid score 95 % interval
  (his method 10, from Wilson intervals) and Fisher's exact two-sided p.
Each needs MIN_GROUP merged PRs on both sides, else `too_little_data`. The p-values of every test shown (both
measures, every unit) are one family, Benjamini-Hochberg adjusted; a verdict other than `no_detectable_difference`
needs an adjusted p below 0.05 (`faster`/`slower`, `fewer_reopened`/`more_reopened`).
The groups are not randomised: AI-assisted PRs may differ in size, author and kind of work, so a difference
describes them; it is not an effect of AI.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
from scipy import stats as sps

from prodlens.stats.core import bh_adjust
from prodlens.stats.correlate import Rows, as_rows

MIN_GROUP = 5  # merged PRs on each side before a comparison is made
ALPHA = 0.05
_MIN_HOURS = 1 / 60  # a PR merged within the minute it opened: a minute, so its log is finite
_ALL = "*"
_MEASURES = ("merge_time", "reopen")


def _window_end(pr: Mapping[str, Any]) -> datetime | None:
    return pr.get("merged_at") or pr.get("closed_at")


def _branch_windows(pulls: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[datetime | None, datetime | None]]:
    """(repo, number) -> (start, end) of each PR's branch window; None is unbounded."""
    by_ref: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for pr in pulls:
        if pr.get("head_ref") and pr.get("head_ref") != pr.get("base_ref") and pr.get("created_at"):
            by_ref[(pr["repo"], pr["head_ref"])].append(pr)
    windows = {}
    for prs in by_ref.values():
        prs.sort(key=lambda pr: (pr["created_at"], pr["pr_number"]))
        start = None
        for pr in prs:
            windows[(pr["repo"], int(pr["pr_number"]))] = (start, _window_end(pr))
            start = _window_end(pr) or start
    return windows


def pull_request_ai(
    pull_requests: Rows,
    branch_sessions: Rows = (),
    ai_commits: Rows = (),
    *,
    tool_of: Mapping[str, str] | None = None,
    computed_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every pull_request_ai row, sorted by repo and number. `tool_of` maps a trace source_format to its tool."""
    pulls = [dict(pr) for pr in as_rows(pull_requests) if pr.get("pr_number") is not None]
    windows = _branch_windows(pulls)
    sessions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in as_rows(branch_sessions):
        sessions[(row["repo"], row["git_branch"])].append(row)
    ai_lines: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # repo -> sha -> tools
    for row in as_rows(ai_commits):
        if (row.get("ai_lines_added") or 0) > 0 and row.get("tool"):
            ai_lines[row["repo"]][row["sha"]].add(str(row["tool"]))

    rows = []
    for pr in sorted(pulls, key=lambda p: (p["repo"], int(p["pr_number"]))):
        repo, number = pr["repo"], int(pr["pr_number"])
        evidence: set[str] = set()
        matched: dict[tuple[str, str], float | None] = {}
        if (repo, number) in windows:
            start, end = windows[(repo, number)]
            for session in sessions.get((repo, pr["head_ref"]), ()):
                if (end is None or session["first_ts"] < end) and (start is None or session["last_ts"] > start):
                    fmt = str(session["source_format"])
                    evidence.add(f"{(tool_of or {}).get(fmt, fmt)}_branch")
                    key = (fmt, str(session["session_id"]))
                    cost = session.get("cost_usd")
                    matched[key] = (matched.get(key) or 0.0) + cost if cost is not None else matched.get(key)
        if list(pr.get("ai_coauthors") or ()):
            evidence.add("co_author_trailer")
        for sha in pr.get("commit_shas") or ():
            evidence.update(f"{tool}_ai_lines" for tool in ai_lines[repo].get(sha, ()))
        merged_at, created_at = pr.get("merged_at"), pr.get("created_at")
        costs = [cost for cost in matched.values() if cost is not None]
        rows.append(
            {
                "repo": repo,
                "number": number,
                "author": pr.get("author"),
                "ai_assisted": bool(evidence),
                "evidence": sorted(evidence),
                "ai_sessions": len(matched),
                "ai_cost_usd": math.fsum(sorted(costs)) if costs else None,
                "merged": merged_at is not None,
                "created_at": created_at,
                "merged_at": merged_at,
                "merge_hours": max(0.0, (merged_at - created_at).total_seconds() / 3600)
                if merged_at is not None and created_at is not None
                else None,
                "reopened": (pr.get("reopened_count") or 0) > 0,
                "computed_at": computed_at,
            }
        )
    return rows


def wilson_interval(successes: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Wilson's score interval for a proportion."""
    z = float(sps.norm.ppf(1 - alpha / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, alpha: float = ALPHA) -> tuple[float, float, float]:
    """p1 - p2 and Newcombe's hybrid score interval (1998, method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def compare_groups(ai: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge time and reopen rate of two groups of merged PRs (module docstring)."""
    ai_hours = [pr["merge_hours"] for pr in ai if pr["merge_hours"] is not None]
    other_hours = [pr["merge_hours"] for pr in other if pr["merge_hours"] is not None]
    out: dict[str, Any] = {
        "ai_prs": len(ai),
        "other_prs": len(other),
        "ai_median_merge_hours": float(np.median(ai_hours)) if ai_hours else None,
        "other_median_merge_hours": float(np.median(other_hours)) if other_hours else None,
        "ai_reopen_rate": sum(pr["reopened"] for pr in ai) / len(ai) if ai else None,
        "other_reopen_rate": sum(pr["reopened"] for pr in other) / len(other) if other else None,
    }
    if min(len(ai_hours), len(other_hours)) < MIN_GROUP:
        out.update(merge_time_ratio=None, merge_time_ci_low=None, merge_time_ci_high=None, merge_time_p=None)
        out["merge_time_verdict"] = "too_little_data"
    else:
        a = np.log(np.maximum(ai_hours, _MIN_HOURS))
        b = np.log(np.maximum(other_hours, _MIN_HOURS))
        if np.ptp(np.concatenate([a, b])) == 0:  # every PR merged in the same time: no difference to test
            ratio, low, high, p = 1.0, 1.0, 1.0, 1.0
        else:
            test = sps.ttest_ind(a, b, equal_var=False)
            ci = test.confidence_interval(1 - ALPHA)
            ratio = math.exp(float(a.mean() - b.mean()))
            low, high, p = math.exp(ci.low), math.exp(ci.high), float(test.pvalue)
        out.update(merge_time_ratio=ratio, merge_time_ci_low=low, merge_time_ci_high=high, merge_time_p=p)
        out["merge_time_verdict"] = None  # set by compare, on the adjusted p
    if min(len(ai), len(other)) < MIN_GROUP:
        out.update(reopen_difference=None, reopen_ci_low=None, reopen_ci_high=None, reopen_p=None)
        out["reopen_verdict"] = "too_little_data"
    else:
        x1, x2 = sum(pr["reopened"] for pr in ai), sum(pr["reopened"] for pr in other)
        d, low, high = newcombe_difference(x1, len(ai), x2, len(other))
        p = float(sps.fisher_exact([[x1, len(ai) - x1], [x2, len(other) - x2]]).pvalue)
        out.update(reopen_difference=d, reopen_ci_low=low, reopen_ci_high=high, reopen_p=p)
        out["reopen_verdict"] = None
    return out


def compare(pull_request_ai_rows: Rows) -> list[dict[str, Any]]:
    """AI-assisted vs other merged PRs, per repo and over every repo (`*` first, when there are several)."""
    merged = [row for row in as_rows(pull_request_ai_rows) if row.get("merged")]
    units: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in merged:
        units[row["repo"]].append(row)
    result = []
    # A single repo is its own total: one row (a `*` copy would count its tests twice in the family).
    scopes = [(_ALL, merged), *sorted(units.items())] if len(units) > 1 else sorted(units.items())
    for unit, prs in scopes:
        ai = [pr for pr in prs if pr["ai_assisted"]]
        other = [pr for pr in prs if not pr["ai_assisted"]]
        result.append({"unit": unit, **compare_groups(ai, other)})
    # One family: every test the comparison shows (both measures, every unit), Benjamini-Hochberg adjusted.
    tested = [(row, m) for row in result for m in _MEASURES if row[f"{m}_p"] is not None]
    for (row, m), p_adj in zip(tested, bh_adjust([row[f"{m}_p"] for row, m in tested]) if tested else [], strict=True):
        row[f"{m}_p_adj"] = float(p_adj)
        if p_adj >= ALPHA:
            row[f"{m}_verdict"] = "no_detectable_difference"
        elif m == "merge_time":
            row[f"{m}_verdict"] = "slower" if row["merge_time_ratio"] > 1 else "faster"
        else:
            row[f"{m}_verdict"] = "more_reopened" if row["reopen_difference"] > 0 else "fewer_reopened"
    for row in result:
        for m in _MEASURES:
            row.setdefault(f"{m}_p_adj", None)
    return result
