"""Pure helpers of the usage fetchers: the day window, labels, page and report shapes, Retry-After."""

from __future__ import annotations

import json
from datetime import date
from email.utils import formatdate
from pathlib import Path

import pytest
from prodlens.vendors.claude_code import UnexpectedPage, page_key, page_url, read_page
from prodlens.vendors.client import DEFAULT_RETRY_AFTER_S, AuthError, _retry_after_s, claude_code_client, copilot_client
from prodlens.vendors.copilot import UnexpectedReport, read_report, report_key, report_url
from prodlens.vendors.sync import days_to_fetch, parse_label

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "usage"
TODAY = date(2026, 3, 10)


def test_days_without_checkpoint_start_backfill_days_ago_and_end_yesterday():
    days = days_to_fetch(None, TODAY)
    assert days[0] == date(2026, 2, 10) and days[-1] == date(2026, 3, 9) and len(days) == 28


def test_days_without_checkpoint_start_at_a_configured_oldest_day():
    assert days_to_fetch(None, TODAY, oldest=date(2026, 3, 8)) == [date(2026, 3, 8), date(2026, 3, 9)]
    assert len(days_to_fetch(None, TODAY, backfill_days=100)) == 100


def test_days_after_the_checkpoint_exclude_it_unless_refetched():
    assert days_to_fetch("2026-03-07", TODAY) == [date(2026, 3, 8), date(2026, 3, 9)]
    assert days_to_fetch("2026-03-07", TODAY, refetch_days=1) == [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    assert days_to_fetch("2026-03-09", TODAY) == []
    assert days_to_fetch("2026-03-09", TODAY, refetch_days=2) == [date(2026, 3, 8), date(2026, 3, 9)]


def test_a_checkpoint_older_than_the_backfill_window_is_still_continued_from():
    # A source that has not run for two months catches up from its checkpoint, not from the window
    days = days_to_fetch("2026-01-01", TODAY, backfill_days=28)
    assert days[0] == date(2026, 1, 2) and days[-1] == date(2026, 3, 9)


def test_an_explicit_oldest_day_bounds_a_refetch():
    assert days_to_fetch("2026-03-08", TODAY, oldest=date(2026, 3, 9), refetch_days=3) == [date(2026, 3, 9)]


@pytest.mark.parametrize("value", ["acme", "Acme-Robotics", "acme.inc", "acme_2"])
def test_labels_are_lower_cased_slugs(value):
    assert parse_label(value) == value.lower()


@pytest.mark.parametrize("value", ["", "..", "a/b", "../etc", "acme corp", "-x"])
def test_labels_that_could_leave_their_prefix_are_refused(value):
    with pytest.raises(ValueError):
        parse_label(value)


def test_claude_code_keys_and_urls():
    client = claude_code_client("k", "https://api.anthropic.com/")
    assert page_key("acme", "2026-03-09", 2) == "usage/claude_code/acme/2026-03-09/page-2.json"
    assert page_url(client, "2026-03-09", None) == (
        "https://api.anthropic.com/v1/organizations/usage_report/claude_code?starting_at=2026-03-09&limit=1000"
    )
    assert page_url(client, "2026-03-09", "page_MjAy+/=").endswith("&page=page_MjAy%2B%2F%3D")


def test_recorded_claude_code_pages_read_as_pages():
    page1 = (FIXTURES / "claude_code" / "anthropic-api-ref__claude_code_usage_report__page1.json").read_bytes()
    last = (FIXTURES / "claude_code" / "anthropic-docs__claude_code_usage_report__guide-example.json").read_bytes()
    assert read_page(page1, "u") == (1, True, "page_MjAyNS0wNS0xNFQwMDowMDowMFo=")
    records, has_more, next_page = read_page(last, "u")
    assert has_more is False and next_page is None and records >= 1


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"has_more": false}', b'{"data": [], "has_more": true}', b'{"data": {}}']
)
def test_claude_code_bodies_that_are_not_pages_are_refused(body):
    with pytest.raises(UnexpectedPage):
        read_page(body, "https://api.anthropic.com/v1/x?starting_at=2026-03-09")


def test_copilot_keys_and_urls_for_organization_and_enterprise():
    client = copilot_client("t", "https://api.github.com")
    assert report_key("acme", "2026-03-09", 1) == "usage/copilot/acme/users-1-day/2026-03-09/1.ndjson"
    assert report_url(client, "organization", "acme", "2026-03-09") == (
        "https://api.github.com/orgs/acme/copilot/metrics/reports/users-1-day?day=2026-03-09"
    )
    assert report_url(client, "enterprise", "acme-ent", "2026-03-09") == (
        "https://api.github.com/enterprises/acme-ent/copilot/metrics/reports/users-1-day?day=2026-03-09"
    )
    with pytest.raises(ValueError):
        report_url(client, "team", "acme", "2026-03-09")


def test_the_recorded_copilot_report_response_reads_as_its_links():
    body = (FIXTURES / "copilot" / "rest-docs__users-1-day__download_links.json").read_bytes()
    assert read_report(body, "u", "2025-07-01") == json.loads(body)["download_links"]
    with pytest.raises(UnexpectedReport):
        read_report(body, "u", "2025-07-02")  # the report of another day


@pytest.mark.parametrize("body", [b"<html>", b"[]", b'{"download_links": "x"}', b'{"download_links": [1]}'])
def test_copilot_bodies_that_are_not_reports_are_refused(body):
    with pytest.raises(UnexpectedReport):
        read_report(body, "u", "2026-03-09")


def test_retry_after_as_seconds_or_http_date():
    now = 1_800_000_000.0
    assert _retry_after_s("7", now) == 7.0
    assert _retry_after_s("-3", now) == 0.0
    assert _retry_after_s(formatdate(now + 10, usegmt=True), now) == 10.0
    assert _retry_after_s("soon", now) == DEFAULT_RETRY_AFTER_S


def test_a_missing_token_is_an_auth_error_and_never_in_a_repr():
    with pytest.raises(AuthError):
        copilot_client("")
    with pytest.raises(AuthError):
        claude_code_client("")
    assert "secret" not in repr(claude_code_client("secret"))
