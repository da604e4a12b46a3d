"""A real HTTP server on loopback that behaves like the three GitHub listings ProdLens syncs (and compare, and a
pull request's commits).

It serves pages built from the REST shapes in tests/fixtures/github/, with Link paging, ETag /
If-None-Match -> 304, and scripted faults (rate limits, 5xx) for chosen requests. Every request is
logged with whether it carried the token; `violations` lists the ones that did not.

Every commit carries a message from `MESSAGES` (chosen by its sha, see `expected_tools`), with AI co-author
trailers or not, and `MESSAGE_MARKER` in its title; every other commit is signed, so its
`commit.verification.payload` repeats the message. A stored page must contain neither.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "github"
TOKEN = "ghp_test_token_never_logged_0123456789"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


MESSAGE_MARKER = "message-text-never-stored"

# (message after the title, the tools `ai_coauthors` must read from it)
MESSAGES: list[tuple[str, list[str]]] = [
    (
        "Longer body.\n\n\U0001f916 Generated with [Claude Code](https://claude.com/claude-code)\n\n"
        "Co-Authored-By: Claude Opus 4.6 <noreply@anthropic.com>",
        ["claude_code"],
    ),
    ("Signed-off-by: Dev One <dev1@example.com>\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>", ["cursor"]),
    ("Co-authored-by: Jane Doe <jane@example.com>", []),
    ("", []),
    (
        "* step one\n\n* step two\n\n---------\n\n"
        "Co-authored-by: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>\n"
        "Co-authored-by: aider (gpt-4o) <aider@aider.chat>\nCo-authored-by: Jane Doe <jane@example.com>",
        ["aider", "copilot"],
    ),
    ("The line Co-authored-by: Claude <noreply@anthropic.com> is prose here.\n\nNothing else.", []),
]


def _message_index(sha: str) -> int:
    return int(sha, 16) % len(MESSAGES)


def expected_tools(commit: dict) -> list[str]:
    """The AI tools the message the server gives `commit` names (what `prodlens_ai_coauthors` must hold)."""
    return MESSAGES[_message_index(commit["sha"])][1]


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def make_pull(owner: str, name: str, number: int, *, created: datetime, updated: datetime, merged: bool) -> dict:
    pr = copy.deepcopy(load_fixture("pull_request.json"))
    full = f"{owner}/{name}"
    pr["id"] = 900_000 + number
    pr["number"] = number
    pr["url"] = f"https://api.github.com/repos/{full}/pulls/{number}"
    pr["html_url"] = f"https://github.com/{full}/pull/{number}"
    pr["title"] = f"Change {number}"
    pr["user"]["login"] = f"dev{number % 3}"
    pr["created_at"] = _iso(created)
    pr["updated_at"] = _iso(updated)
    pr["state"] = "closed" if merged else "open"
    pr["closed_at"] = _iso(updated) if merged else None
    pr["merged_at"] = _iso(updated) if merged else None
    pr["merged"] = merged
    pr["base"]["repo"]["full_name"] = full
    return pr


def make_commit(sha_seed: str, *, authored: datetime, committed: datetime | None = None, login: str | None = "dev1"):
    commit = copy.deepcopy(load_fixture("commit.json"))
    sha = hashlib.sha1(sha_seed.encode()).hexdigest()
    commit["sha"] = sha
    commit["node_id"] = f"C_{sha[:12]}"
    commit["url"] = commit["url"].rsplit("/", 1)[0] + "/" + sha
    commit["commit"]["author"]["date"] = _iso(authored)
    commit["commit"]["committer"]["date"] = _iso(committed or authored)
    body = MESSAGES[_message_index(sha)][0]
    message = f"Commit {sha_seed} [{MESSAGE_MARKER}]" + (f"\n\n{body}" if body else "")
    commit["commit"]["message"] = message
    if int(sha, 16) % 2:
        commit["commit"]["verification"] = {
            "verified": True,
            "reason": "valid",
            "signature": "-----BEGIN PGP SIGNATURE-----\n\nc2lnbmF0dXJl\n-----END PGP SIGNATURE-----",
            "payload": f"tree {sha}\nauthor Dev One <dev1@example.com> 1772355600 +0000\n\n{message}\n",
        }
    commit["author"] = None if login is None else {**commit["author"], "login": login}
    return commit


def make_event(event_id: int, *, event: str, number: int, created: datetime) -> dict:
    item = copy.deepcopy(load_fixture("issue_event.json"))
    item["id"] = event_id
    item["event"] = event
    item["created_at"] = _iso(created)
    item["issue"]["number"] = number
    item["issue"]["url"] = item["issue"]["url"].rsplit("/", 1)[0] + f"/{number}"
    return item


@dataclass
class Fault:
    """Answer `times` matching requests with `status`/`headers`/`body` instead of the real page."""

    path_suffix: str
    page: int | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"message": "Server Error"}'
    times: int = 1

    def matches(self, path: str, page: int) -> bool:
        return self.times > 0 and path.endswith(self.path_suffix) and (self.page is None or self.page == page)


@dataclass
class Logged:
    path: str
    query: dict[str, str]
    status: int
    if_none_match: str | None
    authorized: bool


class RepoData:
    def __init__(self, owner: str, name: str) -> None:
        self.owner, self.name = owner, name
        self.pulls: dict[int, dict] = {}
        self.commits: list[dict] = []  # every commit on the default branch
        self.events: list[dict] = []
        self.comparisons: dict[str, list[dict]] = {}  # "<base>...<head>" -> the commits head has and base lacks
        self.pull_commits: dict[int, list[dict]] = {}  # PR number -> its commits, oldest first

    def seed(self, n_pulls: int = 7, n_commits: int = 8, n_events: int = 5) -> RepoData:
        for n in range(1, n_pulls + 1):
            created = START + timedelta(hours=n)
            self.pulls[n] = make_pull(
                self.owner, self.name, n, created=created, updated=created + timedelta(hours=2), merged=n % 2 == 0
            )
            self.pull_commits[n] = [
                make_commit(f"{self.owner}/{self.name}/pr{n}/{i}", authored=created + timedelta(minutes=10 * i))
                for i in range(1 + n % 3)
            ]
        for i in range(n_commits):
            self.commits.append(
                make_commit(
                    f"{self.owner}/{self.name}/{i}",
                    authored=START + timedelta(hours=3 * i),
                    login=None if i == 3 else "dev1",
                )
            )
        for i in range(1, n_events + 1):
            self.events.append(
                make_event(
                    5_000 + i, event="reopened" if i % 2 else "closed", number=i, created=START + timedelta(hours=i)
                )
            )
        return self

    def merge_old_branch(self, label: str, *, authored: datetime, n_commits: int, merged: datetime) -> list[dict]:
        """Merge (with a merge commit at `merged`) a branch of `n_commits` authored and committed from `authored`.

        The branch commits keep their old dates, as a real merge does, so `since` after them never lists them.
        Returns the branch commits, oldest first.
        """
        branch = [
            make_commit(f"{self.owner}/{self.name}/{label}/{i}", authored=authored + timedelta(hours=i))
            for i in range(n_commits)
        ]
        base = max(self.commits, key=lambda c: c["commit"]["committer"]["date"])["sha"]
        merge = make_commit(f"{self.owner}/{self.name}/{label}/merge", authored=merged)
        merge["parents"] = [{"sha": base}, {"sha": branch[-1]["sha"]}]
        self.comparisons[f"{base}...{branch[-1]['sha']}"] = branch
        self.commits.extend([*branch, merge])
        return branch

    def push_to_pull(self, number: int, label: str, *, at: datetime, n_commits: int = 1) -> list[dict]:
        """Push `n_commits` new commits to PR `number` at `at` (its `updated_at` moves there); returns them."""
        pushed = [
            make_commit(f"{self.owner}/{self.name}/pr{number}/{label}/{i}", authored=at - timedelta(minutes=i))
            for i in reversed(range(n_commits))
        ]
        self.pull_commits.setdefault(number, []).extend(pushed)
        self.pulls[number]["updated_at"] = _iso(at)
        return pushed

    def compare(self, spec: str) -> dict | None:
        commits = self.comparisons.get(spec)
        if commits is None:
            return None
        base_sha = spec.split("...")[0]
        base = next((c for c in self.commits if c["sha"] == base_sha), None)
        return {
            "base_commit": base,
            "merge_base_commit": base,
            "status": "ahead",
            "ahead_by": len(commits),
            "behind_by": 0,
            "total_commits": len(commits),
            "commits": commits,
            "files": [],
        }

    def listing(self, kind: str, query: dict[str, str]) -> list[dict]:
        if kind == "pulls":
            return sorted(self.pulls.values(), key=lambda p: (p["updated_at"], p["id"]), reverse=True)
        if kind == "commits":
            since = query.get("since")
            rows = [c for c in self.commits if since is None or c["commit"]["committer"]["date"] >= since]
            return sorted(rows, key=lambda c: c["commit"]["committer"]["date"], reverse=True)
        return sorted(self.events, key=lambda e: e["id"], reverse=True)


class FakeGithub:
    def __init__(self, token: str = TOKEN, page_size: int = 3) -> None:
        self.token = token
        self.page_size = page_size
        self.repos: dict[str, RepoData] = {}
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.next_link_base: str | None = None  # override the origin put in Link headers
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_repo(self, slug: str, **seed: int) -> RepoData:
        owner, name = slug.split("/")
        data = RepoData(owner, name).seed(**seed)
        self.repos[slug.lower()] = data
        return data

    def start(self) -> FakeGithub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def violations(self) -> list[Logged]:
        return [entry for entry in self.log if not entry.authorized]

    def requests_since(self, index: int) -> list[Logged]:
        return self.log[index:]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fake._serve(self)

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        authorized = (
            handler.headers.get("Authorization") == f"Bearer {self.token}"
            and handler.headers.get("Accept") == "application/vnd.github+json"
            and handler.headers.get("X-GitHub-Api-Version") == "2022-11-28"
            and bool(handler.headers.get("User-Agent"))
        )
        inm = handler.headers.get("If-None-Match")
        page = int(query.get("page", "1"))
        with self._lock:
            status, headers, body = self._respond(parts.path, query, page, inm, authorized)
            self.log.append(Logged(parts.path, query, status, inm, authorized))
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _respond(self, path: str, query: dict[str, str], page: int, inm: str | None, authorized: bool):
        if not authorized:
            return 401, {"Content-Type": "application/json"}, b'{"message": "Requires authentication"}'
        for fault in self.faults:
            if fault.matches(path, page):
                fault.times -= 1
                return fault.status, {"Content-Type": "application/json", **fault.headers}, fault.body
        found = self._resource(path, query)
        if found is None:
            return 404, {}, b'{"message": "Not Found"}'
        rows, comparison = found
        size = min(int(query.get("per_page", "30")), self.page_size)
        shown = rows[(page - 1) * size : page * size]
        body = json.dumps(shown if comparison is None else {**comparison, "commits": shown}, indent=2).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()}"'
        if inm is not None and inm == etag:
            return 304, {"ETag": etag}, b""
        headers = {"Content-Type": "application/json; charset=utf-8", "ETag": etag, "X-RateLimit-Remaining": "4999"}
        last = max(1, -(-len(rows) // size))
        if page < last:
            base = (self.next_link_base or self.url) + path
            headers["Link"] = (
                f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next", '
                f'<{base}?{urlencode({**query, "page": last})}>; rel="last"'
            )
        return 200, headers, body

    def _resource(self, path: str, query: dict[str, str]) -> tuple[list[dict], dict | None] | None:
        """The rows `path` lists, with the comparison they are the commits of (None for a plain listing); None: 404."""
        segments = path.strip("/").split("/")
        if len(segments) < 4 or segments[0] != "repos":
            return None
        repo = self.repos.get(f"{segments[1]}/{segments[2]}".lower())
        kind = {"pulls": "pulls", "commits": "commits", "issues": "issue_events", "compare": "compare"}.get(segments[3])
        if kind == "pulls" and len(segments) != 4:
            kind = "pull_commits" if len(segments) == 6 and segments[5] == "commits" else None
        if repo is None or kind is None:
            return None
        if kind == "pull_commits":
            commits = repo.pull_commits.get(int(segments[4])) if segments[4].isdigit() else None
            return None if commits is None else (commits, None)
        if kind == "compare":
            comparison = repo.compare("/".join(segments[4:]))
            return None if comparison is None else (comparison["commits"], comparison)
        return repo.listing(kind, query), None


class FakeClock:
    """Epoch time that only moves when the code under test sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
