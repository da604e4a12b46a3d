"""The per-repository sync: walk each listing newest-first, store every page, then move the state.

Every page is stored as GitHub sent it, except commit messages, replaced by the AI tools their trailers name: each
commit record of a stored page (the `commits` listing, a comparison's `commits`, `base_commit` and
`merge_base_commit`, a pull request's commits) loses `commit.message` (and `commit.verification.payload`, the
signed object that repeats the message) and gains `prodlens_ai_coauthors`, the list `trailers.ai_coauthors` reads
from that message (possibly empty). Such a page is stored as a deterministic re-serialisation of the response
(compact JSON, ASCII, keys in GitHub's order), so the same response always yields the same bytes and the same
content-named object; the message text is read once, here, and never stored. Pulls and issue-events pages are
stored byte for byte.

Each endpoint is a newest-first listing with a timestamp cursor:

| endpoint | request | cursor (checkpoint) |
|---|---|---|
| pulls | `/pulls?state=all&sort=updated&direction=desc&per_page=100` | max `updated_at` |
| commits | `/commits?since=<checkpoint>&per_page=100` | max `commit.committer.date` (what `since` filters on) |
| issue_events | `/issues/events?per_page=100` | max `created_at` |

A walk starts at the first page (conditional on the ETag kept for that URL: a 304 means nothing changed, so
nothing is written) and follows `Link: rel="next"` until a page holds a record older than the checkpoint
(`/pulls` has no `since`) or there is no next page. Pages are stored under a name derived from their bytes,
so re-fetching an unchanged page rewrites the same object instead of adding a copy.

Only a completed walk moves the state: first the checkpoint, then the first page's ETag. A walk stopped by a
rate limit or the time budget after storing some pages records where it stopped (the URL of the page it did
not get, and the newest cursor seen so far); the next run continues from that page down to the unchanged
checkpoint, then sets the checkpoint to that newest cursor, so the run after it walks from the top down to
it and picks up whatever changed meanwhile. No page is skipped; listings shifted by new activity only make
a continued walk see some records twice.

`since` filters on the committer date, so the commits a merge commit brings from an older branch keep their old
dates and are never listed. So every merge commit the commits walk stores (two or more `parents`) is expanded:
`/compare/<first parent>...<other parent>` lists exactly the commits the merge brought onto the default branch,
whatever their dates, and its pages are stored under `compare/` (rows of the same commits staging table,
deduplicated by sha downstream). A merge is expanded before the walk moves past its page, so an interrupted
walk resumes at that page and expands it again; a comparison GitHub cannot make (404/422: a parent that no
longer exists) is counted in `merges_unexpanded` and does not stop the walk.

Every pull request of a stored pulls page whose `updated_at` is at or after the checkpoint (changed since the last
completed walk; every PR on a first run) has its commits fetched, `/pulls/<number>/commits?per_page=100` and its
Link pages (GitHub lists at most 250), stored at `github/<owner>/<name>/pull_commits/<number>/<sha256-32>.json`
(messages stripped as above). Like merges, this happens before the walk moves past that pulls page, so an
interrupted walk resumes at the page and fetches them again; a pull request GitHub answers 404 for is counted in
`pull_commits_missing` and does not stop the walk; rate limits, the time budget and 5xx after retries stop it.

When the commits checkpoint moves, the next run's first URL (`since=<new checkpoint>`) differs from this
run's; it is requested once more ("primed") so the next run can send it conditionally. Its page is stored
only if it holds a commit this walk did not store.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from prodlens.errors import CheckpointConflict
from prodlens.github.client import GithubClient, GithubError, GithubHttpError, OutOfTime, RateLimited
from prodlens.github.trailers import ai_coauthors
from prodlens.http import Response

ENDPOINTS = ("pulls", "commits", "issue_events")

_SLUG_PART = re.compile(r"^[A-Za-z0-9._-]+$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


class PageSink(Protocol):
    def put(self, key: str, body: bytes) -> None:
        """Store `body` under the raw-zone key `key`; return only once it is durably stored."""
        ...


class SyncState(Protocol):
    def get_etag(self, repo: str, url: str) -> str | None: ...

    def put_etag(self, repo: str, url: str, etag: str, last_modified: str | None = None) -> None: ...

    def get_checkpoint(self, repo: str, endpoint: str) -> str | None: ...

    def get_resume(self, repo: str, endpoint: str) -> dict[str, Any] | None:
        """Where an interrupted walk continues: {"next_url", "newest", "at_newest"}, or None."""
        ...

    def put_resume(self, repo: str, endpoint: str, value: dict[str, Any] | None) -> None:
        """Record (or clear, with None) where an interrupted walk continues."""
        ...

    def put_checkpoint(self, repo: str, endpoint: str, value: str) -> None:
        """Advance the checkpoint; raise CheckpointConflict if the stored value is already >= `value`."""
        ...


class UnexpectedPage(GithubError):
    """A 200 whose body is not a JSON array: not stored, the endpoint reports an error."""


@dataclass(frozen=True)
class RepoRef:
    owner: str
    name: str

    @classmethod
    def parse(cls, slug: str) -> RepoRef:
        """`Owner/Name` -> RepoRef(owner, name), lower-cased (GitHub slugs are case-insensitive)."""
        parts = slug.strip().strip("/").split("/")
        if len(parts) != 2 or not all(_SLUG_PART.match(p) and p not in (".", "..") for p in parts):
            raise ValueError(f"not an owner/name repository slug: {slug!r}")
        return cls(parts[0].lower(), parts[1].lower())

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class EndpointResult:
    endpoint: str
    status: str = "pending"  # updated | not_modified | empty | rate_limited | out_of_time | error | deferred
    requests: int = 0
    pages_written: int = 0
    records: int = 0
    checkpoint: str | None = None
    retry_at: float | None = None
    error: str | None = None
    resumed: bool = False
    merges_expanded: int = 0
    merges_unexpanded: int = 0
    pull_commit_pages: int = 0  # pages of pull requests' commits stored (also counted in pages_written)
    pull_commits_fetched: int = 0  # pull requests whose commits were fetched
    pull_commits_missing: int = 0  # pull requests whose commits GitHub answered 404 for


@dataclass
class RepoResult:
    repo: str
    status: str = "ok"  # ok | rate_limited | out_of_time | error
    endpoints: list[EndpointResult] = field(default_factory=list)

    @property
    def pages_written(self) -> int:
        return sum(e.pages_written for e in self.endpoints)

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints)

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "status": self.status,
            "pages_written": self.pages_written,
            "requests": self.requests,
            "endpoints": {e.endpoint: {k: v for k, v in asdict(e).items() if k != "endpoint"} for e in self.endpoints},
        }


def page_key(repo: RepoRef, kind: str, body: bytes) -> str:
    """Raw-zone key of a page: named by its content, so the same bytes always land on the same object."""
    return f"github/{repo.owner}/{repo.name}/{kind}/{hashlib.sha256(body).hexdigest()[:32]}.json"


COMPARE = "compare"  # raw-zone kind of the pages that list the commits a merge brought
PULL_COMMITS = "pull_commits"  # raw-zone kind of the pages that list a pull request's commits
AI_COAUTHORS = "prodlens_ai_coauthors"  # the field that replaces a stored commit's message


def pull_commits_key(repo: RepoRef, number: int, body: bytes) -> str:
    """Raw-zone key of a page of pull request `number`'s commits: content-named, under the PR number."""
    return f"github/{repo.owner}/{repo.name}/{PULL_COMMITS}/{number}/{hashlib.sha256(body).hexdigest()[:32]}.json"


def strip_message(record: Any) -> None:
    """Replace a commit record's message by the AI tools its trailers name (in place; non-objects are left)."""
    if not isinstance(record, dict):
        return
    commit = record.get("commit")
    message = None
    if isinstance(commit, dict):
        message = commit.pop("message", None)
        verification = commit.get("verification")
        if isinstance(verification, dict):
            verification.pop("payload", None)  # the signed commit object: it repeats the message
    record[AI_COAUTHORS] = ai_coauthors(message if isinstance(message, str) else None)


def stored_commits_body(data: list[Any] | dict[str, Any]) -> bytes:
    """The stored body of a commit page: every commit record's message stripped (in place), re-serialised.

    `data` is a listing (an array of commit records) or a comparison (an object whose `commits` array,
    `base_commit` and `merge_base_commit` are commit records). Same response in, same bytes out.
    """
    if isinstance(data, list):
        for record in data:
            strip_message(record)
    else:
        for record in data.get("commits") or ():
            strip_message(record)
        for name in ("base_commit", "merge_base_commit"):
            if isinstance(data.get(name), dict):
                strip_message(data[name])
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def merge_parents(record: Any) -> list[str]:
    """The parent shas of a commit listing record when it is a merge commit (two or more parents), else []."""
    parents = _get(record, "parents")
    if not isinstance(parents, list) or len(parents) < 2:
        return []
    shas = [_get(parent, "sha") for parent in parents]
    return [sha for sha in shas if isinstance(sha, str) and _SHA.match(sha)] if all(shas) else []


def utc_cursor(value: Any) -> str | None:
    """An ISO-8601 timestamp as `YYYY-MM-DDTHH:MM:SSZ` in UTC (comparable as a string); None if unusable."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get(item: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(item, dict):
            return None
        item = item.get(name)
    return item


@dataclass(frozen=True)
class _Endpoint:
    name: str
    path: str
    query: str
    cursor: Callable[[Any], str | None]
    identity: Callable[[Any], str]  # JSON-safe: kept in the resume record
    since: bool = False
    expands_merges: bool = False
    commit_records: bool = False  # its records are commits: messages are stripped before the page is stored
    fetches_pull_commits: bool = False

    def first_url(self, client: GithubClient, repo: RepoRef, checkpoint: str | None) -> str:
        base = client.url(self.path.format(owner=quote(repo.owner, safe=""), name=quote(repo.name, safe="")))
        query = self.query
        if self.since and checkpoint:
            query = f"since={quote(checkpoint, safe='')}&{query}"
        return f"{base}?{query}"


_SPECS = {
    "pulls": _Endpoint(
        "pulls",
        "/repos/{owner}/{name}/pulls",
        "state=all&sort=updated&direction=desc&per_page=100",
        cursor=lambda item: utc_cursor(_get(item, "updated_at")),
        identity=lambda item: f"{_get(item, 'id')}@{_get(item, 'updated_at')}",
        fetches_pull_commits=True,
    ),
    "commits": _Endpoint(
        "commits",
        "/repos/{owner}/{name}/commits",
        "per_page=100",
        cursor=lambda item: utc_cursor(
            _get(item, "commit", "committer", "date") or _get(item, "commit", "author", "date")
        ),
        identity=lambda item: str(_get(item, "sha")),
        since=True,
        expands_merges=True,
        commit_records=True,
    ),
    "issue_events": _Endpoint(
        "issue_events",
        "/repos/{owner}/{name}/issues/events",
        "per_page=100",
        cursor=lambda item: utc_cursor(_get(item, "created_at")),
        identity=lambda item: str(_get(item, "id")),
    ),
}


def sync_repo(
    client: GithubClient,
    repo: RepoRef,
    sink: PageSink,
    state: SyncState,
    endpoints: Iterable[str] = ENDPOINTS,
) -> RepoResult:
    """Sync one repository. GitHub failures are reported in the result, never raised; storage errors propagate."""
    result = RepoResult(repo.slug)
    stopped: EndpointResult | None = None
    for name in endpoints:
        outcome = EndpointResult(name)
        result.endpoints.append(outcome)
        if stopped is not None:
            outcome.status = "deferred"
            continue
        before = client.stats.requests
        try:
            _Walk(client, repo, _SPECS[name], sink, state, outcome).run()
        except RateLimited as err:
            outcome.status, outcome.retry_at, stopped = "rate_limited", err.retry_at, outcome
        except OutOfTime:
            outcome.status, stopped = "out_of_time", outcome
        except GithubHttpError as err:
            if name == "commits" and err.status == 409:  # "Git Repository is empty."
                outcome.status = "empty"
            else:
                outcome.status, outcome.error = "error", str(err)
        except UnexpectedPage as err:
            outcome.status, outcome.error = "error", str(err)
        finally:
            outcome.requests = client.stats.requests - before
    statuses = {e.status for e in result.endpoints}
    for status in ("error", "rate_limited", "out_of_time"):
        if status in statuses:
            result.status = status
            break
    return result


def _array(body: bytes, url: str) -> list[Any]:
    try:
        data = json.loads(body)
    except ValueError as err:
        raise UnexpectedPage(f"{url} did not return JSON") from err
    if not isinstance(data, list):
        raise UnexpectedPage(f"{url} did not return a JSON array")
    return data


def _comparison(body: bytes, url: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as err:
        raise UnexpectedPage(f"{url} did not return JSON") from err
    if not isinstance(data, dict) or not isinstance(data.get("commits"), list):
        raise UnexpectedPage(f"{url} did not return a comparison with a commits array")
    return data


@dataclass
class _Position:
    """Where a walk stands: the URL of the next page, and the newest cursor seen with the records at it."""

    url: str | None
    newest: str | None
    at_newest: set[str]

    def as_resume(self) -> dict[str, Any]:
        return {"next_url": self.url, "newest": self.newest, "at_newest": sorted(self.at_newest)}

    def advance(self, spec: _Endpoint, records: list[Any], checkpoint: str | None, next_url: str | None) -> None:
        """Take in a page's records, then go on to `next_url` unless one is older than the checkpoint."""
        reached_checkpoint = False
        for record in records:
            cursor = spec.cursor(record)
            if cursor is None:
                continue
            if self.newest is None or cursor > self.newest:
                self.newest, self.at_newest = cursor, set()
            if cursor == self.newest:
                self.at_newest.add(spec.identity(record))
            if checkpoint is not None and cursor < checkpoint:
                reached_checkpoint = True
        self.url = None if reached_checkpoint else next_url


@dataclass
class _Walk:
    """One endpoint's walk of one repository: where it reads, stores and keeps its state, and what it counts."""

    client: GithubClient
    repo: RepoRef
    spec: _Endpoint
    sink: PageSink
    state: SyncState
    out: EndpointResult

    def run(self) -> None:
        checkpoint = self.state.get_checkpoint(self.repo.slug, self.spec.name)
        self.out.checkpoint = checkpoint
        first_url = self.spec.first_url(self.client, self.repo, checkpoint)
        resume = self.state.get_resume(self.repo.slug, self.spec.name)
        self.out.resumed = bool(resume)
        if resume:
            # Continue the walk a rate limit or the time budget interrupted, from the page it did not get.
            at = _Position(resume["next_url"], resume.get("newest") or checkpoint, set(resume.get("at_newest") or ()))
            first_etag = None
        else:
            at = _Position(first_url, checkpoint, set())
            first_etag = self.state.get_etag(self.repo.slug, first_url)
        first: Response | None = None
        while at.url:
            try:
                response, records = self._page(at.url, first_etag if first is None else None, checkpoint)
            except GithubError:
                if first is not None:  # at least one page of this walk is stored: the next run continues here
                    self.state.put_resume(self.repo.slug, self.spec.name, at.as_resume())
                raise
            if response.status == 304:
                self.out.status = "not_modified"
                return
            first = first or response
            at.advance(self.spec, records, checkpoint, response.next_url)
        self._complete(checkpoint, at, bool(resume))
        next_url = self.spec.first_url(self.client, self.repo, at.newest)
        if next_url != first_url:
            self._prime(next_url, at.at_newest)
        elif not resume and first is not None and first.etag:
            # A continued walk did not fetch the first page: the next run fetches it unconditionally.
            self.state.put_etag(self.repo.slug, first_url, first.etag, first.last_modified)

    def _page(self, url: str, etag: str | None, checkpoint: str | None) -> tuple[Response, list[Any]]:
        """Get the page at `url` and store it with the merges and pull requests' commits it brings."""
        response = self.client.get(url, etag)
        if response.status == 304:
            return response, []
        records = _array(response.body, url)
        if records:
            self._store_page(records, response.body)
            if self.spec.expands_merges:
                self._expand_merges(records)
            if self.spec.fetches_pull_commits:
                self._fetch_pull_commits(records, checkpoint)
        return response, records

    def _complete(self, checkpoint: str | None, at: _Position, resumed: bool) -> None:
        """Every page of the walk is stored: now (and only now) the state may move."""
        if at.newest is not None and at.newest != checkpoint:
            try:
                self.state.put_checkpoint(self.repo.slug, self.spec.name, at.newest)
            except CheckpointConflict:
                pass  # a concurrent run already moved it at least as far
            self.out.checkpoint = at.newest
        if resumed:
            self.state.put_resume(self.repo.slug, self.spec.name, None)
        self.out.status = "updated"

    def _store_page(self, records: list[Any], body: bytes) -> None:
        if self.spec.commit_records:
            body = stored_commits_body(records)
        self.sink.put(page_key(self.repo, self.spec.name, body), body)
        self.out.pages_written += 1
        self.out.records += len(records)

    def _repo_url(self, path: str) -> str:
        return self.client.url(f"/repos/{quote(self.repo.owner, safe='')}/{quote(self.repo.name, safe='')}/{path}")

    def _prime(self, url: str, stored: set[str]) -> None:
        """Fetch the next run's first page (`since` moved) so the next run can ask for it conditionally.

        `stored` holds the records already stored whose cursor equals the new checkpoint: the only ones an
        inclusive `since` returns again. The page is stored only if it holds anything else.
        """
        try:
            response = self.client.get(url)
            records = _array(response.body, url)
        except GithubError:
            return  # priming only saves the next run a page; a limit here is met again by the next request
        unseen = [r for r in records if self.spec.identity(r) not in stored]
        if unseen:
            self._store_page(records, response.body)
            if response.next_url:
                return  # more than one page is new: let the next run walk it unconditionally
            if self.spec.expands_merges:
                try:
                    self._expand_merges(unseen)
                except GithubError:
                    return  # no ETag kept: the next run fetches this page again and expands it
        if response.etag:
            self.state.put_etag(self.repo.slug, url, response.etag, response.last_modified)

    def _expand_merges(self, records: list[Any]) -> None:
        """Store the compare pages of every merge commit in `records`: the commits each merge brought.

        Rate limits, the time budget and 5xx after retries propagate (the walk resumes at this page); a
        comparison GitHub refuses for good (404, 422) is counted in `merges_unexpanded`.
        """
        for record in records:
            parents = merge_parents(record)
            for other in parents[1:]:
                url: str | None = f"{self._repo_url(f'compare/{parents[0]}...{other}')}?per_page=100"
                try:
                    while url:
                        response = self.client.get(url)
                        body = stored_commits_body(_comparison(response.body, url))
                        self.sink.put(page_key(self.repo, COMPARE, body), body)
                        self.out.pages_written += 1
                        url = response.next_url
                except GithubHttpError as err:
                    if err.status not in (404, 422):
                        raise
                    self.out.merges_unexpanded += 1
                    continue
                self.out.merges_expanded += 1

    def _fetch_pull_commits(self, records: list[Any], checkpoint: str | None) -> None:
        """Store the commits of every pull request in `records` changed at or after `checkpoint` (all when None).

        Rate limits, the time budget, 5xx after retries and a 200 that is not an array propagate (the walk resumes
        at this pulls page); a pull request GitHub answers 404 for is counted in `pull_commits_missing`.
        """
        done: set[int] = set()
        for record in records:
            number = _get(record, "number")
            if isinstance(number, bool) or not isinstance(number, int) or number <= 0 or number in done:
                continue
            cursor = self.spec.cursor(record)
            if cursor is None or (checkpoint is not None and cursor < checkpoint):
                continue
            done.add(number)
            url: str | None = f"{self._repo_url(f'pulls/{number}/commits')}?per_page=100"
            try:
                while url:
                    response = self.client.get(url)
                    commits = _array(response.body, url)
                    if commits:
                        body = stored_commits_body(commits)
                        self.sink.put(pull_commits_key(self.repo, number, body), body)
                        self.out.pages_written += 1
                        self.out.pull_commit_pages += 1
                    url = response.next_url
            except GithubHttpError as err:
                if err.status != 404:
                    raise
                self.out.pull_commits_missing += 1
                continue
            self.out.pull_commits_fetched += 1
