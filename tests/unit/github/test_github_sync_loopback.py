"""The fetcher end to end against a real HTTP server on loopback, writing to a local directory."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prodlens.github.client import GithubClient, GithubHttpError
from prodlens.github.local import STATE_FILE, JsonFileSyncState, run_local_sync
from prodlens.normalize.github import parse_github_page

from tests.unit.github.fake_github import (
    START,
    TOKEN,
    FakeGithub,
    Fault,
    _iso,
    expected_tools,
    make_commit,
    make_event,
)


def run(github: FakeGithub, out: Path, clock, deadline: float | None = None, repo: str = "acme/api") -> dict:
    return run_local_sync(repo, out, github.url, TOKEN, clock=clock, deadline=deadline)


LISTINGS = ("pulls", "commits", "issue_events", "compare")  # pull_commits pages are read by pull_commits()


def lake(out: Path) -> dict[str, list[dict]]:
    """Every row of every listing page on disk, parsed the way normalize will."""
    rows: dict[str, list[dict]] = {"github_pulls": [], "github_commits": [], "github_issue_events": []}
    for path in sorted((out / "github").rglob("*.json")):
        key = path.relative_to(out).as_posix()
        if key.split("/")[3] not in LISTINGS:
            continue
        page = parse_github_page(key, path.read_bytes())
        assert page.dead_letters == []
        rows[page.table].extend(page.rows)
    return rows


def assert_exactly_once(out: Path, github: FakeGithub, slug: str = "acme/api") -> None:
    data = github.repos[slug]
    rows = lake(out)
    pulls = Counter(r["pr_id"] for r in rows["github_pulls"])
    commits = Counter(r["sha"] for r in rows["github_commits"])
    events = Counter(r["event_id"] for r in rows["github_issue_events"])
    assert pulls == Counter(p["id"] for p in data.pulls.values())
    assert commits == Counter(c["sha"] for c in data.commits)
    assert events == Counter(e["id"] for e in data.events)
    latest = {r["pr_id"]: r for r in rows["github_pulls"]}
    for pr in data.pulls.values():
        assert _iso_naive(latest[pr["id"]]["updated_at"]) == pr["updated_at"]
        assert (latest[pr["id"]]["merged_at"] is not None) == (pr["merged_at"] is not None)


def latest_versions(out: Path) -> dict[int, dict]:
    latest: dict[int, dict] = {}
    for row in lake(out)["github_pulls"]:
        if row["pr_id"] not in latest or row["updated_at"] > latest[row["pr_id"]]["updated_at"]:
            latest[row["pr_id"]] = row
    return latest


def _iso_naive(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_sync_two_runs_store_every_record_once_and_second_run_is_all_304(github, clock, tmp_path):
    # Given a repository with paged pulls (open and merged), commits and issue events
    # When the fetcher runs twice
    first = run(github, tmp_path, clock)
    files_after_first = sorted(p.relative_to(tmp_path) for p in (tmp_path / "github").rglob("*.json"))
    mark = len(github.log)
    second = run(github, tmp_path, clock)

    # Then every PR, commit and event is on disk exactly once, at its latest version
    assert first["status"] == "ok"
    assert first["pages_written"] == 3 + 3 + 2 + 7  # 7 pulls, 8 commits, 5 events at 3 per page; 7 PRs' commits
    assert_exactly_once(tmp_path, github)
    # And the second run sends only conditional requests, all answered 304, and writes nothing
    again = github.requests_since(mark)
    assert [r.status for r in again] == [304, 304, 304]
    assert all(r.if_none_match for r in again)
    assert second["status"] == "ok" and second["pages_written"] == 0 and second["not_modified"] == 3
    assert {e["status"] for e in second["endpoints"].values()} == {"not_modified"}
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "github").rglob("*.json")) == files_after_first
    assert (tmp_path / STATE_FILE).exists()


def test_sync_pages_are_stored_byte_for_byte_except_commit_messages(github, clock, tmp_path):
    # Given / When
    run(github, tmp_path, clock)

    # Then each pulls and issue-events page is exactly a body the server sent (a JSON array, unmodified)
    data = github.repos["acme/api"]
    root = tmp_path / "github" / "acme" / "api"
    served = {
        "pulls": data.listing("pulls", {}),
        "issue_events": data.listing("issue_events", {}),
        "commits": data.listing("commits", {}),
    }
    for kind in ("pulls", "issue_events"):
        pages = sorted(root.joinpath(kind).glob("*.json"))
        assert len(pages) == {"pulls": 3, "issue_events": 2}[kind]
        bodies = {json.dumps(served[kind][i : i + 3], indent=2).encode() for i in range(0, len(served[kind]), 3)}
        assert {page.read_bytes() for page in pages} == bodies
    # And each commits page is the served page with every message replaced by the AI tools its trailers name
    pages = sorted(root.joinpath("commits").glob("*.json"))
    assert len(pages) == 3
    stored = [record for page in pages for record in json.loads(page.read_bytes())]
    assert sorted(stored, key=lambda r: r["sha"]) == sorted(
        (without_message(c) for c in served["commits"]), key=lambda r: r["sha"]
    )


def without_message(commit: dict) -> dict:
    """What a served commit record must look like once stored: no message (nor signed payload), tools added."""
    record = json.loads(json.dumps(commit))
    del record["commit"]["message"]
    record["commit"]["verification"].pop("payload")
    return {**record, "prodlens_ai_coauthors": expected_tools(commit)}


def test_sync_after_changes_fetches_only_new_pages_and_keeps_latest_versions(github, clock, tmp_path):
    # Given a first complete run
    run(github, tmp_path, clock)
    data = github.repos["acme/api"]
    # And then PR 1 is merged, a commit lands and PR 1 is reopened... then merged
    pr = data.pulls[1]
    later = max(p["updated_at"] for p in data.pulls.values())
    newer = _iso_shift(later, hours=5)
    pr.update(state="closed", merged=True, merged_at=newer, closed_at=newer, updated_at=newer)
    newest_commit = max(c["commit"]["committer"]["date"] for c in data.commits)
    data.commits.append(make_commit("late", authored=_parse(newest_commit) + timedelta(hours=1)))
    data.events.append(make_event(9_001, event="reopened", number=1, created=_parse(newer)))
    mark = len(github.log)

    # When the fetcher runs again
    result = run(github, tmp_path, clock)

    # Then it stops paging pulls at the checkpoint (one page) and stores the new versions
    pulls_requests = [r for r in github.requests_since(mark) if r.path.endswith("/pulls")]
    assert [r.status for r in pulls_requests] == [200]
    assert result["status"] == "ok"
    latest = latest_versions(tmp_path)
    assert latest[pr["id"]]["merged_at"] is not None and _iso_naive(latest[pr["id"]]["updated_at"]) == newer
    rows = lake(tmp_path)
    assert {c["sha"] for c in data.commits} == {r["sha"] for r in rows["github_commits"]}
    assert 9_001 in {r["event_id"] for r in rows["github_issue_events"]}

    # And a further run with no change is answered entirely by 304s (the new commits URL was primed)
    mark = len(github.log)
    final = run(github, tmp_path, clock)
    assert [r.status for r in github.requests_since(mark)] == [304, 304, 304]
    assert final["pages_written"] == 0


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (429, {"Retry-After": "7"}),
        (403, {"Retry-After": "7"}),
    ],
    ids=["429", "403-retry-after"],
)
def test_sync_secondary_rate_limit_is_waited_out_and_page_retried(github, clock, tmp_path, status, headers):
    # Given page 2 of the pulls listing is rate-limited once
    github.faults.append(
        Fault("/pulls", page=2, status=status, headers=headers, body=b'{"message": "secondary rate limit"}')
    )

    # When
    result = run(github, tmp_path, clock, deadline=clock.time() + 900)

    # Then the client slept the Retry-After on the injected clock and re-requested the same page
    assert clock.sleeps == [7.0]
    page2 = [r.status for r in github.log if r.path.endswith("/pulls") and r.query.get("page") == "2"]
    assert page2 == [status, 200]
    assert result["status"] == "ok"
    assert_exactly_once(tmp_path, github)


def test_sync_primary_rate_limit_waits_until_reset(github, clock, tmp_path):
    # Given the commits listing hits the primary limit, resetting in 40 s
    reset = int(clock.time()) + 40
    github.faults.append(
        Fault(
            "/repos/acme/api/commits",
            page=2,
            status=403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    )

    # When
    result = run(github, tmp_path, clock, deadline=clock.time() + 900)

    # Then it waited until just after the reset and lost nothing
    assert len(clock.sleeps) == 1 and clock.time() >= reset
    assert result["status"] == "ok"
    assert_exactly_once(tmp_path, github)


def test_sync_rate_limit_beyond_budget_stops_cleanly_and_next_run_resumes(github, clock, tmp_path):
    # Given page 2 of commits is rate-limited until long after this invocation's deadline
    reset = int(clock.time()) + 3600
    github.faults.append(
        Fault(
            "/repos/acme/api/commits",
            page=2,
            status=403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    )

    # When the first run meets it
    first = run(github, tmp_path, clock, deadline=clock.time() + 60)

    # Then it stops without sleeping, reports the limit, and keeps the commits checkpoint where it was
    assert clock.sleeps == []
    assert first["status"] == "rate_limited"
    assert first["endpoints"]["pulls"]["status"] == "updated"
    assert first["endpoints"]["commits"]["status"] == "rate_limited"
    assert first["endpoints"]["commits"]["retry_at"] >= reset
    assert first["endpoints"]["issue_events"]["status"] == "deferred"
    state = JsonFileSyncState(tmp_path / STATE_FILE)
    assert state.get_checkpoint("acme/api", "commits") is None
    assert state.get_checkpoint("acme/api", "issue_events") is None

    assert state.get_resume("acme/api", "commits")["next_url"].endswith("page=2")

    # When the next run starts after the reset
    clock.now = reset + 10
    mark = len(github.log)
    second = run(github, tmp_path, clock, deadline=clock.time() + 60)

    # Then it continues commits at the page it did not get, and nothing was skipped or doubled
    commit_pages = [
        r.query.get("page", "1") for r in github.requests_since(mark) if r.path == "/repos/acme/api/commits"
    ]
    assert commit_pages[:2] == ["2", "3"]
    assert second["status"] == "ok"
    assert second["endpoints"]["pulls"]["status"] == "not_modified"
    assert second["endpoints"]["commits"]["resumed"] is True
    assert_exactly_once(tmp_path, github)
    assert JsonFileSyncState(tmp_path / STATE_FILE).get_resume("acme/api", "commits") is None

    # And the run after that is answered by 304s only
    mark = len(github.log)
    third = run(github, tmp_path, clock, deadline=clock.time() + 60)
    assert [r.status for r in github.requests_since(mark)] == [304, 304, 304]
    assert third["pages_written"] == 0
    assert_exactly_once(tmp_path, github)


def test_sync_continued_walk_then_top_walk_catches_updates_made_meanwhile(github, clock, tmp_path):
    # Given a first run stopped on pulls page 2 by a secondary limit longer than its budget
    github.faults.append(Fault("/pulls", page=2, status=429, headers={"Retry-After": "120"}))
    first = run(github, tmp_path, clock, deadline=clock.time() + 60)
    assert first["endpoints"]["pulls"]["status"] == "rate_limited"
    assert first["endpoints"]["pulls"]["pages_written"] == 1 + 3  # page 1, and the commits of its 3 PRs
    assert first["endpoints"]["pulls"]["pull_commit_pages"] == 3
    clock.now += 120
    # And meanwhile PR 7 (already stored from page 1) and PR 1 (on page 3) are updated
    data = github.repos["acme/api"]
    newest = max(p["updated_at"] for p in data.pulls.values())
    for number, hours in ((7, 1), (1, 2)):
        data.pulls[number]["updated_at"] = _iso_shift(newest, hours=hours)
        data.pulls[number]["merged_at"] = data.pulls[number]["updated_at"]

    # When two more runs happen (the first continues the walk, the second walks from the top)
    assert run(github, tmp_path, clock)["endpoints"]["pulls"]["resumed"] is True
    assert run(github, tmp_path, clock)["endpoints"]["pulls"]["resumed"] is False

    # Then every PR is on disk at its latest version
    latest = latest_versions(tmp_path)
    assert {k: _iso_naive(v["updated_at"]) for k, v in latest.items()} == {
        p["id"]: p["updated_at"] for p in data.pulls.values()
    }


def test_sync_server_error_once_is_retried(github, clock, tmp_path):
    # Given the first issue-events page fails with a 502 once
    github.faults.append(Fault("/issues/events", page=1, status=502))

    # When
    result = run(github, tmp_path, clock)

    # Then the request is retried after a back-off and the run succeeds
    assert clock.sleeps == [1.0]
    assert result["status"] == "ok"
    assert_exactly_once(tmp_path, github)


def test_sync_persistent_error_on_one_endpoint_reports_error_and_others_continue(github, clock, tmp_path):
    # Given the issue events endpoint answers 404
    github.faults.append(Fault("/issues/events", status=404, body=b'{"message": "Not Found"}', times=99))

    # When
    result = run(github, tmp_path, clock)

    # Then pulls and commits are stored and the endpoint reports the error (without the token)
    assert result["status"] == "error"
    assert result["endpoints"]["issue_events"]["status"] == "error"
    assert "404" in result["endpoints"]["issue_events"]["error"]
    assert result["endpoints"]["pulls"]["status"] == result["endpoints"]["commits"]["status"] == "updated"
    assert TOKEN not in repr(result)


def test_sync_empty_repository_commits_409_is_empty(github, clock, tmp_path):
    # Given GitHub's answer for an empty repository
    github.faults.append(
        Fault("/repos/acme/api/commits", status=409, body=b'{"message": "Git Repository is empty."}', times=9)
    )

    # When
    result = run(github, tmp_path, clock)

    # Then it is not an error
    assert result["endpoints"]["commits"]["status"] == "empty"
    assert result["status"] == "ok"


def test_sync_stored_page_bytes_are_never_a_rate_limit_body(github, clock, tmp_path):
    # Given a 5xx that persists past all retries on pulls page 2
    github.faults.append(Fault("/pulls", page=2, status=503, times=99))

    # When
    result = run(github, tmp_path, clock)

    # Then the endpoint fails, no checkpoint moves, and only real pages are on disk
    assert result["endpoints"]["pulls"]["status"] == "error"
    assert JsonFileSyncState(tmp_path / STATE_FILE).get_checkpoint("acme/api", "pulls") is None
    assert all(page.read_bytes().startswith(b"[") for page in (tmp_path / "github").rglob("*.json"))


def test_client_refuses_link_to_another_origin_and_never_sends_it_the_token(github, clock):
    # Given a second server, and Link headers that point at it
    other = FakeGithub(token="other").start()
    try:
        github.next_link_base = other.url
        client = GithubClient(TOKEN, github.url, clock=clock)
        first = client.get(f"{github.url}/repos/acme/api/pulls?state=all&per_page=100")

        # When the client is asked to follow the next link
        with pytest.raises(GithubHttpError):
            client.get(first.next_url)

        # Then the other server never saw a request
        assert other.log == []
    finally:
        other.stop()


def test_client_repr_and_errors_do_not_leak_the_token(github, clock):
    client = GithubClient(TOKEN, github.url, clock=clock)
    assert TOKEN not in repr(client)
    with pytest.raises(GithubHttpError) as err:
        client.get(f"{github.url}/repos/nobody/nothing/pulls")
    assert TOKEN not in str(err.value)


def _parse(iso: str):
    from datetime import datetime

    return datetime.fromisoformat(iso)


def _iso_shift(iso: str, **delta) -> str:
    return _iso(_parse(iso) + timedelta(**delta))


# --- merges of old branches: commits whose dates are older than the checkpoint ---------------------------------


def _old_branch_merged_after_first_run(github: FakeGithub, n_commits: int = 4) -> list[dict]:
    data = github.repos["acme/api"]
    newest = max(c["commit"]["committer"]["date"] for c in data.commits)
    merged = datetime.fromisoformat(newest) + timedelta(days=2)
    return data.merge_old_branch("old-feature", authored=START - timedelta(days=30), n_commits=n_commits, merged=merged)


def test_sync_stores_the_old_commits_a_merge_brings_after_the_checkpoint_exactly_once(github, clock, tmp_path):
    # Given a first sync, then a branch authored a month earlier merged with a merge commit
    run(github, tmp_path, clock)
    branch = _old_branch_merged_after_first_run(github)
    # When the fetcher runs again (its `since` is after every branch commit's date) and once more
    second = run(github, tmp_path, clock)
    mark = len(github.log)
    third = run(github, tmp_path, clock)
    # Then the listing alone does not show the branch commits, but the comparison of the merge does
    listed = github.repos["acme/api"].listing("commits", {"since": second["endpoints"]["commits"]["checkpoint"]})
    assert not {c["sha"] for c in branch} & {c["sha"] for c in listed}
    assert second["endpoints"]["commits"]["merges_expanded"] == 1
    assert second["endpoints"]["commits"]["merges_unexpanded"] == 0
    # And every commit on the default branch is stored, the old ones exactly once
    assert_every_commit_stored(tmp_path, github, branch)
    old = [r for r in lake(tmp_path)["github_commits"] if r["sha"] in {c["sha"] for c in branch}]
    assert sorted(r["event_date"] for r in old) == sorted(c["commit"]["author"]["date"][:10] for c in branch)
    # And the comparison is paged like a listing (4 commits at 3 per page), stored under compare/
    compare_pages = sorted((tmp_path / "github" / "acme" / "api" / "compare").glob("*.json"))
    assert len(compare_pages) == 2
    # And the run after is all 304s: the merge is not expanded again
    assert [r.status for r in github.requests_since(mark)] == [304, 304, 304]
    assert third["endpoints"]["commits"]["merges_expanded"] == 0


def test_sync_rate_limited_comparison_resumes_at_the_merge_page_and_expands_it(github, clock, tmp_path):
    # Given a merge of an old branch after the first sync, and its comparison rate-limited past the deadline
    run(github, tmp_path, clock)
    branch = _old_branch_merged_after_first_run(github)
    reset = int(clock.time()) + 3600
    github.faults.append(
        Fault(
            "/compare/" + _compare_spec(github),
            status=403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    )
    # When the fetcher runs (stopped by the limit) and again after the reset
    first = run(github, tmp_path, clock, deadline=clock.time() + 60)
    clock.now = reset + 1
    second = run(github, tmp_path, clock, deadline=clock.time() + 60)
    # Then the first run stops without moving the commits checkpoint, and the second expands the merge
    assert first["endpoints"]["commits"]["status"] == "rate_limited"
    assert second["endpoints"]["commits"]["status"] == "updated"
    assert second["endpoints"]["commits"]["merges_expanded"] == 1
    assert_every_commit_stored(tmp_path, github, branch)


def test_sync_comparison_github_cannot_make_is_counted_and_does_not_stop_the_walk(github, clock, tmp_path):
    # Given a merge whose first parent no longer exists on GitHub (history rewritten): compare answers 404
    run(github, tmp_path, clock)
    branch = _old_branch_merged_after_first_run(github)
    github.repos["acme/api"].comparisons.clear()
    # When the fetcher runs
    result = run(github, tmp_path, clock)
    # Then the walk completes and reports the merge it could not expand; the branch commits are not invented
    commits = result["endpoints"]["commits"]
    assert commits["status"] == "updated" and commits["merges_unexpanded"] == 1 and commits["merges_expanded"] == 0
    stored = {r["sha"] for r in lake(tmp_path)["github_commits"]}
    assert not stored & {c["sha"] for c in branch}


def assert_every_commit_stored(out: Path, github: FakeGithub, branch: list[dict]) -> None:
    """Every default-branch commit is on disk (pages overlap at the `since` boundary); `branch` exactly once."""
    stored = Counter(r["sha"] for r in lake(out)["github_commits"])
    assert set(stored) == {c["sha"] for c in github.repos["acme/api"].commits}
    assert [stored[c["sha"]] for c in branch] == [1] * len(branch)


def _compare_spec(github: FakeGithub) -> str:
    (spec,) = github.repos["acme/api"].comparisons
    return spec
