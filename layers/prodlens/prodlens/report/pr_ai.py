"""The report's AI-assisted pull request section, from pull_request_ai rows: how many merged PRs carry evidence of
AI, which evidence, and how their merge time and reopen rate compare with the others (stats.pr_ai.compare),
with the caveat that the groups are not randomised."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prodlens.report.columns import aligned_lines
from prodlens.stats.pr_ai import compare

PR_AI_TITLE = "AI-assisted pull requests (merged)"
PR_AI_CAVEAT = (
    "Observational: AI-assisted PRs are the ones with evidence (a tool session on the PR's branch, an AI co-author "
    "trailer, AI lines in its commits); they may differ in size, author and kind of work, and PRs without evidence "
    "may still have used AI. A difference describes the two groups; it is not an effect of AI."
)
PR_AI_COLUMNS = ("unit", "AI PRs", "other PRs", "median merge h (AI / other)", "merge time ratio [95% CI]",
                 "reopen rate (AI / other)", "reopen diff [95% CI]")  # fmt: skip
_VERDICT_TEXT = {
    "faster": "AI-assisted PRs merged faster",
    "slower": "AI-assisted PRs merged slower",
    "more_reopened": "AI-assisted PRs reopened more often",
    "fewer_reopened": "AI-assisted PRs reopened less often",
}


@dataclass
class PrAiView:
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # stats.pr_ai.compare rows, `*` first
    evidence: dict[str, int] = field(default_factory=dict)  # merged PRs per kind of evidence
    caveat: str = PR_AI_CAVEAT


def pr_ai_view(rows: Iterable[Mapping[str, Any]], repo: str | None = None) -> PrAiView:
    kept = [row for row in rows if repo is None or row["repo"] == repo]
    evidence = Counter(kind for row in kept if row.get("merged") for kind in row.get("evidence") or ())
    comparisons = [c for c in compare(kept) if repo is None or c["unit"] == repo]
    return PrAiView(comparisons, dict(sorted(evidence.items())))


def _pair(a: float | None, b: float | None, fmt: str) -> str:
    return f"{'-' if a is None else format(a, fmt)} / {'-' if b is None else format(b, fmt)}"


def pr_ai_cells(c: Mapping[str, Any]) -> tuple[str, ...]:
    if c["merge_time_ratio"] is None:
        ratio = c["merge_time_verdict"].replace("_", " ")
    else:
        ratio = f"{c['merge_time_ratio']:.2f}x [{c['merge_time_ci_low']:.2f}, {c['merge_time_ci_high']:.2f}]"
    if c["reopen_difference"] is None:
        reopen = c["reopen_verdict"].replace("_", " ")
    else:
        reopen = f"{c['reopen_difference']:+.0%} [{c['reopen_ci_low']:+.0%}, {c['reopen_ci_high']:+.0%}]"
    return (
        c["unit"],
        str(c["ai_prs"]),
        str(c["other_prs"]),
        _pair(c["ai_median_merge_hours"], c["other_median_merge_hours"], ".1f"),
        ratio,
        _pair(c["ai_reopen_rate"], c["other_reopen_rate"], ".0%"),
        reopen,
    )


def pr_ai_findings(view: PrAiView) -> list[str]:
    """One sentence per unit and measure whose interval excludes no difference."""
    found = []
    for c in view.comparisons:
        for measure in ("merge_time", "reopen"):
            if c[f"{measure}_verdict"] in _VERDICT_TEXT:
                text = _VERDICT_TEXT[c[f"{measure}_verdict"]]
                found.append(f"{c['unit']}: {text} (adjusted p = {c[f'{measure}_p_adj']:.3g})")
    return found


def pr_ai_lines(view: PrAiView) -> list[str]:
    if not view.comparisons:
        return [f"{PR_AI_TITLE}: no merged pull requests yet"]
    out = [PR_AI_TITLE, *aligned_lines([PR_AI_COLUMNS, *(pr_ai_cells(c) for c in view.comparisons)])]
    if view.evidence:
        out.append("  Evidence: " + ", ".join(f"{kind} {count}" for kind, count in view.evidence.items()))
    findings = pr_ai_findings(view)
    out.append("  " + ("; ".join(findings) if findings else "No detectable difference between the two groups."))
    out.append(f"  {view.caveat}")
    return out
