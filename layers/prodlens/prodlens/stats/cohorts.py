"""The `cohort_weekly` table: each week, developers grouped by how much they used AI, and what they delivered.

A developer's week is the Monday-Sunday week of daily_developer_metrics rows; their cohort is set by their
AI-active days that week (a day with any AI requests, sessions or AI-accepted lines): none 0, light 1-2,
moderate 3-4, heavy 5 or more (COHORTS). Per (week, cohort, team), and per (week, cohort) over every team as
team `*`: the developers, merged PRs per developer, the median hours from opening to merge of the PRs they merged
that week, the share of those PRs reopened, and AI-accepted lines per developer.

Cohorts are self-selected: people choose how much to use AI, and the heavy users may be the ones on different
work. A difference between cohorts describes them; it is not an effect of AI (the report says so).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from prodlens.people import Identity
from prodlens.stats.correlate import Rows, as_rows, metric_value, to_date

# (cohort, the fewest AI-active days of the week that puts a developer in it), heaviest first
COHORTS = (("heavy", 5), ("moderate", 3), ("light", 1), ("none", 0))
ALL_TEAMS = "*"
AI_FIELDS = ("requests", "sessions", "ai_accepted_lines")


def cohort(ai_days: int) -> str:
    return next(name for name, least in COHORTS if ai_days >= least)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _merge_hours(pr: Mapping[str, Any]) -> float | None:
    created, merged = pr.get("created_at"), pr.get("merged_at")
    if not isinstance(created, datetime) or not isinstance(merged, datetime):
        return None
    return max(0.0, (merged - created).total_seconds() / 3600.0)


def cohort_weekly(
    developer_daily: Rows,
    pull_requests: Rows = (),
    people: Iterable[Identity] = (),
    *,
    computed_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every cohort_weekly row, sorted by week, team (`*` first), cohort (none to heavy)."""
    person_of = {identity.identity: identity.person for identity in people}
    weeks: dict[tuple[date, str], dict[str, Any]] = {}
    for row in as_rows(developer_daily):
        key = (week_of(to_date(row["event_date"])), str(row["person"]))
        week = weeks.setdefault(key, {"team": row.get("team"), "ai_days": 0, "prs": 0.0, "ai_lines": 0.0})
        week["ai_days"] += any(metric_value(row.get(f)) > 0 for f in AI_FIELDS)
        week["prs"] += metric_value(row.get("prs_merged"))
        week["ai_lines"] += metric_value(row.get("ai_accepted_lines"))
        week["team"] = week["team"] or row.get("team")
    merged: dict[tuple[date, str], list[tuple[float | None, bool]]] = defaultdict(list)
    for pr in as_rows(pull_requests):
        if not isinstance(pr.get("merged_at"), datetime) or not pr.get("author"):
            continue
        person = person_of.get(str(pr["author"]).lower(), str(pr["author"]))
        reopened = metric_value(pr.get("reopened_count")) > 0
        merged[(week_of(pr["merged_at"].date()), person)].append((_merge_hours(pr), reopened))

    groups: dict[tuple[date, str, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for (week, person), figures in weeks.items():
        name = cohort(int(figures["ai_days"]))
        for team in (ALL_TEAMS, figures["team"]):
            groups[(week, name, team)].append((person, figures))
    rows = []
    order = {name: i for i, (name, _) in enumerate(reversed(COHORTS))}
    for (week, name, team), members in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][2] != ALL_TEAMS, str(item[0][2]), order[item[0][1]])
    ):
        prs = [pr for person, _ in members for pr in merged.get((week, person), [])]
        hours = [h for h, _ in prs if h is not None]
        count = len(members)
        rows.append(
            {
                "week": week,
                "cohort": name,
                "team": team,
                "developers": count,
                "prs_merged_per_developer": sum(f["prs"] for _, f in members) / count,
                "median_merge_hours": float(np.median(hours)) if hours else None,
                "reopen_rate": sum(r for _, r in prs) / len(prs) if prs else None,
                "ai_accepted_lines_per_developer": sum(f["ai_lines"] for _, f in members) / count,
                "computed_at": computed_at,
            }
        )
    return rows
