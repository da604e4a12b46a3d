"""Rollout dates: `config/rollouts.json` in the raw bucket says when AI arrived for a repo, a team or everybody.

    [{"unit": "acme/api", "date": "2026-03-02"}, {"unit": "team:payments", "date": "2026-04-06"},
     {"unit": "*", "date": "2026-03-02"}]

A unit without an entry gets a detected date (stats.rollout.detect_rollout). A malformed file is an
InvalidRolloutsConfig: the correlate run that reads it fails with that message (an alarm sees it) rather than
estimating effects around wrong dates.
"""

from __future__ import annotations

from datetime import date

import orjson

from prodlens.errors import ProdLensError
from prodlens.github.sync import RepoRef

ROLLOUTS_KEY = "config/rollouts.json"
TEAM_PREFIX = "team:"
EVERYBODY = "*"


class InvalidRolloutsConfig(ProdLensError):
    """config/rollouts.json cannot be used as it is; the message says where and why."""


def parse_unit(value: object) -> str:
    """`Acme/API` -> `acme/api`; `team:payments` and `*` as they are."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a unit is a repository (owner/name), team:<name> or *")
    text = value.strip()
    if text == EVERYBODY or (text.startswith(TEAM_PREFIX) and len(text) > len(TEAM_PREFIX)):
        return text
    try:
        return RepoRef.parse(text).slug
    except ValueError:
        raise ValueError(f"{text!r} is not a repository (owner/name), team:<name> or *") from None


def parse_rollouts(data: bytes) -> dict[str, date]:
    """unit -> rollout date; raises InvalidRolloutsConfig."""
    try:
        entries = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidRolloutsConfig(f"{ROLLOUTS_KEY} is not valid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise InvalidRolloutsConfig(f"{ROLLOUTS_KEY} must be a JSON array of {{unit, date}}")
    dates: dict[str, date] = {}
    for index, entry in enumerate(entries, 1):
        try:
            if not isinstance(entry, dict):
                raise ValueError("not an object")
            unit = parse_unit(entry.get("unit"))
            day = date.fromisoformat(str(entry.get("date")))
            if unit in dates and dates[unit] != day:
                raise ValueError(f"{unit} has two dates")
        except ValueError as exc:
            raise InvalidRolloutsConfig(f"{ROLLOUTS_KEY}: entry {index}: {exc}") from None
        dates[unit] = day
    return dates
