"""The Claude Code analytics fetcher against a loopback Admin API, writing to a local directory."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from prodlens.vendors.local import STATE_FILE, run_local_usage_sync

from tests.integration.vendors.fake_vendors import ADMIN_KEY, FakeVendors, Fault

OLDEST = date(2026, 3, 7)
DAY = 86_400.0


def run(vendors: FakeVendors, out: Path, clock, **options) -> dict:
    options.setdefault("oldest", OLDEST)
    return run_local_usage_sync("claude_code", "acme", out, ADMIN_KEY, vendors.url, clock=clock, **options)


def stored_records(out: Path, day: str) -> list[dict]:
    pages = sorted((out / "usage" / "claude_code" / "acme" / day).glob("page-*.json"), key=lambda p: int(p.stem[5:]))
    return [record for page in pages for record in json.loads(page.read_bytes())["data"]]


def state(out: Path) -> dict:
    return json.loads((out / STATE_FILE).read_text())


def test_first_run_pages_through_every_day_to_yesterday_and_moves_the_checkpoint(vendors, clock, tmp_path):
    # Given two days with records (four per day: two pages of two) and one day without any
    expected = {day: vendors.add_claude_day(day) for day in ("2026-03-07", "2026-03-09")}

    # When the fetcher runs for the first time
    result = run(vendors, tmp_path, clock)

    # Then every day from the oldest to yesterday is asked for, page by page, and every record is on disk once
    assert result["status"] == "ok", result
    assert result["days"] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    for day, records in expected.items():
        assert stored_records(tmp_path, day) == records
    assert stored_records(tmp_path, "2026-03-08") == []
    assert result["files_written"] == 2 + 1 + 2
    pages = [(r.query["starting_at"], r.query.get("page")) for r in vendors.requests("/v1/")]
    assert pages[:3] == [("2026-03-07", None), ("2026-03-07", "page_2026-03-07_1"), ("2026-03-08", None)]
    assert all(r.query["limit"] == "1000" for r in vendors.requests("/v1/"))
    # And the checkpoint is yesterday; today (not over) is never asked for
    assert result["checkpoint"] == "2026-03-09"
    assert state(tmp_path)["checkpoints"] == {"claude_code/acme": "2026-03-09"}
    assert "2026-03-10" not in {r.query["starting_at"] for r in vendors.log}


def test_pages_are_stored_byte_for_byte(vendors, clock, tmp_path):
    # Given a day with records
    vendors.add_claude_day("2026-03-09")
    # When the fetcher runs
    run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    # Then each file holds exactly the bytes the API answered (the fake's pages are indented JSON)
    first = (tmp_path / "usage/claude_code/acme/2026-03-09/page-1.json").read_bytes()
    assert first.startswith(b'{\n  "data": [')
    assert json.loads(first)["next_page"] == "page_2026-03-09_1"


def test_next_run_repulls_the_last_day_then_continues_to_the_new_yesterday(vendors, clock, tmp_path):
    # Given a first run up to 2026-03-09, after which more data for that day arrives (the API lags)
    vendors.add_claude_day("2026-03-09")
    run(vendors, tmp_path, clock)
    vendors.claude_days["2026-03-09"].append(
        {**vendors.claude_days["2026-03-09"][0], "actor": {"type": "user_actor", "email_address": "late@acme.example"}}
    )
    vendors.add_claude_day("2026-03-10")
    mark = len(vendors.log)

    # When the next run happens a day later
    clock.now += DAY
    result = run(vendors, tmp_path, clock)

    # Then it pulls 2026-03-09 again (with the late record) and then 2026-03-10, and nothing older
    assert result["status"] == "ok"
    assert result["days"] == ["2026-03-09", "2026-03-10"]
    assert {r.query["starting_at"] for r in vendors.log[mark:]} == {"2026-03-09", "2026-03-10"}
    assert stored_records(tmp_path, "2026-03-09")[-1]["actor"]["email_address"] == "late@acme.example"
    assert result["checkpoint"] == "2026-03-10"


def test_a_last_page_without_next_page_ends_the_day(vendors, clock, tmp_path):
    # Given an API whose last page omits next_page instead of sending null
    vendors.claude_omit_next_page = True
    expected = vendors.add_claude_day("2026-03-09")
    # When the fetcher runs
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    # Then the day is complete
    assert result["status"] == "ok" and stored_records(tmp_path, "2026-03-09") == expected


def test_has_more_without_next_page_fails_the_day_instead_of_losing_pages(vendors, clock, tmp_path):
    # Given a page that says there is more but not where
    vendors.add_claude_day("2026-03-09")
    vendors.faults.append(
        Fault(
            "/v1/",
            status=200,
            body=b'{"data": [], "has_more": true, "next_page": null}',
            query={"starting_at": "2026-03-09"},
        )
    )
    # When the fetcher runs
    result = run(vendors, tmp_path, clock)
    # Then the day fails, and the checkpoint stays on the day before
    assert result["status"] == "error" and result["error_kind"] == "unexpected"
    assert result["pending_day"] == "2026-03-09" and result["checkpoint"] == "2026-03-08"


def test_429_with_retry_after_is_waited_out_and_the_page_asked_again(vendors, clock, tmp_path):
    # Given the second page of a day is rate limited once, with Retry-After: 7
    expected = vendors.add_claude_day("2026-03-09")
    vendors.faults.append(
        Fault(
            "/v1/",
            status=429,
            headers={"Retry-After": "7"},
            body=b'{"type": "error"}',
            query={"page": "page_2026-03-09_1"},
        )
    )
    # When the fetcher runs
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    # Then it waits 7 s (on the injected clock), asks again, and stores the whole day
    assert clock.sleeps == [7.0]
    assert result["status"] == "ok" and result["rate_limit_waits"] == 1
    assert stored_records(tmp_path, "2026-03-09") == expected


def test_a_rate_limit_too_long_for_the_run_stops_cleanly_and_the_next_run_resumes(vendors, clock, tmp_path):
    # Given 2026-03-08 is rate limited for an hour, longer than a run may wait
    for day in ("2026-03-07", "2026-03-08", "2026-03-09"):
        vendors.add_claude_day(day)
    vendors.faults.append(
        Fault("/v1/", status=429, headers={"Retry-After": "3600"}, query={"starting_at": "2026-03-08"})
    )
    # When the fetcher runs
    first = run(vendors, tmp_path, clock)
    # Then it stops without sleeping, reports when to come back, and keeps the last complete day as checkpoint
    assert clock.sleeps == []
    assert first["status"] == "rate_limited" and first["retry_at"] == clock.now + 3600
    assert first["days"] == ["2026-03-07"] and first["checkpoint"] == "2026-03-07"
    assert first["pending_day"] == "2026-03-08"

    # And the next run continues from the checkpoint (re-pulling it) to yesterday
    second = run(vendors, tmp_path, clock)
    assert second["status"] == "ok" and second["days"] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert stored_records(tmp_path, "2026-03-08") == vendors.claude_days["2026-03-08"]


def test_5xx_is_retried_with_backoff(vendors, clock, tmp_path):
    # Given the API fails twice with 500 (then 529, Anthropic's "overloaded"), then answers
    expected = vendors.add_claude_day("2026-03-09")
    vendors.faults.append(Fault("/v1/", status=500, times=1))
    vendors.faults.append(Fault("/v1/", status=529, times=1))
    # When the fetcher runs
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    # Then it backs off 1 s then 2 s and completes the day
    assert clock.sleeps == [1.0, 2.0]
    assert result["status"] == "ok" and result["retries"] == 2
    assert stored_records(tmp_path, "2026-03-09") == expected


def test_5xx_that_persists_fails_the_source_without_moving_the_checkpoint(vendors, clock, tmp_path):
    vendors.add_claude_day("2026-03-09")
    vendors.faults.append(Fault("/v1/", status=503, times=10))
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    assert result["status"] == "error" and result["error_kind"] == "http"
    assert result["checkpoint"] is None and not (tmp_path / "usage").exists()


def test_a_revoked_admin_key_fails_the_source_with_an_auth_error(vendors, clock, tmp_path):
    # Given the admin key was revoked (the API answers 401)
    vendors.add_claude_day("2026-03-09")
    vendors.admin_key = "sk-ant-admin01-the-new-key"
    # When the fetcher runs
    result = run(vendors, tmp_path, clock)
    # Then the source fails with an auth error after one request, stores nothing, and never shows the key
    assert result["status"] == "error" and result["error_kind"] == "auth"
    assert "401" in result["error"] and ADMIN_KEY not in json.dumps(result)
    assert result["requests"] == 1 and result["checkpoint"] is None
    assert not (tmp_path / "usage").exists()


def test_pages_with_etags_are_asked_conditionally_and_a_304_is_not_rewritten(vendors, clock, tmp_path):
    # Given an API that sends ETags, and a first run
    vendors.claude_etags = True
    vendors.add_claude_day("2026-03-09")
    run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    page = tmp_path / "usage/claude_code/acme/2026-03-09/page-2.json"
    written = page.stat().st_mtime_ns
    mark = len(vendors.log)

    # When the same day is pulled again unchanged
    clock.now += DAY
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))

    # Then its pages are answered 304, followed through the stored next_page, and not rewritten
    again = [r for r in vendors.log[mark:] if r.query["starting_at"] == "2026-03-09"]
    assert [r.status for r in again] == [304, 304]
    assert result["not_modified"] == 2 and page.stat().st_mtime_ns == written
    assert result["status"] == "ok" and result["checkpoint"] == "2026-03-10"
    assert ADMIN_KEY not in (tmp_path / STATE_FILE).read_text()
