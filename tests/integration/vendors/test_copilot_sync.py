"""The Copilot usage metrics fetcher against a loopback GitHub API and its signed download links."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from prodlens.vendors.local import STATE_FILE, run_local_usage_sync

from tests.integration.vendors.fake_vendors import COPILOT_TOKEN, FakeVendors, Fault

OLDEST = date(2026, 3, 7)
DAY = 86_400.0
REPORT = "/orgs/acme/copilot/metrics/reports/users-1-day"


def run(vendors: FakeVendors, out: Path, clock, **options) -> dict:
    options.setdefault("oldest", OLDEST)
    return run_local_usage_sync("copilot", "acme", out, COPILOT_TOKEN, vendors.url, clock=clock, **options)


def stored(out: Path, day: str, label: str = "acme") -> list[bytes]:
    folder = out / "usage" / "copilot" / label / "users-1-day" / day
    return [p.read_bytes() for p in sorted(folder.glob("*.ndjson"), key=lambda p: int(p.stem))]


def report_requests(vendors: FakeVendors, day: str) -> list:
    return [r for r in vendors.requests(REPORT) if r.query.get("day") == day]


def test_each_day_to_yesterday_is_downloaded_from_its_links_and_stored_unmodified(vendors, clock, tmp_path):
    # Given three days of reports, each split over two download links
    bodies = {day: vendors.add_copilot_day(day) for day in ("2026-03-07", "2026-03-08", "2026-03-09")}

    # When the fetcher runs for the first time
    result = run(vendors, tmp_path, clock)

    # Then each day's files hold exactly the links' bytes, under users-1-day/<day>/<n>.ndjson
    assert result["status"] == "ok", result
    assert result["days"] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    for day, expected in bodies.items():
        assert stored(tmp_path, day) == expected
    assert result["files_written"] == 6 and result["requests"] == 3 and result["downloads"] == 6
    # And the links were fetched without the token (the conftest checks every request's credentials)
    assert len(vendors.requests("/download/")) == 6
    # And the checkpoint is yesterday; today is never asked for
    assert result["checkpoint"] == "2026-03-09"
    assert json.loads((tmp_path / STATE_FILE).read_text())["checkpoints"] == {"copilot/acme": "2026-03-09"}
    assert report_requests(vendors, "2026-03-10") == []
    assert COPILOT_TOKEN not in (tmp_path / STATE_FILE).read_text() + json.dumps(result)


def test_first_run_backfills_to_the_oldest_report_github_keeps(vendors, clock, tmp_path):
    # Given an organization whose reports start on 2026-02-10 (GitHub keeps a year, and nothing before 2025-10-10)
    for n in range(28):
        vendors.add_copilot_day((date(2026, 2, 10) + timedelta(days=n)).isoformat(), links=1)
    # When the fetcher runs for the first time, without an oldest day
    result = run(vendors, tmp_path, clock, oldest=None)
    # Then it asked for every day from 2025-10-10 (less than a year before 2026-03-10), passed over the days
    # before the first report, and stored every day from 2026-02-10 to yesterday
    asked = sorted(r.query["day"] for r in vendors.requests(REPORT))
    assert asked[0] == "2025-10-10" and asked[-1] == "2026-03-09" and len(asked) == len(set(asked)) == 151
    assert result["status"] == "ok" and result["days_before_history"] == 123
    assert result["days"][0] == "2026-02-10" and result["days"][-1] == "2026-03-09" and len(result["days"]) == 28
    assert result["checkpoint"] == "2026-03-09"
    # And a second run the next day asks for that day alone: the days before the history are not asked again
    clock.now += DAY
    vendors.add_copilot_day("2026-03-10", links=1)
    mark = len(vendors.log)
    assert run(vendors, tmp_path, clock, oldest=None)["days"] == ["2026-03-10"]
    assert [r.query["day"] for r in vendors.log[mark:] if r.path == REPORT] == ["2026-03-10"]


def test_first_run_finding_no_report_in_its_window_is_an_error_naming_the_organization(vendors, clock, tmp_path):
    # Given an organization with no report at all (a wrong name or scope answers 404 for every day)
    result = run(vendors, tmp_path, clock, oldest=date(2026, 2, 1))
    # Then the source fails loudly (an alarm sees it) rather than waiting for ever, and no checkpoint is stored
    assert result["status"] == "error" and result["error_kind"] == "not_found"
    assert "acme" in result["error"] and "2026-02-01" in result["error"]
    assert result["checkpoint"] is None and result["pending_day"] == "2026-02-01"


def test_first_run_of_a_few_days_without_reports_is_only_not_ready(vendors, clock, tmp_path):
    # Given a window of two days, neither published yet
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 8))
    # Then the run waits for them: not an error
    assert result["status"] == "not_ready" and result["pending_day"] == "2026-03-08" and result["error"] is None


def test_second_run_continues_after_the_checkpoint(vendors, clock, tmp_path):
    # Given a first run up to 2026-03-09
    for day in ("2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"):
        vendors.add_copilot_day(day)
    run(vendors, tmp_path, clock)
    mark = len(vendors.log)
    # When the next run happens a day later
    clock.now += DAY
    result = run(vendors, tmp_path, clock)
    # Then it asks only for the new day
    assert result["days"] == ["2026-03-10"]
    assert {r.query.get("day") for r in vendors.log[mark:] if r.path == REPORT} == {"2026-03-10"}
    assert result["checkpoint"] == "2026-03-10"


def test_a_day_not_ready_is_retried_on_the_next_run_never_skipped(vendors, clock, tmp_path):
    # Given 2026-03-08 is not published yet (404) while 2026-03-09 already is
    vendors.add_copilot_day("2026-03-07")
    vendors.add_copilot_day("2026-03-09")
    # When the fetcher runs
    first = run(vendors, tmp_path, clock)
    # Then it stops at the day not ready; the checkpoint stays before it and later days wait
    assert first["status"] == "not_ready" and first["pending_day"] == "2026-03-08"
    assert first["days"] == ["2026-03-07"] and first["checkpoint"] == "2026-03-07"
    assert report_requests(vendors, "2026-03-09") == []

    # When the day is published and the fetcher runs again
    vendors.add_copilot_day("2026-03-08")
    second = run(vendors, tmp_path, clock)
    # Then it fetches that day and the ones after it
    assert second["status"] == "ok" and second["days"] == ["2026-03-08", "2026-03-09"]
    assert stored(tmp_path, "2026-03-08") == vendors.copilot_days["2026-03-08"]


def test_a_204_for_a_day_is_not_ready_either(vendors, clock, tmp_path):
    vendors.add_copilot_day("2026-03-09")
    vendors.faults.append(Fault(REPORT, status=204, body=b"", query={"day": "2026-03-09"}))
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    assert result["status"] == "not_ready" and result["checkpoint"] is None
    assert run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))["days"] == ["2026-03-09"]


def test_an_expired_link_asks_for_the_days_report_again_once(vendors, clock, tmp_path):
    # Given the second link of 2026-03-09 has expired by the time it is downloaded
    bodies = vendors.add_copilot_day("2026-03-09")
    vendors.faults.append(Fault("/download/1/2026-03-09/2.ndjson", status=403, body=b"<Error>expired</Error>"))
    # When the fetcher runs
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    # Then it asks for the report again, downloads its fresh links, and completes the day
    assert result["status"] == "ok" and result["days"] == ["2026-03-09"]
    assert len(report_requests(vendors, "2026-03-09")) == 2
    assert [r.path.split("/")[2] for r in vendors.requests("/download/")] == ["1", "1", "2", "2"]
    assert stored(tmp_path, "2026-03-09") == bodies


def test_a_link_that_expires_twice_fails_the_day(vendors, clock, tmp_path):
    # Given every download link of 2026-03-08 answers 404 (expired) twice in a row
    vendors.add_copilot_day("2026-03-07")
    vendors.add_copilot_day("2026-03-08")
    vendors.faults.append(Fault("/download/2/2026-03-08/", status=404, body=b""))
    vendors.faults.append(Fault("/download/3/2026-03-08/", status=404, body=b""))
    # When the fetcher runs
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 7))
    # Then the day fails after two reports, nothing of it is stored, and the checkpoint stays before it
    assert result["status"] == "error" and result["error_kind"] == "http"
    assert "expired" in result["error"] and "sig=" not in result["error"]
    assert len(report_requests(vendors, "2026-03-08")) == 2
    assert stored(tmp_path, "2026-03-08") == [] and result["checkpoint"] == "2026-03-07"


def test_429_with_retry_after_on_the_report_is_waited_out(vendors, clock, tmp_path):
    bodies = vendors.add_copilot_day("2026-03-09")
    vendors.faults.append(Fault(REPORT, status=429, headers={"Retry-After": "30"}))
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    assert clock.sleeps == [30.0]
    assert result["status"] == "ok" and stored(tmp_path, "2026-03-09") == bodies


def test_githubs_primary_rate_limit_403_is_a_rate_limit_not_an_auth_error(vendors, clock, tmp_path):
    # Given the API's primary limit is exhausted for two hours
    vendors.add_copilot_day("2026-03-09")
    reset = str(int(clock.now + 7200))
    vendors.faults.append(
        Fault(REPORT, status=403, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, times=5)
    )
    # When the fetcher runs
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    # Then it stops cleanly (too long to wait) and the next run resumes at the same day
    assert result["status"] == "rate_limited" and result["pending_day"] == "2026-03-09"
    assert result["retry_at"] == float(reset) + 1.0 and clock.sleeps == []


def test_a_5xx_on_a_download_link_is_retried_with_backoff(vendors, clock, tmp_path):
    bodies = vendors.add_copilot_day("2026-03-09")
    vendors.faults.append(Fault("/download/", status=500, body=b""))
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    assert clock.sleeps == [1.0] and result["retries"] == 1
    assert result["status"] == "ok" and stored(tmp_path, "2026-03-09") == bodies
    assert len(report_requests(vendors, "2026-03-09")) == 1  # a 5xx is not an expired link


def test_500_then_200_on_the_report(vendors, clock, tmp_path):
    vendors.add_copilot_day("2026-03-09")
    vendors.faults.append(Fault(REPORT, status=500))
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    assert clock.sleeps == [1.0] and result["status"] == "ok"


def test_a_revoked_token_fails_the_source_with_an_auth_error(vendors, clock, tmp_path):
    # Given the token was revoked (401)
    vendors.add_copilot_day("2026-03-09")
    vendors.copilot_token = "ghp_the_new_token"
    # When the fetcher runs
    result = run(vendors, tmp_path, clock)
    # Then the source fails with an auth error after one request, nothing is stored, the token is never shown
    assert result["status"] == "error" and result["error_kind"] == "auth" and "401" in result["error"]
    assert result["requests"] == 1 and result["checkpoint"] is None
    assert COPILOT_TOKEN not in json.dumps(result) and not (tmp_path / "usage").exists()


def test_a_token_without_the_metrics_permission_is_an_auth_error(vendors, clock, tmp_path):
    vendors.add_copilot_day("2026-03-09")
    vendors.faults.append(Fault(REPORT, status=403, body=b'{"message": "Resource not accessible by integration"}'))
    result = run(vendors, tmp_path, clock, oldest=date(2026, 3, 9))
    assert result["status"] == "error" and result["error_kind"] == "auth"
    assert "Resource not accessible" in result["error"]


def test_enterprise_scope_asks_the_enterprise_endpoint(vendors, clock, tmp_path):
    bodies = vendors.add_copilot_day("2026-03-09")
    result = run_local_usage_sync(
        "copilot", "acme-ent", tmp_path, COPILOT_TOKEN, vendors.url, scope="enterprise", clock=clock,
        oldest=date(2026, 3, 9),
    )  # fmt: skip
    assert result["status"] == "ok"
    assert [r.path for r in vendors.requests("/enterprises/")] == [
        "/enterprises/acme-ent/copilot/metrics/reports/users-1-day"
    ]
    assert stored(tmp_path, "2026-03-09", label="acme-ent") == bodies
    assert json.loads((tmp_path / STATE_FILE).read_text())["checkpoints"] == {
        "copilot/enterprise:acme-ent": "2026-03-09"
    }
