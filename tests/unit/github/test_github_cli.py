"""`prodlens github-sync` against the loopback GitHub: the command the README documents."""

from __future__ import annotations

import json

from prodlens.cli import main
from prodlens.github.local import STATE_FILE

from tests.unit.github.fake_github import TOKEN


def test_cli_github_sync_writes_pages_and_second_run_is_conditional(github, tmp_path, monkeypatch, capsys):
    # Given the token in the environment
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    argv = ["github-sync", "--repo", "acme/api", "--out", str(tmp_path), "--api-url", github.url]

    # When the command runs twice
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    # Then pages are under DIR/github/acme/api/..., state is in DIR, and the second run is all 304s
    # (8 listing pages, and one page of commits for each of the 7 pull requests)
    assert first["status"] == "ok" and first["pages_written"] == 8 + 7
    assert first["endpoints"]["pulls"]["pull_commit_pages"] == 7
    root = tmp_path / "github" / "acme" / "api"
    assert {p.relative_to(root).parts[0] for p in root.rglob("*.json")} == {
        "pulls",
        "commits",
        "issue_events",
        "pull_commits",
    }
    assert {p.parent.name for p in (root / "pull_commits").rglob("*.json")} == {str(n) for n in range(1, 8)}
    assert (tmp_path / STATE_FILE).exists()
    assert second["pages_written"] == 0 and second["not_modified"] == 3
    assert TOKEN not in json.dumps(first) + (tmp_path / STATE_FILE).read_text()
