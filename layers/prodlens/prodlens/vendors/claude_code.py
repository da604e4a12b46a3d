"""Claude Code analytics: every page of every day since the checkpoint, stored unmodified.

`GET /v1/organizations/usage_report/claude_code?starting_at=YYYY-MM-DD&limit=1000[&page=<next_page>]` returns
one UTC day, `{data: [...], has_more, next_page}`. Each page goes to
`usage/claude_code/<label>/<day>/page-<n>.json` (n from 1), the day's pages are walked until `has_more` is
false, and only then does the checkpoint move to that day.

Anthropic's data can lag by up to an hour, so the last `refetch_days` days up to the checkpoint are pulled
again on every run; the same day rewrites the same keys, and normalize replaces a (day, actor) by the pull
stored last, so a re-pulled day never adds up. A page answered 304 to its stored ETag is not rewritten; its
continuation (`has_more`, `next_page`) comes from the state.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from prodlens.vendors.client import VendorClient, VendorError
from prodlens.vendors.sync import (
    DEFAULT_BACKFILL_DAYS,
    PageSink,
    SourceResult,
    UsageSyncState,
    days_to_fetch,
    fetch_days,
    parse_label,
    utc_today,
)

SOURCE = "claude_code"
PATH = "/v1/organizations/usage_report/claude_code"
PAGE_LIMIT = 1000
MAX_PAGES_PER_DAY = 1000
DEFAULT_REFETCH_DAYS = 1


class UnexpectedPage(VendorError):
    """A 200 that is not a page (`{data: [...], has_more, next_page}`), or paging that would lose or loop."""


def page_key(label: str, day: str, n: int) -> str:
    return f"usage/claude_code/{label}/{day}/page-{n}.json"


def page_url(client: VendorClient, day: str, page: str | None) -> str:
    query: dict[str, str | int] = {"starting_at": day, "limit": PAGE_LIMIT}
    if page:
        query["page"] = page
    return f"{client.url(PATH)}?{urlencode(query)}"


def read_page(body: bytes, url: str) -> tuple[int, bool, str | None]:
    """(records, has_more, next_page) of a page; UnexpectedPage if it is not one."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise UnexpectedPage(f"{url.split('?')[0]} did not return JSON") from err
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UnexpectedPage(f"{url.split('?')[0]} did not return a page with a data array")
    has_more = data.get("has_more") is True
    next_page = data.get("next_page")
    if not isinstance(next_page, str) or not next_page:
        next_page = None
    if has_more and next_page is None:
        raise UnexpectedPage(f"{url.split('?')[0]} says has_more without a next_page")
    return len(data["data"]), has_more, next_page


def sync_claude_code(
    client: VendorClient,
    label: str,
    sink: PageSink,
    state: UsageSyncState,
    *,
    today: date | None = None,
    oldest: date | None = None,
    backfill_days: int = DEFAULT_BACKFILL_DAYS,
    refetch_days: int = DEFAULT_REFETCH_DAYS,
) -> SourceResult:
    """Fetch every day from the checkpoint to yesterday. API failures are reported in the result, never raised;
    storage errors propagate."""
    label = parse_label(label)
    scope = f"{SOURCE}/{label}"
    result = SourceResult(SOURCE, label)
    result.checkpoint = state.get_checkpoint(scope)
    today = today or utc_today(client.clock.time())
    days = days_to_fetch(
        result.checkpoint, today, oldest=oldest, backfill_days=backfill_days, refetch_days=refetch_days
    )

    def fetch(day: str) -> None:
        _fetch_day(client, day, label=label, scope=scope, sink=sink, state=state, out=result)

    return fetch_days(client, days, fetch, state, scope, result)


def _fetch_day(
    client: VendorClient, day: str, *, label: str, scope: str, sink: PageSink, state: UsageSyncState, out: SourceResult
) -> None:
    page: str | None = None
    seen: set[str] = set()
    for n in range(1, MAX_PAGES_PER_DAY + 1):
        url = page_url(client, day, page)
        known: dict[str, Any] | None = state.get_page(scope, url)
        response = client.get(url, known.get("etag") if known else None)
        if response.status == 304 and known is not None:
            out.not_modified += 1
            has_more, next_page = bool(known.get("has_more")), known.get("next_page")
        elif response.status == 200:
            _, has_more, next_page = read_page(response.body, url)
            sink.put(page_key(label, day, n), response.body)
            out.files_written += 1
            if response.etag:
                state.put_page(scope, url, {"etag": response.etag, "has_more": has_more, "next_page": next_page})
        else:
            raise UnexpectedPage(f"{url.split('?')[0]} answered {response.status} without a page")
        if not has_more:
            return
        if next_page in seen:
            raise UnexpectedPage(f"{url.split('?')[0]} returned a next_page it already returned")
        seen.add(next_page)
        page = next_page
    raise UnexpectedPage(f"more than {MAX_PAGES_PER_DAY} pages for {day}")
