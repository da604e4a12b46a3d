"""The usage fetchers on the embedded stack, against the loopback vendors: scheduled run -> raw usage/ -> S3
notification -> normalize -> aggregate -> developer_daily_usage, and what each vendor fault leaves behind.

The functions run as deployed (environment from the template, token from Secrets Manager, state in DynamoDB) on
the real clock, so the vendors serve the days before today.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base
from prodlens.errors import ConfigurationError
from prodlens.lake_engine import LocalEngine
from prodlens.local.stack import FUNCTIONS, LOCAL_REGION, LocalStack, running

from tests.integration.vendors.fake_vendors import ADMIN_KEY, COPILOT_TOKEN, FakeVendors, Fault, copilot_lines

pytestmark = pytest.mark.faults

TODAY = datetime.now(UTC).date()
DAYS = [(TODAY - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
REPORT = "/orgs/acme/copilot/metrics/reports/users-1-day"
CLAUDE = "/v1/organizations/usage_report/claude_code"
SECRETS = {"copilot_sync": "CopilotTokenSecretName", "claude_code_sync": "ClaudeCodeAdminKeySecretName"}


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    server = FakeVendors().start()
    yield server
    server.stop()
    assert server.violations == [], "a request carried the wrong credentials (or a download link carried any)"


@contextmanager
def _stack(vendors: FakeVendors, tokens: dict[str, str | None] | None = None) -> Iterator[LocalStack]:
    """The embedded stack with both fetchers pointed at the loopback vendors and their secrets created
    (`tokens[name] = None`: that fetcher's secret is not created)."""
    tokens = {"copilot_sync": COPILOT_TOKEN, "claude_code_sync": json.dumps({"token": ADMIN_KEY}), **(tokens or {})}
    parameters = {
        "CopilotAccounts": "acme",
        "CopilotApiUrl": vendors.url,
        "ClaudeCodeAccounts": "acme",
        "ClaudeCodeApiUrl": vendors.url,
        "ClaudeCodeOldestDay": DAYS[0],
    }
    base.clear_caches()
    base.DEFAULT_PROVIDERS.clear()
    try:
        with running(parameters=parameters) as stack:
            secrets = boto3.client("secretsmanager", region_name=LOCAL_REGION)
            for name, value in tokens.items():
                if value is not None:
                    secrets.create_secret(Name=stack.template.parameters[SECRETS[name]], SecretString=value)
            stack.enable_notifications()
            yield stack
    finally:
        base.clear_caches()
        base.DEFAULT_PROVIDERS.clear()


def _fetch(stack: LocalStack, name: str) -> dict[str, Any]:
    """One scheduled run of a fetcher; its files delivered to normalize."""
    result = stack.invoke(name, stack.template.schedule_inputs(FUNCTIONS[name])[0])
    assert stack.drain_queue()["failed"] == 0
    return result


def _usage(stack: LocalStack, root: Path) -> list[dict[str, Any]]:
    stack.invoke("aggregate", stack.template.schedule_inputs("AggregateFunction")[0])
    stack.dump(root)
    engine = LocalEngine(root / "lake", threads=1)
    try:
        sql = (
            "SELECT CAST(event_date AS VARCHAR) AS day, tool, developer_id, accepted_lines, tokens_in "
            "FROM developer_daily_usage ORDER BY day, tool, developer_id"
        )
        return engine.query_dicts(sql, dialect="duckdb")
    finally:
        engine.con.close()


def _emitted(capsys: pytest.CaptureFixture[str], metric: str) -> list[float]:
    """The values of `metric` in the EMF lines the handlers printed (what CloudWatch, and so the alarm, sees)."""
    values = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line and metric in line:
            value = json.loads(line)[metric]
            values.append(sum(value) if isinstance(value, list) else value)  # Powertools writes a list
    return values


def _copilot_expected(days: list[str]) -> list[tuple[str, str, str, int]]:
    """Independently of normalize: one row per report line, accepted_lines = loc_added_sum."""
    return [(d, "copilot", line["user_login"], line["loc_added_sum"]) for d in days for line in copilot_lines(d)]


def test_both_fetchers_run_end_to_end_into_developer_daily_usage_and_a_rerun_changes_nothing(
    vendors, tmp_path, capsys, ledger
):
    # Given three days at both vendors, a 429 with Retry-After on the first report and a 500 on the first page
    for day in DAYS:
        vendors.add_copilot_day(day)
        vendors.add_claude_day(day)
    vendors.faults.append(Fault(REPORT, status=429, headers={"Retry-After": "1"}, body=b"{}"))
    vendors.faults.append(Fault(CLAUDE, status=503))
    with _stack(vendors) as stack:
        # When both scheduled fetchers run, their files reach normalize and aggregate runs
        copilot, claude = _fetch(stack, "copilot_sync"), _fetch(stack, "claude_code_sync")
        first = _usage(stack, tmp_path / "first")
        # And the schedule fires again (Claude Code pulls its last day again, over the same keys)
        again = [_fetch(stack, "copilot_sync"), _fetch(stack, "claude_code_sync")]
        second = _usage(stack, tmp_path / "second")
    # Then both waited out or retried the fault and stored every day, the checkpoint at yesterday
    (c,), (a,) = copilot["accounts"], claude["accounts"]
    assert (c["status"], c["days"], c["rate_limit_waits"]) == ("ok", DAYS, 1)
    assert (a["status"], a["days"], a["retries"]) == ("ok", DAYS, 1)
    assert copilot["status"] == claude["status"] == "ok" and c["checkpoint"] == a["checkpoint"] == DAYS[-1]
    # And developer_daily_usage holds each Copilot report line once, with its own numbers
    rows = [(r["day"], r["tool"], r["developer_id"], r["accepted_lines"]) for r in first]
    assert [r for r in rows if r[1] == "copilot"] == sorted(_copilot_expected(DAYS))
    # And each Claude Code actor once per day
    actors = {r["developer_id"] for r in first if r["tool"] == "claude_code"}
    per_day = {
        d: sorted(r["developer_id"] for r in first if r["tool"] == "claude_code" and r["day"] == d) for d in DAYS
    }
    assert actors and all(per_day[d] == sorted(actors) for d in DAYS)
    # And the second run asked Copilot for nothing, pulled Claude Code's last day again, and changed no row
    assert [r["accounts"][0]["days"] for r in again] == [[], [DAYS[-1]]]
    assert second == first
    # And nothing failed: the alarm's metric is 0 on every run
    assert _emitted(capsys, "UsageSyncFailed") == [0.0] * 4
    ledger["usage fetch runs end to end"] += 4
    ledger["vendor 429 waited out"] += 1
    ledger["vendor 5xx retried"] += 1
    ledger["rows doubled"] += len(second) - len({tuple(r.values()) for r in second})


def test_a_revoked_token_fails_the_organization_and_emits_the_failure_metric(vendors, capsys, ledger):
    # Given a Copilot secret holding a token GitHub no longer accepts
    vendors.add_copilot_day(DAYS[-1])
    with _stack(vendors, {"copilot_sync": "ghp_revoked"}) as stack:
        result = _fetch(stack, "copilot_sync")
    # Then the organization's entry says why, without the token, and UsageSyncFailed counts it for the alarm
    (entry,) = result["accounts"]
    assert (result["status"], entry["status"], entry["error_kind"], entry["checkpoint"]) == (
        "partial",
        "error",
        "auth",
        None,
    )
    assert "ghp_revoked" not in json.dumps(result)
    assert _emitted(capsys, "UsageSyncFailed") == [1.0]
    ledger["vendor auth failures alarmed"] += 1


@pytest.mark.parametrize("name", ["copilot_sync", "claude_code_sync"])
def test_a_missing_token_secret_fails_the_invocation(vendors, name, ledger):
    # Given the fetcher's secret was never created
    with _stack(vendors, {name: None}) as stack:
        # Then the invocation fails (Lambda Errors, which the alarm adds) naming the secret, not a value
        with pytest.raises(ConfigurationError, match=stack.template.parameters[SECRETS[name]]):
            stack.invoke(name, stack.template.schedule_inputs(FUNCTIONS[name])[0])
        assert stack.s3.list_objects_v2(Bucket=stack.raw_bucket, Prefix="usage/").get("KeyCount") == 0
    ledger["missing token secrets failing the run"] += 1


def test_a_day_not_ready_is_fetched_by_a_later_run_and_an_expired_link_is_asked_again(
    vendors, tmp_path, capsys, ledger
):
    # Given Copilot has published the first day (whose first link expires before it is fetched), not the others
    vendors.add_copilot_day(DAYS[0])
    vendors.faults.append(Fault(f"/download/1/{DAYS[0]}/1.ndjson", status=403, body=b"<Error>expired</Error>"))
    with _stack(vendors) as stack:
        # When the fetcher runs, then runs again once the other days are published
        first = _fetch(stack, "copilot_sync")["accounts"][0]
        for day in DAYS[1:]:
            vendors.add_copilot_day(day)
        second = _fetch(stack, "copilot_sync")["accounts"][0]
        rows = _usage(stack, tmp_path)
    # Then the first run stored the first day (links asked for again once) and waited at the second: not an error
    assert (first["status"], first["days"], first["pending_day"], first["checkpoint"]) == (
        "not_ready",
        DAYS[:1],
        DAYS[1],
        DAYS[0],
    )
    assert len([r for r in vendors.requests(REPORT) if r.query["day"] == DAYS[0]]) == 2
    # And the second run fetched the days it had waited for: every report line is in the table once
    assert (second["status"], second["days"]) == ("ok", DAYS[1:])
    got = sorted((r["day"], r["tool"], r["developer_id"], r["accepted_lines"]) for r in rows)
    assert got == sorted(_copilot_expected(DAYS))
    assert _emitted(capsys, "UsageSyncFailed") == [0.0, 0.0]
    ledger["days not ready fetched later"] += 2
    ledger["expired download links asked again"] += 1
    ledger["rows lost"] += len(_copilot_expected(DAYS)) - len(got)


def test_a_5xx_that_persists_fails_the_day_and_the_next_run_resumes_it(vendors, tmp_path, capsys, ledger):
    # Given Claude Code answers 500 to every request for the middle day (more than the client's retries)
    for day in DAYS:
        vendors.add_claude_day(day)
    vendors.faults.append(Fault(CLAUDE, status=500, query={"starting_at": DAYS[1]}, times=4))
    with _stack(vendors) as stack:
        failed = _fetch(stack, "claude_code_sync")["accounts"][0]
        resumed = _fetch(stack, "claude_code_sync")["accounts"][0]
        rows = _usage(stack, tmp_path)
    # Then the run failed at that day (counted for the alarm), keeping the checkpoint before it
    assert (failed["status"], failed["error_kind"], failed["days"], failed["checkpoint"]) == (
        "error",
        "http",
        DAYS[:1],
        DAYS[0],
    )
    # And the next run pulled the checkpoint day again and went on to yesterday: every day has its actors
    assert (resumed["status"], resumed["days"]) == ("ok", DAYS)
    assert {r["day"] for r in rows if r["tool"] == "claude_code"} == set(DAYS)
    assert _emitted(capsys, "UsageSyncFailed") == [1.0, 0.0]
    ledger["vendor 5xx failures resumed"] += 1
