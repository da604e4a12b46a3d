"""config/people.json: parsed strictly, applied when developer_daily_usage is built, and an edit re-attributes
every day without re-ingesting anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prodlens.lake import object_key
from prodlens.people import PEOPLE_KEY, Identity, InvalidPeopleConfig, parse_people
from prodlens.schema import USAGE_MEASURES, USAGE_RECORDS
from prodlens.services.aggregate import run_aggregate

from tests.unit.aggregate.aggregate_lakedata import (
    FakeCatalog,
    FakeStateStore,
    LocalDirStore,
    read_parquet,
    write_parquet,
)

NOW = datetime(2026, 5, 7, 6, 0, tzinfo=UTC)
PEOPLE = [
    {"person": "alice", "team": "payments", "emails": ["Alice@Acme.dev"], "github_logins": ["alice-gh"]},
    {"person": "bob", "team": "core", "ids": ["api_key:ci-bot"]},
]


def test_identities_are_lower_cased_and_every_person_is_their_own_identity():
    identities = parse_people(json.dumps(PEOPLE).encode())
    assert Identity("alice@acme.dev", "alice", "payments") in identities
    assert Identity("alice-gh", "alice", "payments") in identities
    assert Identity("api_key:ci-bot", "bob", "core") in identities
    assert Identity("bob", "bob", "core") in identities
    assert len(identities) == 5


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"person": "alice"}', "JSON array"),
        (b'["alice"]', "entry 1 is not an object"),
        (b'[{"team": "core"}]', "entry 1: person"),
        (b'[{"person": "a", "emails": "a@x.dev"}]', "emails must be a list"),
        (b'[{"person": "a", "emails": [""]}]', "each of emails"),
        (b'[{"person": "a", "emails": ["x@y.dev"]}, {"person": "b", "ids": ["X@Y.dev"]}]', "belongs to 'a' and to 'b'"),
    ],
)
def test_a_malformed_people_file_is_rejected_with_where_and_why(document, message):
    with pytest.raises(InvalidPeopleConfig, match=message):
        parse_people(document)


class _Lake:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.store = LocalDirStore(tmp / "lake")
        self.raw = LocalDirStore(tmp / "raw", bucket="raw")
        self.state = FakeStateStore()
        self.runs = 0

    def put_usage(self, day: str, developer: str, accepted_lines: int) -> None:
        row: dict[str, Any] = dict.fromkeys(name for name, _ in USAGE_MEASURES)
        row.update(
            record_id=f"{day}|{developer}",
            kind="report",
            source_format="cursor_daily",
            developer_id=developer,
            accepted_lines=accepted_lines,
            reported_at=datetime(2026, 5, 6),
            source_key="usage/cursor/day.json",
        )
        key = object_key(USAGE_RECORDS.name, {"event_date": day, "tool": "cursor"}, f"src-{day}")
        self.store.upload(write_parquet(self.tmp / "staging" / key, USAGE_RECORDS, [row]), key)
        self.state.mark_dirty(USAGE_RECORDS.name, [(day, "cursor")])

    def put_people(self, people: Any) -> None:
        path = self.tmp / "people-upload.json"
        path.write_bytes(people if isinstance(people, bytes) else json.dumps(people).encode())
        self.raw.upload(path, PEOPLE_KEY)

    def run(self) -> dict[str, Any]:
        self.runs += 1
        return run_aggregate(
            self.store, self.state, FakeCatalog(), self.tmp / f"work{self.runs}", now=NOW, config=self.raw
        )

    def attribution(self) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        result = {}
        for obj in self.store.list("developer_daily_usage/"):
            local = self.tmp / "read" / str(self.runs) / obj.key
            local.parent.mkdir(parents=True, exist_ok=True)
            self.store.download(obj.key, local)
            day = obj.key.split("event_date=")[1].split("/")[0]
            for row in read_parquet(local):
                result[(day, row["developer_id"])] = (row["person"], row["team"])
        return result


def test_editing_people_re_attributes_every_day_without_re_ingesting(tmp_path):
    lake = _Lake(tmp_path)
    lake.put_usage("2026-05-01", "alice@acme.dev", 10)
    lake.put_usage("2026-05-02", "api_key:ci-bot", 3)
    lake.put_usage("2026-05-03", "stranger@else.dev", 1)
    lake.put_people(PEOPLE)

    first = lake.run()
    assert lake.attribution() == {
        ("2026-05-01", "alice@acme.dev"): ("alice", "payments"),
        ("2026-05-02", "api_key:ci-bot"): ("bob", "core"),
        ("2026-05-03", "stranger@else.dev"): (None, None),
    }
    assert first["people_reattributed"] is True

    # When nothing changed, nothing is rebuilt
    quiet = lake.run()
    assert quiet["people_reattributed"] is False and quiet["usage_days"] == 0

    # When alice moves team (no usage data arrives), every day of hers is rebuilt with the new team
    lake.put_people([{**PEOPLE[0], "team": "core"}, PEOPLE[1]])
    moved = lake.run()
    assert moved["people_reattributed"] is True
    assert moved["usage_days"] == 3
    assert lake.attribution()[("2026-05-01", "alice@acme.dev")] == ("alice", "core")

    # When the file is removed, people are unmapped again
    (tmp_path / "raw" / PEOPLE_KEY).unlink()
    lake.run()
    assert set(lake.attribution().values()) == {(None, None)}


def test_an_invalid_people_file_fails_the_run_before_anything_is_written(tmp_path):
    lake = _Lake(tmp_path)
    lake.put_usage("2026-05-01", "alice@acme.dev", 10)
    lake.put_people(b'[{"person": "alice", "emails": "not-a-list"}]')

    with pytest.raises(InvalidPeopleConfig, match="emails must be a list"):
        lake.run()

    assert list(lake.store.list("developer_daily_usage/")) == []
    assert [m.event_date for m in lake.state.dirty(USAGE_RECORDS.name)] == ["2026-05-01"]  # still to do

    lake.put_people(PEOPLE)
    lake.run()
    assert lake.attribution() == {("2026-05-01", "alice@acme.dev"): ("alice", "payments")}
