"""Use case of the usage fetchers (one Lambda per source, same code): fetch each configured organization's days
of one vendor's usage reports into the raw bucket's `usage/<source>/` prefix.

A vendor failure (revoked token, an organization without reports, 5xx that persists) is reported in that
organization's entry and counted in the `UsageSyncFailed` metric, which the template's alarm watches; the other
organizations continue. A day not ready, a rate limit or the time budget only stop the organization: the next
run resumes from its checkpoint. A token secret that cannot be read fails the invocation (Lambda Errors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from prodlens.errors import ConfigurationError
from prodlens.http import Clock, SystemClock
from prodlens.observability import logger, metrics
from prodlens.vendors.copilot import SCOPES
from prodlens.vendors.sources import SOURCES, run_source
from prodlens.vendors.sync import PageSink, UsageSyncState, parse_label

# Keep this much of the invocation for storing the last state after the final request.
RESERVE_S = 10.0
LOCAL_API = ("http://127.0.0.1", "http://localhost")


@dataclass(frozen=True)
class UsageSyncSettings:
    source: str  # copilot | claude_code
    raw_bucket: str
    state_table: str
    token_secret: str
    accounts: tuple[str, ...]  # Copilot organizations or enterprises; Claude Code organization labels
    api_url: str
    scope: str = "organization"
    oldest: date | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> UsageSyncSettings:
        required = ("USAGE_SOURCE", "RAW_BUCKET", "STATE_TABLE", "USAGE_TOKEN_SECRET")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        source = env["USAGE_SOURCE"]
        if source not in SOURCES:
            raise ConfigurationError(f"USAGE_SOURCE must be one of {', '.join(SOURCES)}, not {source!r}")
        try:
            accounts = parse_accounts(env.get("USAGE_ACCOUNTS") or "")
            oldest = date.fromisoformat(env["USAGE_OLDEST_DAY"]) if env.get("USAGE_OLDEST_DAY") else None
        except ValueError as e:
            raise ConfigurationError(f"USAGE_ACCOUNTS / USAGE_OLDEST_DAY: {e}") from e
        scope = env.get("USAGE_SCOPE") or "organization"
        if scope not in SCOPES or (scope != "organization" and not SOURCES[source].scoped):
            raise ConfigurationError(f"USAGE_SCOPE: {source} has no {scope!r} scope")
        api_url = (env.get("USAGE_API_URL") or SOURCES[source].api_url).rstrip("/")
        if not api_url.startswith(("https://", *LOCAL_API)):
            raise ConfigurationError("USAGE_API_URL must be https (the token is sent to it)")
        return cls(
            source, env["RAW_BUCKET"], env["STATE_TABLE"], env["USAGE_TOKEN_SECRET"], accounts, api_url, scope, oldest
        )


def parse_accounts(value: str) -> tuple[str, ...]:
    """`"Acme, acme-labs"` -> ("acme", "acme-labs"): validated labels, duplicates removed, order kept."""
    return tuple(dict.fromkeys(parse_label(item) for item in value.split(",") if item.strip()))


@dataclass
class UsageSyncDeps:
    sink: PageSink
    state: UsageSyncState
    token: Callable[[], str]  # read lazily: a run without accounts needs no secret
    clock: Clock | None = None


def sync_usage(settings: UsageSyncSettings, deps: UsageSyncDeps, remaining_s: float | None = None) -> dict[str, Any]:
    """Fetch each account's days in turn within `remaining_s` seconds; storage errors propagate (the scheduler's
    retry runs the whole sync again: stored days are behind the checkpoint, so it costs little)."""
    if not settings.accounts:
        logger.warning("no account configured for this usage source: nothing to fetch", source=settings.source)
        return {"status": "ok", "source": settings.source, "accounts": [], "files_written": 0, "requests": 0}
    clock = deps.clock or SystemClock()
    deadline = None if remaining_s is None else clock.time() + max(0.0, remaining_s - RESERVE_S)
    token = deps.token()
    results = []
    for label in settings.accounts:
        result = run_source(
            settings.source,
            label,
            token,
            deps.sink,
            deps.state,
            settings.api_url,
            scope=settings.scope,
            oldest=settings.oldest,
            clock=clock,
            deadline=deadline,
            reserve_s=0.0,
        )
        logger.info(
            "usage source synced",
            **{k: result[k] for k in ("source", "label", "status", "checkpoint", "pending_day", "files_written")},
            error=result["error"],
        )
        results.append(result)
    return _summarise(settings.source, results)


def _summarise(source: str, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    statuses = [r["status"] for r in results]
    totals = {k: sum(r[k] for r in results) for k in ("files_written", "requests", "downloads", "rate_limit_waits")}
    metrics.add_metric(name="UsageFilesWritten", unit=MetricUnit.Count, value=totals["files_written"])
    metrics.add_metric(name="UsageDaysFetched", unit=MetricUnit.Count, value=sum(len(r["days"]) for r in results))
    metrics.add_metric(name="UsageRequests", unit=MetricUnit.Count, value=totals["requests"])
    metrics.add_metric(name="UsageSyncFailed", unit=MetricUnit.Count, value=statuses.count("error"))
    overall = "ok" if all(s == "ok" for s in statuses) else "partial"
    return {"status": overall, "source": source, "accounts": list(results), **totals}
