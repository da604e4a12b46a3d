"""Copilot usage metrics: each day's users report since the checkpoint, its NDJSON files stored unmodified.

A day is two steps. `GET /orgs/{org}/copilot/metrics/reports/users-1-day?day=YYYY-MM-DD` (or
`/enterprises/{enterprise}/...`) answers `{download_links: [...], report_day}`: signed URLs that expire soon,
so every link is downloaded right away (without the token: they live on another host), and only when all of
them are in hand are they stored, as `usage/copilot/<label>/users-1-day/<day>/<n>.ndjson` (n from 1, in the
links' order), and the checkpoint moved to the day.

- A day not published yet (204, or 404 on the report endpoint) stops the run there with `not_ready`: the
  checkpoint stays before it, so the next run asks for it again. Later days are not asked for either.
- The first run (no checkpoint) asks back to the oldest day GitHub keeps (reports exist from 2025-10-10, for up
  to a year): days without a report before the first one that has one are older than the history, passed over.
- A link that has expired (403/404/410 on the link) before it was downloaded: the day's report is asked for
  again once (fresh links) and all its links downloaded again; a second expiry fails the day.
- An empty `download_links` list is a day without data: completed, nothing stored.

The report endpoint's links change with every call, so no ETag is kept for it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from prodlens.vendors.client import AuthError, VendorClient, VendorError, VendorHttpError
from prodlens.vendors.sync import (
    DayNotReady,
    PageSink,
    SourceResult,
    UsageSyncState,
    days_to_fetch,
    fetch_days,
    parse_label,
    utc_today,
)

SOURCE = "copilot"
FIRST_REPORT_DAY = date(2025, 10, 10)  # GitHub: "Reports are available starting from October 10, 2025"
HISTORY_DAYS = 365  # "... and historical data can be accessed for up to 1 year from the current date"
REPORT = "users-1-day"
SCOPES = ("organization", "enterprise")
EXPIRED_LINK = (403, 404, 410)


class UnexpectedReport(VendorError):
    """A 200 from the report endpoint that is not `{download_links: [...], report_day}` for the day asked."""


class LinkExpired(VendorError):
    """A download link expired twice in a row: the day fails and is asked for again next run."""

    error_kind = "http"


def report_key(label: str, day: str, n: int) -> str:
    return f"usage/copilot/{label}/{REPORT}/{day}/{n}.ndjson"


def report_url(client: VendorClient, scope: str, name: str, day: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"Copilot scope is organization or enterprise, not {scope!r}")
    owner = "orgs" if scope == "organization" else "enterprises"
    return f"{client.url(f'/{owner}/{quote(name, safe="")}/copilot/metrics/reports/{REPORT}')}?day={day}"


def read_report(body: bytes, url: str, day: str) -> list[str]:
    """The download links of a report response for `day`; UnexpectedReport if it is not one."""
    where = url.split("?")[0]
    try:
        data: Any = json.loads(body)
    except ValueError as err:
        raise UnexpectedReport(f"{where} did not return JSON") from err
    links = data.get("download_links") if isinstance(data, dict) else None
    if not isinstance(links, list) or not all(isinstance(link, str) and link for link in links):
        raise UnexpectedReport(f"{where} did not return a download_links array")
    reported = data.get("report_day")
    if reported is not None and reported != day:
        raise UnexpectedReport(f"{where} returned the report of {reported!r} for {day}")
    return links


def sync_copilot(
    client: VendorClient,
    name: str,
    sink: PageSink,
    state: UsageSyncState,
    *,
    scope: str = "organization",
    today: date | None = None,
    oldest: date | None = None,
) -> SourceResult:
    """Fetch every day's report from the checkpoint (exclusive) to yesterday; the first run from `oldest`
    (default: the oldest day GitHub keeps). API failures are reported in the result, never raised; storage
    errors propagate."""
    label = parse_label(name)
    if scope not in SCOPES:
        raise ValueError(f"Copilot scope is organization or enterprise, not {scope!r}")
    state_scope = f"{SOURCE}/{label}" if scope == "organization" else f"{SOURCE}/enterprise:{label}"
    result = SourceResult(SOURCE, label)
    result.checkpoint = state.get_checkpoint(state_scope)
    today = today or utc_today(client.clock.time())
    first_run = result.checkpoint is None
    oldest = oldest or max(FIRST_REPORT_DAY, today - timedelta(days=HISTORY_DAYS))
    days = days_to_fetch(result.checkpoint, today, oldest=oldest)

    def fetch(day: str) -> None:
        _fetch_day(client, scope, label, day, sink, result)

    return fetch_days(client, days, fetch, state, state_scope, result, find_history=first_run)


def _fetch_day(client: VendorClient, scope: str, label: str, day: str, sink: PageSink, out: SourceResult) -> None:
    url = report_url(client, scope, label, day)
    for attempt in (1, 2):
        try:
            response = client.get(url)
        except VendorHttpError as err:
            if err.status == 404 and not isinstance(err, AuthError):
                raise DayNotReady from None
            raise
        if response.status == 204:
            raise DayNotReady
        links = read_report(response.body, url, day)
        try:
            bodies = [client.download(link).body for link in links]
        except VendorHttpError as err:
            if err.status not in EXPIRED_LINK:
                raise
            if attempt == 2:
                raise LinkExpired(f"a download link of the {day} report expired twice ({err.status})") from None
            continue  # ask for the day's report again: fresh links
        for n, body in enumerate(bodies, start=1):
            sink.put(report_key(label, day, n), body)
            out.files_written += 1
        return
