"""The usage sources by name: each one's client, fetcher and defaults. `prodlens usage-sync` and the fetcher
Lambdas run a source through `run_source`, so they differ only in where pages and state go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from prodlens.vendors.claude_code import sync_claude_code
from prodlens.vendors.client import CLAUDE_API_URL, COPILOT_API_URL, VendorClient, claude_code_client, copilot_client
from prodlens.vendors.copilot import SCOPES, sync_copilot
from prodlens.vendors.sync import DEFAULT_BACKFILL_DAYS, PageSink, SourceResult, UsageSyncState


@dataclass(frozen=True)
class UsageSource:
    name: str
    api_url: str  # the vendor's public API
    token_name: str  # what the credential is called, in errors and in the CLI's environment
    client: Callable[..., VendorClient]
    scoped: bool  # whether the label can be an organization or an enterprise (Copilot)


SOURCES = {
    "copilot": UsageSource("copilot", COPILOT_API_URL, "COPILOT_TOKEN", copilot_client, scoped=True),
    "claude_code": UsageSource("claude_code", CLAUDE_API_URL, "ANTHROPIC_ADMIN_KEY", claude_code_client, scoped=False),
}


def source(name: str) -> UsageSource:
    if name not in SOURCES:
        raise ValueError(f"unknown usage source {name!r} (one of {', '.join(SOURCES)})")
    return SOURCES[name]


def run_source(
    name: str,
    label: str,
    token: str,
    sink: PageSink,
    state: UsageSyncState,
    api_url: str | None = None,
    *,
    scope: str = "organization",
    today: date | None = None,
    oldest: date | None = None,
    backfill_days: int = DEFAULT_BACKFILL_DAYS,
    **client_options: Any,
) -> dict[str, Any]:
    """Fetch one organization's (or workspace's) days of one source; the result as a JSON-ready dict with the
    client's rate-limit waits and retries. Copilot's first run goes back to the oldest day GitHub keeps;
    Claude Code's to `oldest`, else `backfill_days` ago."""
    spec = source(name)
    if scope not in SCOPES or (scope != "organization" and not spec.scoped):
        raise ValueError(f"{name} has no {scope!r} scope")
    client = spec.client(token, api_url or spec.api_url, **client_options)
    result: SourceResult
    if name == "copilot":
        result = sync_copilot(client, label, sink, state, scope=scope, today=today, oldest=oldest)
    else:
        result = sync_claude_code(client, label, sink, state, today=today, oldest=oldest, backfill_days=backfill_days)
    summary = result.as_dict()
    summary["rate_limit_waits"] = client.stats.rate_limit_waits
    summary["retries"] = client.stats.retries
    return summary
