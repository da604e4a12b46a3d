"""Use case of the github_sync function: sync every configured repository, report per-repo results."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from prodlens.errors import ConfigurationError
from prodlens.github.client import DEFAULT_API_URL, GithubClient
from prodlens.github.sync import PageSink, RepoRef, SyncState, sync_repo
from prodlens.http import Clock, SystemClock
from prodlens.observability import logger, metrics

# Keep this much of the invocation for storing the last state after the final request.
RESERVE_S = 10.0


@dataclass(frozen=True)
class GithubSyncSettings:
    raw_bucket: str
    state_table: str
    repos: tuple[str, ...]
    token_secret: str
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GithubSyncSettings:
        required = ("RAW_BUCKET", "STATE_TABLE", "GITHUB_TOKEN_SECRET")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        try:
            # Empty (the template's default) means no repository is configured: the run does nothing.
            repos = parse_repos(env.get("GITHUB_REPOS") or "", allow_empty=True)
        except ValueError as e:
            raise ConfigurationError(f"GITHUB_REPOS: {e}") from e
        api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not api_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ConfigurationError("GITHUB_API_URL must be https (the token is sent to it)")
        return cls(env["RAW_BUCKET"], env["STATE_TABLE"], repos, env["GITHUB_TOKEN_SECRET"], api_url)


def parse_repos(value: str | Iterable[str], allow_empty: bool = False) -> tuple[str, ...]:
    """`"acme/api, Acme/Web"` or a list -> ("acme/api", "acme/web"), validated, duplicates removed, order kept."""
    items = value.split(",") if isinstance(value, str) else list(value)
    slugs = [RepoRef.parse(str(item)).slug for item in items if str(item).strip()]
    if not slugs and not allow_empty:
        raise ValueError("no repository configured")
    return tuple(dict.fromkeys(slugs))


@dataclass
class GithubSyncDeps:
    sink: PageSink
    state: SyncState
    token: Callable[[], str]  # read lazily: a run without repositories needs no secret
    api_url: str = DEFAULT_API_URL
    clock: Clock | None = None


def sync_repositories(repos: Sequence[str], deps: GithubSyncDeps, remaining_s: float | None = None) -> dict[str, Any]:
    """Sync each repository in turn within `remaining_s` seconds.

    One repository's failure (HTTP error, rate limit, time budget) is reported in its entry and the others
    continue; a rate limit that outlasts the invocation leaves the rest `rate_limited` without requests.
    Storage errors propagate, so the scheduler's retry runs the whole sync again (cheap: 304s).
    """
    if not repos:
        logger.warning("no GitHub repository configured (GITHUB_REPOS is empty)")
        metrics.add_metric(name="GithubPagesWritten", unit=MetricUnit.Count, value=0)
        return {
            "status": "ok",
            "repos": [],
            "pages_written": 0,
            "requests": 0,
            "not_modified": 0,
            "rate_limit_waits": 0,
        }
    clock = deps.clock or SystemClock()
    deadline = None if remaining_s is None else clock.time() + max(0.0, remaining_s - RESERVE_S)
    client = GithubClient(deps.token(), deps.api_url, clock=clock, deadline=deadline, reserve_s=0.0)
    results: list[dict[str, Any]] = []
    for slug in repos:
        try:
            ref = RepoRef.parse(slug)
        except ValueError as e:
            results.append({"repo": slug, "status": "error", "pages_written": 0, "requests": 0, "error": str(e)})
            continue
        result = sync_repo(client, ref, deps.sink, deps.state)
        logger.info(
            "github repository synced",
            repo=ref.slug,
            status=result.status,
            pages_written=result.pages_written,
            requests=result.requests,
            endpoints={e.endpoint: e.status for e in result.endpoints},
        )
        results.append(result.as_dict())

    statuses = [r["status"] for r in results]
    pages = sum(r["pages_written"] for r in results)
    metrics.add_metric(name="GithubPagesWritten", unit=MetricUnit.Count, value=pages)
    metrics.add_metric(name="GithubRequests", unit=MetricUnit.Count, value=client.stats.requests)
    metrics.add_metric(name="GithubNotModified", unit=MetricUnit.Count, value=client.stats.not_modified)
    metrics.add_metric(name="GithubRateLimitWaits", unit=MetricUnit.Count, value=client.stats.rate_limit_waits)
    metrics.add_metric(name="GithubReposFailed", unit=MetricUnit.Count, value=statuses.count("error"))
    metrics.add_metric(
        name="GithubReposStopped",
        unit=MetricUnit.Count,
        value=statuses.count("rate_limited") + statuses.count("out_of_time"),
    )
    overall = "ok" if all(s == "ok" for s in statuses) else "partial"
    return {
        "status": overall,
        "repos": results,
        "pages_written": pages,
        "requests": client.stats.requests,
        "not_modified": client.stats.not_modified,
        "rate_limit_waits": client.stats.rate_limit_waits,
    }
