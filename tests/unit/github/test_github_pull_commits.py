"""Pull requests' commits and commit-message stripping, end to end against the loopback GitHub.

Every PR the pulls walk sees changed gets its commits fetched and stored under
`github/<owner>/<name>/pull_commits/<number>/`, and no stored page holds a commit message: each commit record
carries `prodlens_ai_coauthors` instead.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from prodlens.github.local import STATE_FILE, JsonFileSyncState, run_local_sync

from tests.unit.github.fake_github import MESSAGE_MARKER, START, TOKEN, FakeGithub, Fault, expected_tools

REPO = "acme/api"


def run(github: FakeGithub, out: Path, clock, deadline: float | None = None) -> dict:
    return run_local_sync(REPO, out, github.url, TOKEN, clock=clock, deadline=deadline)


def stored_pull_commits(out: Path) -> dict[int, list[dict]]:
    """PR number -> every commit record stored on its pull_commits pages (checking each page's name)."""
    found: dict[int, list[dict]] = {}
    for path in sorted((out / "github" / "acme" / "api" / "pull_commits").rglob("*.json")):
        body = path.read_bytes()
        assert path.name == f"{hashlib.sha256(body).hexdigest()[:32]}.json"
        assert path.parent.parent.name == "pull_commits"
        records = json.loads(body)
        assert isinstance(records, list) and records
        found.setdefault(int(path.parent.name), []).extend(records)
    return found


def pr_commit_requests(github: FakeGithub, since: int = 0) -> Counter:
    """PR number -> how many times its commits were listed (first page answered 200), from log index `since`."""
    return Counter(
        int(r.path.split("/")[5])
        for r in github.requests_since(since)
        if r.path.startswith("/repos/acme/api/pulls/")
        and r.path.endswith("/commits")
        and r.status == 200
        and "page" not in r.query
    )


def assert_every_pr_commit_stored(out: Path, github: FakeGithub) -> None:
    data = github.repos[REPO]
    stored = stored_pull_commits(out)
    assert {n: {r["sha"] for r in records} for n, records in stored.items()} == {
        n: {c["sha"] for c in commits} for n, commits in data.pull_commits.items()
    }
    served = {c["sha"]: c for commits in data.pull_commits.values() for c in commits}
    for records in stored.values():
        for record in records:
            assert record["prodlens_ai_coauthors"] == expected_tools(served[record["sha"]])
            assert "message" not in record["commit"]


def test_first_run_stores_the_commits_of_every_pull_request_with_their_ai_coauthors(github, clock, tmp_path):
    # Given a repository with 7 pull requests of 1 to 3 commits each, whose messages carry AI trailers or not
    data = github.repos[REPO]
    assert {len(c) for c in data.pull_commits.values()} == {1, 2, 3}

    # When the fetcher runs for the first time
    result = run(github, tmp_path, clock)

    # Then every PR's commits were requested once and stored under pull_commits/<number>/, each record with the
    # AI tools its message names and without the message
    pulls = result["endpoints"]["pulls"]
    assert result["status"] == "ok" and pulls["status"] == "updated"
    assert pr_commit_requests(github) == Counter(dict.fromkeys(data.pulls, 1))
    assert pulls["pull_commits_fetched"] == 7 and pulls["pull_commits_missing"] == 0
    assert pulls["pull_commit_pages"] == 7 and pulls["pages_written"] == 3 + 7
    assert_every_pr_commit_stored(tmp_path, github)
    # And the rotation of messages gives every kind of answer: Claude, Cursor, Copilot + aider, none
    tools = {tuple(r["prodlens_ai_coauthors"]) for rs in stored_pull_commits(tmp_path).values() for r in rs}
    assert {("claude_code",), ("cursor",), ("aider", "copilot"), ()} <= tools


def test_second_run_with_nothing_changed_fetches_no_pull_request_commits(github, clock, tmp_path):
    # Given a first complete run
    run(github, tmp_path, clock)
    mark = len(github.log)

    # When nothing changed and the fetcher runs again
    result = run(github, tmp_path, clock)

    # Then the pulls listing answers 304 and no PR's commits are requested
    assert result["endpoints"]["pulls"]["status"] == "not_modified"
    assert result["endpoints"]["pulls"]["pull_commits_fetched"] == 0
    assert [r.path for r in github.requests_since(mark) if "/pulls/" in r.path] == []
    assert result["pages_written"] == 0


def test_a_pull_request_updated_later_gets_its_commits_fetched_again(github, clock, tmp_path):
    # Given a first complete run, then two commits pushed to PR 2 (its updated_at moves past the checkpoint)
    run(github, tmp_path, clock)
    data = github.repos[REPO]
    checkpoint = JsonFileSyncState(tmp_path / STATE_FILE).get_checkpoint(REPO, "pulls")
    pushed = data.push_to_pull(2, "fixup", at=datetime.fromisoformat(checkpoint) + timedelta(hours=3), n_commits=2)
    mark = len(github.log)

    # When the fetcher runs again
    result = run(github, tmp_path, clock)

    # Then PR 2's commits are fetched again (and PR 7's, whose updated_at is the checkpoint itself), no others
    assert pr_commit_requests(github, mark) == Counter({2: 1, 7: 1})
    assert result["endpoints"]["pulls"]["pull_commits_fetched"] == 2
    # And PR 2's stored commits now include the pushed ones
    assert {c["sha"] for c in pushed} <= {r["sha"] for r in stored_pull_commits(tmp_path)[2]}
    assert_every_pr_commit_stored(tmp_path, github)


def test_the_commits_of_a_long_pull_request_are_paged_and_each_stored_once(github, clock, tmp_path):
    # Given PR 3 with 7 commits (3 pages at the server's 3 per page)
    data = github.repos[REPO]
    data.pull_commits[3] = []
    data.push_to_pull(3, "long", at=START + timedelta(hours=5), n_commits=7)

    # When
    result = run(github, tmp_path, clock)

    # Then its 3 pages are stored under pull_commits/3/, every commit exactly once
    assert result["endpoints"]["pulls"]["pull_commit_pages"] == 7 - 1 + 3
    pages = list((tmp_path / "github" / "acme" / "api" / "pull_commits" / "3").glob("*.json"))
    assert len(pages) == 3
    assert Counter(r["sha"] for r in stored_pull_commits(tmp_path)[3]) == Counter(
        {c["sha"]: 1 for c in data.pull_commits[3]}
    )


def test_a_rate_limit_on_a_pull_requests_commits_resumes_at_its_pulls_page_and_stores_every_prs_commits(
    github, clock, tmp_path
):
    # Given PR 3 (on pulls page 2: 7 6 5 | 4 3 2 | 1) whose commits hit the primary limit past the deadline
    reset = int(clock.time()) + 3600
    github.faults.append(
        Fault("/pulls/3/commits", status=403, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    )

    # When the first run meets it
    first = run(github, tmp_path, clock, deadline=clock.time() + 60)

    # Then it stops without moving the pulls checkpoint, to continue at pulls page 2
    assert first["endpoints"]["pulls"]["status"] == "rate_limited"
    state = JsonFileSyncState(tmp_path / STATE_FILE)
    assert state.get_checkpoint(REPO, "pulls") is None
    assert state.get_resume(REPO, "pulls")["next_url"].endswith("page=2")
    assert set(stored_pull_commits(tmp_path)) == {7, 6, 5, 4}

    # When the next run starts after the reset
    clock.now = reset + 10
    mark = len(github.log)
    second = run(github, tmp_path, clock, deadline=clock.time() + 60)

    # Then it continues at pulls page 2, fetches the commits of page 2's and page 3's PRs, and nothing is missing
    assert second["status"] == "ok" and second["endpoints"]["pulls"]["resumed"] is True
    assert pr_commit_requests(github, mark) == Counter({4: 1, 3: 1, 2: 1, 1: 1})
    assert_every_pr_commit_stored(tmp_path, github)
    assert JsonFileSyncState(tmp_path / STATE_FILE).get_resume(REPO, "pulls") is None


def test_a_server_error_on_a_pull_requests_commits_fails_the_pulls_walk_without_moving_its_checkpoint(
    github, clock, tmp_path
):
    # Given PR 6's commits answer 503 past every retry
    github.faults.append(Fault("/pulls/6/commits", status=503, times=99))

    # When
    result = run(github, tmp_path, clock)

    # Then the pulls endpoint reports the error, its checkpoint stays, and the other endpoints still ran
    assert result["endpoints"]["pulls"]["status"] == "error" and "503" in result["endpoints"]["pulls"]["error"]
    assert JsonFileSyncState(tmp_path / STATE_FILE).get_checkpoint(REPO, "pulls") is None
    assert result["endpoints"]["commits"]["status"] == "updated"


def test_a_pull_request_whose_commits_answer_404_is_counted_and_the_walk_completes(github, clock, tmp_path):
    # Given PR 5's commits are gone (GitHub answers 404)
    del github.repos[REPO].pull_commits[5]

    # When
    result = run(github, tmp_path, clock)

    # Then the walk completes, PR 5 is counted as missing, and every other PR's commits are stored
    pulls = result["endpoints"]["pulls"]
    assert result["status"] == "ok" and pulls["status"] == "updated"
    assert pulls["pull_commits_missing"] == 1 and pulls["pull_commits_fetched"] == 6
    assert set(stored_pull_commits(tmp_path)) == {1, 2, 3, 4, 6, 7}
    assert JsonFileSyncState(tmp_path / STATE_FILE).get_checkpoint(REPO, "pulls") is not None


def test_no_stored_page_contains_a_commit_message(github, clock, tmp_path):
    # Given a first sync, then an old branch merged (compare pages, with base_commit and merge_base_commit)
    run(github, tmp_path, clock)
    data = github.repos[REPO]
    newest = max(c["commit"]["committer"]["date"] for c in data.commits)
    branch = data.merge_old_branch(
        "old", authored=START - timedelta(days=30), n_commits=4, merged=datetime.fromisoformat(newest) + timedelta(1)
    )

    # When the fetcher runs again
    result = run(github, tmp_path, clock)
    assert result["endpoints"]["commits"]["merges_expanded"] == 1

    # Then no stored object holds any message text: neither the marker every title carries, nor a trailer line,
    # nor a signed payload (every other commit is signed)
    files = list((tmp_path / "github").rglob("*.json"))
    kinds = {f.relative_to(tmp_path / "github" / "acme" / "api").parts[0] for f in files}
    assert kinds == {"pulls", "commits", "issue_events", "compare", "pull_commits"}
    for path in files:
        body = path.read_bytes()
        assert MESSAGE_MARKER.encode() not in body, path
        assert b"o-authored-by" not in body.lower(), path
        assert b'"payload"' not in body, path
    # And every commit record of a commit page carries the AI tools of its message
    served = {c["sha"]: c for c in data.commits}
    compare_pages = [json.loads(p.read_bytes()) for p in files if "/compare/" in p.as_posix()]
    assert compare_pages
    for page in compare_pages:
        for record in [*page["commits"], page["base_commit"], page["merge_base_commit"]]:
            assert record["prodlens_ai_coauthors"] == expected_tools(served[record["sha"]])
    for path in (tmp_path / "github" / "acme" / "api" / "commits").glob("*.json"):
        for record in json.loads(path.read_bytes()):
            assert record["prodlens_ai_coauthors"] == expected_tools(served[record["sha"]])
    assert {c["sha"] for c in branch} <= {r["sha"] for page in compare_pages for r in page["commits"]}


def test_the_same_responses_are_stored_as_the_same_objects(github, clock, tmp_path):
    # Given two fresh output directories
    # When the same repository state is synced into each
    run(github, tmp_path / "a", clock)
    run(github, tmp_path / "b", clock)

    # Then both hold exactly the same objects, byte for byte (stripping is deterministic)
    def objects(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "github").rglob("*.json")}

    first, second = objects(tmp_path / "a"), objects(tmp_path / "b")
    assert first == second and len(first) == 3 + 3 + 2 + 7
