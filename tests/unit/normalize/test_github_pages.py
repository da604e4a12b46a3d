"""GitHub raw pages -> staging rows and dead letters (prodlens.normalize.github)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prodlens.normalize.fields import redact_raw
from prodlens.normalize.github import MAX_RAW_BYTES, parse_github_page
from prodlens.schema import GITHUB_COMMITS, GITHUB_ISSUE_EVENTS, GITHUB_PULL_COMMITS, GITHUB_PULLS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "github"
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def page(*records) -> bytes:
    return json.dumps(list(records)).encode()


def balanced(result) -> bool:
    return len(result.rows) + len(result.dead_letters) + result.skipped == result.read


def test_parse_pulls_page_open_and_merged_rows_match_schema():
    # Given an open PR (the fixture) and a merged one
    open_pr = fixture("pull_request.json")
    merged = {
        **open_pr,
        "id": 2,
        "number": 3,
        "state": "closed",
        "updated_at": "2019-05-16T10:00:00Z",
        "closed_at": "2019-05-16T10:00:00Z",
        "merged_at": "2019-05-16T10:00:00+00:00",
    }

    # When
    result = parse_github_page("github/Codertocat/Hello-World/pulls/p1.json", page(open_pr, merged))

    # Then
    assert (result.table, result.repo, result.read, result.skipped) == ("github_pulls", "codertocat/hello-world", 2, 0)
    assert result.dead_letters == []
    first, second = result.rows
    assert set(first) == set(GITHUB_PULLS.column_names)
    assert first == {
        "pr_id": 279147437,
        "pr_number": 2,
        "state": "open",
        "author": "Codertocat",
        "created_at": datetime(2019, 5, 15, 15, 20, 33),
        "updated_at": datetime(2019, 5, 15, 15, 20, 33),
        "closed_at": None,
        "merged_at": None,
        "head_ref": "changes",
        "base_ref": "master",
        "source_key": "github/Codertocat/Hello-World/pulls/p1.json",
    }
    assert second["merged_at"] == datetime(2019, 5, 16, 10, 0) and second["merged_at"].tzinfo is None


def test_parse_commits_page_sets_event_date_from_author_date_in_utc():
    # Given a commit authored late on the 14th at -05:00 (the 15th in UTC), committed later
    linked = fixture("commit.json")
    linked["commit"]["author"]["date"] = "2026-03-14T22:30:00-05:00"
    linked["commit"]["committer"]["date"] = "2026-03-16T08:00:00Z"
    # And a commit whose email is not linked to an account (author: null)
    unlinked = {**fixture("commit.json"), "sha": "f" * 40, "author": None}

    # When
    result = parse_github_page("github/acme/api/commits/c1.json", page(linked, unlinked))

    # Then
    assert result.dead_letters == [] and balanced(result)
    row, fallback = result.rows
    assert set(row) == set(GITHUB_COMMITS.column_names) | {"event_date"}
    assert row["author_date"] == datetime(2026, 3, 15, 3, 30)
    assert row["committer_date"] == datetime(2026, 3, 16, 8, 0)
    assert row["event_date"] == "2026-03-15"
    assert row["author"] == "octocat"
    assert fallback["author"] == "support@github.com"


def test_parse_compare_page_reads_the_commits_a_merge_brought_as_commit_rows():
    # Given the comparison of a merge commit's parents: two old commits, one without an author date
    old = fixture("commit.json")
    old["commit"]["author"]["date"] = "2026-01-05T10:00:00Z"
    broken = {**fixture("commit.json"), "sha": "e" * 40, "commit": {"message": "secret text", "author": {}}}
    body = json.dumps({"status": "ahead", "total_commits": 2, "commits": [old, broken], "files": []}).encode()

    # When
    result = parse_github_page("github/acme/api/compare/m1.json", body)

    # Then the commits are github_commits rows on their author day, and the bad one a dead letter at its index
    assert (result.table, result.repo, result.read) == ("github_commits", "acme/api", 2) and balanced(result)
    (row,) = result.rows
    assert (row["sha"], row["event_date"]) == (old["sha"], "2026-01-05")
    assert [(d["line_number"], d["reason"]) for d in result.dead_letters] == [(2, "missing_timestamp")]
    assert "secret text" not in result.dead_letters[0]["raw"]


@pytest.mark.parametrize("body", [b"[]", b'{"message": "Not Found"}', b'{"commits": {}}'])
def test_parse_compare_page_without_a_commits_array_is_one_dead_letter(body):
    result = parse_github_page("github/acme/api/compare/m1.json", body)

    assert result.rows == [] and result.read == 1 and balanced(result)
    assert [(d["line_number"], d["reason"]) for d in result.dead_letters] == [(0, "unexpected_shape")]


def test_parse_issue_events_keeps_every_event_with_its_name():
    # Given a reopened and a closed event
    reopened = fixture("issue_event.json")
    closed = {**reopened, "id": 2, "event": "closed", "created_at": "2011-04-15T00:00:00Z"}

    # When
    result = parse_github_page("github/acme/api/issue_events/e1.json", page(reopened, closed))

    # Then both are rows (nothing skipped); aggregate selects event = 'reopened'
    assert result.skipped == 0 and balanced(result)
    assert [(r["event"], r["pr_number"]) for r in result.rows] == [("reopened", 1347), ("closed", 1347)]
    assert set(result.rows[0]) == set(GITHUB_ISSUE_EVENTS.column_names)
    assert result.rows[0]["created_at"] == datetime(2011, 4, 14, 16, 0, 49)


@pytest.mark.parametrize(
    ("kind", "mutate", "reason"),
    [
        ("pulls", lambda r: r.pop("id"), "missing_id"),
        ("pulls", lambda r: r.update(number=None), "missing_id"),
        ("pulls", lambda r: r.update(id="279147437"), "invalid_id"),
        ("pulls", lambda r: r.update(updated_at="yesterday"), "invalid_timestamp"),
        ("pulls", lambda r: r.update(merged_at="2019-13-40T00:00:00Z"), "invalid_timestamp"),
        ("pulls", lambda r: r.pop("created_at"), "missing_timestamp"),
        ("commits", lambda r: r.pop("sha"), "missing_id"),
        ("commits", lambda r: r["commit"]["author"].pop("date"), "missing_timestamp"),
        ("commits", lambda r: r["commit"]["author"].update(date="1970-01-01T00:00:00Z"), "invalid_timestamp"),
        ("issue_events", lambda r: r.pop("issue"), "missing_id"),
        ("issue_events", lambda r: r.pop("event"), "missing_field"),
        ("issue_events", lambda r: r.update(created_at=1302796849), "invalid_timestamp"),
    ],
)
def test_parse_bad_element_becomes_dead_letter_with_its_index(kind, mutate, reason):
    # Given a page whose second element is broken
    name = {"pulls": "pull_request.json", "commits": "commit.json", "issue_events": "issue_event.json"}[kind]
    good, bad = fixture(name), fixture(name)
    mutate(bad)
    key = f"github/acme/api/{kind}/x.json"

    # When
    result = parse_github_page(key, page(good, bad), now=NOW)

    # Then the good one is a row and the bad one a dead letter at line 2, with its raw JSON
    assert len(result.rows) == 1 and result.read == 2 and balanced(result)
    (dead,) = result.dead_letters
    assert (dead["source_key"], dead["line_number"], dead["reason"]) == (key, 2, reason)
    assert json.loads(dead["raw"]) == redact_raw(bad)  # ids and timestamps kept, titles/bodies/messages not
    assert dead["rejected_at"] == datetime(2026, 3, 2, 6, 0)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b'{"message": "API rate limit exceeded"}', "unexpected_shape"),
        (b"", "invalid_json"),
    ],
)
def test_parse_page_that_is_not_an_array_is_one_dead_letter(body, reason):
    result = parse_github_page("github/acme/api/pulls/x.json", body)

    assert result.rows == [] and result.read == 1 and balanced(result)
    assert [(d["line_number"], d["reason"]) for d in result.dead_letters] == [(0, reason)]


def test_parse_non_object_element_is_unexpected_shape():
    result = parse_github_page("github/acme/api/commits/x.json", b'[1, "two", null]')

    assert [(d["line_number"], d["reason"]) for d in result.dead_letters] == [
        (1, "unexpected_shape"),
        (2, "unexpected_shape"),
        (3, "unexpected_shape"),
    ]
    assert balanced(result)


def test_parse_empty_page_reads_nothing():
    result = parse_github_page("github/acme/api/issue_events/x.json", b"[]")
    assert (result.rows, result.dead_letters, result.read) == ([], [], 0)


def test_parse_huge_invalid_page_truncates_raw_to_64_kib():
    body = b"[" + b"1" * (MAX_RAW_BYTES * 2)  # a bare number survives the redaction; the truncation cuts it
    (dead,) = parse_github_page("github/acme/api/pulls/x.json", body).dead_letters
    assert len(dead["raw"].encode()) == MAX_RAW_BYTES


def test_parse_invalid_repo_in_key_is_one_dead_letter():
    result = parse_github_page("github/acme/bad name!/pulls/x.json", page(fixture("pull_request.json")))
    assert [(d["line_number"], d["reason"]) for d in result.dead_letters] == [(0, "invalid_repo")]
    assert result.rows == [] and balanced(result)


@pytest.mark.parametrize(
    "key", ["traces/a.json", "github/acme/api/reviews/x.json", "github/acme/pulls/x.json", "github/acme/api/pulls/"]
)
def test_parse_key_outside_layout_raises(key):
    with pytest.raises(ValueError):
        parse_github_page(key, b"[]")


def test_parse_pull_commits_page_takes_the_pr_number_from_the_key_and_the_stored_ai_coauthors():
    # Given a pull request's commits page as github_sync stores it (messages replaced by prodlens_ai_coauthors)
    stored = {**fixture("commit.json"), "sha": "a" * 40, "prodlens_ai_coauthors": ["claude_code"]}
    stored["commit"] = {k: v for k, v in stored["commit"].items() if k != "message"}
    human = {**fixture("commit.json"), "sha": "b" * 40, "prodlens_ai_coauthors": []}

    # When
    result = parse_github_page("github/acme/api/pull_commits/42/p.json", page(stored, human))

    # Then
    assert (result.table, result.repo, result.read) == ("github_pull_commits", "acme/api", 2)
    assert result.dead_letters == []
    assert result.rows == [
        {"sha": "a" * 40, "ai_coauthors": ["claude_code"], "pr_number": 42, "source_key": result.rows[0]["source_key"]},
        {"sha": "b" * 40, "ai_coauthors": [], "pr_number": 42, "source_key": result.rows[1]["source_key"]},
    ]
    assert set(result.rows[0]) == set(GITHUB_PULL_COMMITS.column_names)


def test_parse_pull_commits_page_with_messages_reads_the_trailers_itself():
    # Given a page stored before messages were stripped (an older sync, a hand-dropped page)
    record = {**fixture("commit.json"), "sha": "c" * 40}
    record["commit"] = {
        **record["commit"],
        "message": "Fix the parser\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>\n",
    }

    # When
    (row,) = parse_github_page("github/acme/api/pull_commits/7/p.json", page(record)).rows

    # Then
    assert row["ai_coauthors"] == ["cursor"] and row["pr_number"] == 7


@pytest.mark.parametrize("key", ["github/acme/api/pull_commits/p.json", "github/acme/api/pull_commits/0x1/p.json"])
def test_a_pull_commits_key_without_a_pr_number_is_not_a_github_page(key):
    with pytest.raises(ValueError, match="pull request"):
        parse_github_page(key, page())
