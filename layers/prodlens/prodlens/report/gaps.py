"""Data warnings: days in the report window without AI or GitHub data, and repos whose AI data stopped.

The rules (docs/metrics.md, "Data warnings"):
- a *working day* is a Monday–Friday that is not a non-working day of the team (a configured holiday, or a day
  the whole team stopped, found from the data as correlate finds it); weekends and those days are never a gap
  on their own, so a quiet weekend or holiday is not warned about;
- for each daily table (AI = daily_session_metrics, GitHub = daily_github_metrics), every run of consecutive
  window days without a row for any repo that holds at least one working day is one warning, shown from its
  first to its last working day; a run at the start of the window says when the table's data starts instead;
- per repo (when the report is not narrowed to one): a run of days inside the repo's own AI data span without an
  AI row for it, with at least MIN_REPO_GAP_WORKING_DAYS working days that are not already in an all-repo gap;
- a repo's AI data *stopped* when its last AI day is more than STOPPED_AFTER_DAYS before the window end while its
  GitHub data goes on into the last STOPPED_AFTER_DAYS days of the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from prodlens.stats.correlate import to_date

STOPPED_AFTER_DAYS = 7
MIN_REPO_GAP_WORKING_DAYS = 3
ALL_REPOS = None

AI = "AI"
GITHUB = "GitHub"


@dataclass(frozen=True)
class DataWarning:
    """One warning: what is missing (`kind`), for whom (`repo`, None = every repo), when, and the sentence shown."""

    kind: str  # "gap" | "late_start" | "repo_gap" | "stopped" | "no_data"
    source: str  # "AI" or "GitHub"
    repo: str | None
    start: date
    end: date
    days: int
    working_days: int
    message: str


def span_words(start: date, end: date) -> str:
    """'2026-03-14..2026-03-16 (3 days)', or '2026-03-16 (1 day)'."""
    days = (end - start).days + 1
    when = f"{start}" if start == end else f"{start}..{end}"
    return f"{when} ({days} day{'s' if days != 1 else ''})"


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _runs(days: list[date], present: set[date]) -> list[tuple[date, date]]:
    """Maximal runs of consecutive `days` not in `present`."""
    runs: list[tuple[date, date]] = []
    start = None
    for day in days:
        if day in present:
            if start is not None:
                runs.append((start, day - timedelta(days=1)))
                start = None
        elif start is None:
            start = day
    if start is not None:
        runs.append((start, days[-1]))
    return runs


class _Calendar:
    def __init__(self, off_days: Iterable[date]) -> None:
        self.off = frozenset(off_days)

    def working(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.off

    def count(self, start: date, end: date, exclude: AbstractSet[date] = frozenset()) -> int:
        return sum(self.working(d) and d not in exclude for d in _days(start, end))

    def trim(self, start: date, end: date) -> tuple[date, date]:
        """The run cut to its first and last working day (it holds one): an empty weekend beside it is normal."""
        working = [d for d in _days(start, end) if self.working(d)]
        return working[0], working[-1]


def _by_repo(rows: Iterable[Mapping[str, Any]]) -> dict[str, set[date]]:
    out: dict[str, set[date]] = {}
    for row in rows:
        out.setdefault(str(row["repo"]), set()).add(to_date(row["event_date"]))
    return out


def _table_gaps(
    source: str, present: set[date], window: tuple[date, date], calendar: _Calendar
) -> tuple[list[DataWarning], set[date]]:
    """All-repo warnings of one table, and the days they cover."""
    start, end = window
    days = _days(start, end)
    if not present:
        working = calendar.count(start, end)
        message = f"no {source} data in the window ({span_words(start, end)})"
        return [DataWarning("no_data", source, ALL_REPOS, start, end, len(days), working, message)], set(days)
    warnings: list[DataWarning] = []
    covered: set[date] = set()
    for first, last in _runs(days, present):
        working = calendar.count(first, last)
        if working == 0:
            continue  # weekends, holidays, days the whole team stopped: normal
        covered.update(_days(first, last))
        if first == start:
            n = (last - first).days + 1
            message = f"{source} data starts on {last + timedelta(days=1)}, {n} days after the window start"
            warnings.append(DataWarning("late_start", source, ALL_REPOS, first, last, n, working, message))
            continue
        tail = ", to the window end" if last == end else ""
        gap_first, gap_last = calendar.trim(first, last)
        message = f"no {source} data on {span_words(gap_first, gap_last)}{tail}"
        n = (gap_last - gap_first).days + 1
        warnings.append(DataWarning("gap", source, ALL_REPOS, gap_first, gap_last, n, working, message))
    return warnings, covered


def _repo_warnings(
    ai: dict[str, set[date]],
    github: dict[str, set[date]],
    window: tuple[date, date],
    calendar: _Calendar,
    pooled_ai_gaps: set[date],
) -> list[DataWarning]:
    _, end = window
    warnings: list[DataWarning] = []
    for repo in sorted(ai):
        days = sorted(ai[repo])
        for first, last in _runs(_days(days[0], days[-1]), ai[repo]):
            working = calendar.count(first, last, exclude=pooled_ai_gaps)
            if working >= MIN_REPO_GAP_WORKING_DAYS:
                gap_first, gap_last = calendar.trim(first, last)
                n = (gap_last - gap_first).days + 1
                message = f"{repo}: no AI data on {span_words(gap_first, gap_last)}"
                warnings.append(DataWarning("repo_gap", AI, repo, gap_first, gap_last, n, working, message))
        last_ai = days[-1]
        recent = end - timedelta(days=STOPPED_AFTER_DAYS)
        last_github = max(github.get(repo, set()), default=None)
        if last_ai < recent and last_github is not None and last_github > recent:
            n = (end - last_ai).days
            message = (
                f"{repo}: AI data stopped after {last_ai} ({n} days before the window end) "
                f"while its GitHub data continues to {last_github}"
            )
            start = last_ai + timedelta(days=1)
            working = calendar.count(start, end)
            warnings.append(DataWarning("stopped", AI, repo, start, end, n, working, message))
    return warnings


def data_warnings(
    session_rows: Iterable[Mapping[str, Any]],
    github_rows: Iterable[Mapping[str, Any]],
    window: tuple[date, date] | None,
    off_days: Iterable[date] = (),
    *,
    per_repo: bool = True,
) -> list[DataWarning]:
    """Warnings about the report window's data (rules in the module docstring); [] without a window.

    `session_rows` / `github_rows`: the daily rows inside the window (`event_date`, `repo`); `off_days`: the team's
    non-working weekdays (holidays and detected stops); `per_repo`: add the per-repo rules.
    """
    if window is None:
        return []
    sessions, github = list(session_rows), list(github_rows)
    calendar = _Calendar(off_days)
    ai_days = {to_date(r["event_date"]) for r in sessions}
    github_days = {to_date(r["event_date"]) for r in github}
    ai_warnings, ai_gaps = _table_gaps(AI, ai_days, window, calendar)
    github_warnings, _ = _table_gaps(GITHUB, github_days, window, calendar)
    warnings = ai_warnings + github_warnings
    if per_repo:
        warnings += _repo_warnings(_by_repo(sessions), _by_repo(github), window, calendar, ai_gaps)
    return warnings
