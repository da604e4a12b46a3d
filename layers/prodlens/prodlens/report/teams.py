"""The team view: daily_developer_metrics summed per team (and per person of one team) over the report window.

Teams come from config/people.json; people it does not map are grouped under UNASSIGNED. The figures describe
who used which tool and who delivered what; they do not compare teams causally (people choose their tools and
teams differ in their work), and the report says so next to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

UNASSIGNED = "(no team)"
CAVEAT = (
    "Team figures describe use and delivery side by side; teams are not comparable groups (people choose their "
    "tools, teams differ in their work), so a difference between teams is not an effect of AI."
)
_SUMMED = ("requests", "sessions", "ai_accepted_lines", "cost_usd", "commits_authored", "prs_merged", "prs_opened")


@dataclass
class Group:
    """One team's (or one person's) window: people, AI-active person-days and summed figures."""

    name: str
    people: set[str] = field(default_factory=set)
    ai_active_days: int = 0  # person-days with any AI tool
    person_days: int = 0  # person-days with any AI use or delivery
    totals: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(_SUMMED))
    tools: set[str] = field(default_factory=set)

    def add(self, row: Mapping[str, Any]) -> None:
        self.people.add(str(row["person"]))
        self.person_days += 1
        tools = [str(t) for t in row.get("tools") or []]
        self.ai_active_days += bool(tools)
        self.tools.update(tools)
        for name in _SUMMED:
            value = row.get(name)
            if value is not None:  # NULL = not measured: a sum of nothing measured stays None
                self.totals[name] = (self.totals[name] or 0) + value

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "people": len(self.people),
            "person_days": self.person_days,
            "ai_active_days": self.ai_active_days,
            "tools": sorted(self.tools),
            **self.totals,
        }


@dataclass(frozen=True)
class TeamView:
    teams: list[dict[str, Any]]  # one per team (all teams, or the one asked for)
    people: list[dict[str, Any]]  # one per person of the team asked for (empty for --by team)
    team_filter: str | None
    caveat: str = CAVEAT


def team_view(rows: Iterable[Mapping[str, Any]], team: str | None = None) -> TeamView:
    """Per-team sums of daily_developer_metrics rows (already narrowed to the window); with `team`, that team
    alone and one line per person of it."""
    teams: dict[str, Group] = {}
    people: dict[str, Group] = {}
    for row in rows:
        name = str(row["team"]) if row.get("team") else UNASSIGNED
        if team is not None and name != team:
            continue
        teams.setdefault(name, Group(name)).add(row)
        if team is not None:
            people.setdefault(str(row["person"]), Group(str(row["person"]))).add(row)
    ordered = sorted(teams.values(), key=lambda g: (g.name == UNASSIGNED, g.name))
    return TeamView(
        [g.as_dict() for g in ordered],
        [people[p].as_dict() for p in sorted(people)],
        team,
    )


TEAMS_TITLE = "Teams"
COLUMNS = (  # (heading, key, format)
    ("people", "people", "d"),
    ("AI days", "ai_active_days", "d"),
    ("requests", "requests", "d"),
    ("AI lines", "ai_accepted_lines", "d"),
    ("cost USD", "cost_usd", ".2f"),
    ("commits", "commits_authored", "d"),
    ("PRs merged", "prs_merged", "d"),
    ("PRs opened", "prs_opened", "d"),
)


def cell(value: Any, spec: str) -> str:
    """A figure as shown: '-' when not measured."""
    if value is None:
        return "-"
    return format(int(value) if spec == "d" else float(value), spec)


def table_rows(groups: list[dict[str, Any]]) -> list[list[str]]:
    """Each group as its shown cells: name, the COLUMNS, then its tools."""
    return [
        [g["name"], *(cell(g[key], spec) for _, key, spec in COLUMNS), ", ".join(g["tools"]) or "-"] for g in groups
    ]
