"""`prodlens usage-sync` against the loopback vendor APIs, and its files through normalize."""

from __future__ import annotations

import json

import pytest
from prodlens.cli import main
from prodlens.http import SystemClock
from prodlens.normalize import normalize_paths
from prodlens.vendors.local import STATE_FILE

from tests.integration.vendors.fake_vendors import ADMIN_KEY, COPILOT_TOKEN, NOW


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    """The command runs on the system clock: pin it, so "yesterday" is 2026-03-09 whenever the suite runs."""
    monkeypatch.setattr(SystemClock, "time", lambda self: NOW)
    monkeypatch.delenv("COPILOT_TOKEN", raising=False)
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize(("source", "variable"), [("copilot", "COPILOT_TOKEN"), ("claude_code", "ANTHROPIC_ADMIN_KEY")])
def test_a_missing_token_is_one_line_on_stderr_and_exit_2(source, variable, tmp_path, capsys):
    assert main(["usage-sync", "--source", source, "--org", "acme", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"prodlens usage-sync: set {variable}\n" and captured.out == ""
    assert not any(tmp_path.iterdir())


def test_an_org_that_is_not_a_name_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COPILOT_TOKEN", COPILOT_TOKEN)
    argv = [
        "usage-sync",
        "--source",
        "copilot",
        "--org",
        "../etc",
        "--out",
        str(tmp_path),
        "--api-url",
        "http://127.0.0.1:9",
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("prodlens usage-sync: not an organization")


def test_cli_copilot_writes_the_raw_keys_and_a_second_run_continues_from_the_checkpoint(
    vendors, tmp_path, monkeypatch, capsys
):
    # Given the token in the environment and one day published, the next not yet
    monkeypatch.setenv("COPILOT_TOKEN", COPILOT_TOKEN)
    vendors.add_copilot_day("2026-03-08")
    argv = ["usage-sync", "--source", "copilot", "--org", "acme", "--out", str(tmp_path), "--api-url", vendors.url]
    argv += ["--oldest", "2026-03-08"]

    # When the command runs, the day is published, and it runs again
    assert main(argv) == 0
    first = last_json(capsys)
    vendors.add_copilot_day("2026-03-09")
    assert main(argv) == 0
    second = last_json(capsys)

    # Then the first run stops at the day not ready, and the second fetches only that day
    assert first["status"] == "not_ready" and first["days"] == ["2026-03-08"]
    assert second["status"] == "ok" and second["days"] == ["2026-03-09"]
    files = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "usage").rglob("*.ndjson"))
    assert files == [
        f"usage/copilot/acme/users-1-day/{day}/{n}.ndjson" for day in ("2026-03-08", "2026-03-09") for n in (1, 2)
    ]
    assert COPILOT_TOKEN not in (tmp_path / STATE_FILE).read_text()


def test_cli_exits_1_when_the_source_fails(vendors, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-revoked")
    argv = ["usage-sync", "--source", "claude_code", "--org", "acme", "--out", str(tmp_path), "--api-url", vendors.url]
    assert main(argv + ["--oldest", "2026-03-09"]) == 1
    result = last_json(capsys)
    assert result["status"] == "error" and result["error_kind"] == "auth"


def test_fetched_files_normalize_to_usage_rows_without_dead_letters(vendors, tmp_path, monkeypatch, capsys):
    # Given both sources fetched by the command into one folder
    monkeypatch.setenv("COPILOT_TOKEN", COPILOT_TOKEN)
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ADMIN_KEY)
    for day in ("2026-03-08", "2026-03-09"):
        vendors.add_copilot_day(day)
        vendors.add_claude_day(day)
    raw = tmp_path / "raw"
    for source in ("copilot", "claude_code"):
        argv = ["usage-sync", "--source", source, "--org", "acme", "--out", str(raw), "--api-url", vendors.url]
        assert main(argv + ["--oldest", "2026-03-08"]) == 0
        assert last_json(capsys)["status"] == "ok"

    # When normalize reads every file written
    files = sorted(p for p in (raw / "usage").rglob("*") if p.is_file())
    summary = normalize_paths(files, tmp_path / "lake")

    # Then every record is a usage row: 3 Copilot users and 4 Claude Code actors per day, no dead letter
    assert summary["objects"] == len(files) == 2 * 2 + 2 * 2
    assert summary["dead_letters"] == 0
    assert summary["rows"] == 2 * 3 + 2 * 4
    partitions = {p.parent.relative_to(tmp_path / "lake").as_posix() for p in (tmp_path / "lake").rglob("*.parquet")}
    assert partitions == {
        f"usage_records/event_date={day}/tool={tool}"
        for day in ("2026-03-08", "2026-03-09")
        for tool in ("copilot", "claude_code")
    }
