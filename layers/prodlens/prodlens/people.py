"""People and teams: `config/people.json` in the raw bucket maps every identity a source uses to a person and a team.

    [{"person": "alice", "team": "payments", "emails": ["alice@acme.dev"], "github_logins": ["alice-gh"],
      "ids": ["8c1f...", "api_key:ci-bot"]}]

It is applied when the tables are built (aggregate), never at ingestion, so editing it re-attributes all history
without re-ingesting. Identities match case-insensitively (e-mails and GitHub logins are case-insensitive). An
identity named by two different people, or a malformed file, is an InvalidPeopleConfig: the run that reads it
fails with that message (an alarm sees it), rather than attributing anybody's work to the wrong person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from prodlens.errors import ProdLensError

PEOPLE_KEY = "config/people.json"
IDENTITY_FIELDS = ("emails", "github_logins", "ids")


class InvalidPeopleConfig(ProdLensError):
    """config/people.json cannot be used as it is; the message says where and why."""


@dataclass(frozen=True)
class Identity:
    """One identity (lower-cased) and whom it belongs to."""

    identity: str
    person: str
    team: str | None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidPeopleConfig(f"{PEOPLE_KEY}: {where} must be a non-empty string")
    return value.strip()


def parse_people(data: bytes) -> list[Identity]:
    """Every identity of the file, sorted; raises InvalidPeopleConfig."""
    try:
        entries = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidPeopleConfig(f"{PEOPLE_KEY} is not valid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise InvalidPeopleConfig(f"{PEOPLE_KEY} must be a JSON array of people")
    owner: dict[str, Identity] = {}
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise InvalidPeopleConfig(f"{PEOPLE_KEY}: entry {index} is not an object")
        person = _text(entry.get("person"), f"entry {index}: person")
        team = _text(entry["team"], f"entry {index}: team") if entry.get("team") is not None else None
        for field in IDENTITY_FIELDS:
            values = entry.get(field, [])
            if not isinstance(values, list):
                raise InvalidPeopleConfig(f"{PEOPLE_KEY}: entry {index}: {field} must be a list of strings")
            for value in values:
                identity = _text(value, f"entry {index}: each of {field}").lower()
                known = owner.get(identity)
                if known is not None and (known.person, known.team) != (person, team):
                    raise InvalidPeopleConfig(
                        f"{PEOPLE_KEY}: identity {identity!r} belongs to {known.person!r} and to {person!r}"
                    )
                owner[identity] = Identity(identity, person, team)
        # A person is always their own identity too (a GitHub login or an e-mail used as the person's name).
        owner.setdefault(person.lower(), Identity(person.lower(), person, team))
    return [owner[key] for key in sorted(owner)]
