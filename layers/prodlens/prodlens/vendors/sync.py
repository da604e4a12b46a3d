"""What both usage fetchers share: the state port, the day window, labels and the per-source result.

A source's checkpoint is the last day whose data is completely stored (`YYYY-MM-DD`, UTC). A run fetches the
days after it up to yesterday (UTC: today is not over), oldest first, and moves the checkpoint after each
completed day, so a run stopped anywhere (rate limit, time budget, a day not ready, an error) resumes with the
first day it did not complete. The first run (no checkpoint) starts at `oldest`, by default `backfill_days` ago.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from prodlens.errors import CheckpointConflict
from prodlens.vendors.client import AuthError, OutOfTime, RateLimited, VendorClient, VendorError, VendorHttpError

DEFAULT_BACKFILL_DAYS = 28

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class PageSink(Protocol):
    def put(self, key: str, body: bytes) -> None:
        """Store `body` under the raw-zone key `key`; return only once it is durably stored."""
        ...


class UsageSyncState(Protocol):
    """Checkpoints and conditional-request state of the usage fetchers. `scope` is `<source>/<label>`."""

    def get_checkpoint(self, scope: str) -> str | None: ...

    def put_checkpoint(self, scope: str, value: str) -> None:
        """Advance the checkpoint; raise CheckpointConflict if the stored value is already >= `value`."""
        ...

    def get_page(self, scope: str, url: str) -> dict[str, Any] | None:
        """What the last 200 of `url` said: {"etag", "has_more", "next_page"}, or None."""
        ...

    def put_page(self, scope: str, url: str, value: dict[str, Any]) -> None: ...


def parse_label(value: str) -> str:
    """An organization, enterprise or workspace label as it appears in keys: `[A-Za-z0-9._-]`, lower-cased."""
    text = value.strip()
    if not _LABEL.match(text) or text in (".", ".."):
        raise ValueError(f"not an organization or workspace name: {value!r}")
    return text.lower()


def utc_today(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


def days_to_fetch(
    checkpoint: str | None,
    today: date,
    *,
    oldest: date | None = None,
    backfill_days: int = DEFAULT_BACKFILL_DAYS,
    refetch_days: int = 0,
) -> list[date]:
    """The days a run fetches, oldest first: after the checkpoint (the last `refetch_days` days up to and
    including it again) to yesterday; from `oldest` (default `today - backfill_days`) without a checkpoint."""
    yesterday = today - timedelta(days=1)
    floor = oldest if oldest is not None else today - timedelta(days=backfill_days)
    if checkpoint is None:
        start = floor
    else:
        start = date.fromisoformat(checkpoint) + timedelta(days=1) - timedelta(days=max(0, refetch_days))
        start = max(start, floor) if oldest is not None else start
    return [start + timedelta(days=n) for n in range((yesterday - start).days + 1)]


@dataclass
class SourceResult:
    source: str
    label: str
    # ok | not_ready (a day is not published yet: retried next run) | rate_limited | out_of_time | error
    status: str = "ok"
    days: list[str] = field(default_factory=list)  # completed this run
    files_written: int = 0
    not_modified: int = 0
    requests: int = 0
    downloads: int = 0
    checkpoint: str | None = None
    pending_day: str | None = None  # the first day not completed (not ready, stopped or failed)
    days_before_history: int = 0  # first run: days older than the oldest the vendor keeps (nothing to store)
    retry_at: float | None = None
    error: str | None = None
    error_kind: str | None = None  # auth | http | unexpected

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def advance(state: UsageSyncState, scope: str, day: str, result: SourceResult) -> None:
    """Move the checkpoint to `day` (a lost race to a concurrent run that got further is fine)."""
    try:
        state.put_checkpoint(scope, day)
    except CheckpointConflict:
        pass
    if result.checkpoint is None or day > result.checkpoint:
        result.checkpoint = day


class DayNotReady(Exception):
    """The vendor has not published the day yet: the run stops there and the next run asks again."""


def fetch_days(
    client: VendorClient,
    days: Iterable[date],
    fetch_day: Callable[[str], None],
    state: UsageSyncState,
    scope: str,
    result: SourceResult,
    *,
    find_history: bool = False,
) -> SourceResult:
    """Fetch `days` oldest first with `fetch_day(YYYY-MM-DD)`, moving the checkpoint after each; the first day
    that stops (not ready, rate limited, out of time) or fails (auth, http, an unexpected answer: the error's
    `error_kind`) ends the run and is the result's `pending_day`. Storage errors propagate.

    `find_history` (a first run that asks back to the oldest day the vendor may keep): days without a report
    before the first one that has one are older than the vendor's history, so they are passed over rather than
    waited for. If no day has a report, the first day stays pending (a day may yet be published) unless the
    window spans more than a few days, which means the organization has no reports at all: an error."""
    before = (client.stats.requests, client.stats.downloads)
    days = list(days)
    for day in days:
        iso = day.isoformat()
        try:
            fetch_day(iso)
        except DayNotReady:
            if find_history and not result.days:
                result.days_before_history += 1
                continue
            result.status = "not_ready"
        except RateLimited as err:
            result.status, result.retry_at = "rate_limited", err.retry_at
        except OutOfTime:
            result.status = "out_of_time"
        except VendorError as err:
            kind = "auth" if isinstance(err, AuthError) else "http" if isinstance(err, VendorHttpError) else None
            result.status, result.error = "error", str(err)
            result.error_kind = kind or getattr(err, "error_kind", "unexpected")
        else:
            result.days.append(iso)
            advance(state, scope, iso, result)
            continue
        result.pending_day = iso
        break
    if find_history and days and not result.days and result.status == "ok":
        _no_history(result, days)
    result.requests = client.stats.requests - before[0]
    result.downloads = client.stats.downloads - before[1]
    return result


# A first run that finds no report in a window longer than this is misconfigured (organization, scope, token),
# not early: vendors publish a day within a day or two.
NO_HISTORY_DAYS = 3


def _no_history(result: SourceResult, days: list[date]) -> None:
    result.days_before_history = 0
    result.pending_day = days[0].isoformat()
    if len(days) <= NO_HISTORY_DAYS:
        result.status = "not_ready"
        return
    result.status, result.error_kind = "error", "not_found"
    result.error = (
        f"no {result.source} report for {result.label} on any day from {days[0]} to {days[-1]}: "
        "check the organization (or enterprise) name, the scope and the token's permissions"
    )
