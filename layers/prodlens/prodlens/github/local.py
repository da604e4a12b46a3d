"""The fetcher on a local directory: pages under DIR/github/..., ETags and checkpoints in one JSON file in DIR."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from prodlens.errors import CheckpointConflict
from prodlens.github.client import GithubClient
from prodlens.github.sync import RepoRef, sync_repo
from prodlens.http import Clock

STATE_FILE = "github-sync-state.json"


def atomic_write(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (a temp file renamed over it): a crash never leaves half a page or state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DirPageSink:
    """Writes each page to DIR/<key>, atomically (a crash never leaves half a page behind)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, body: bytes) -> None:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"page key escapes the output directory: {key!r}")
        atomic_write(path, body)


class JsonFileSyncState:
    """ETags and checkpoints in DIR/github-sync-state.json, rewritten atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._data: dict[str, Any] = {"etags": {}, "checkpoints": {}, "resume": {}}
        if self.path.exists():
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            for section in self._data:
                self._data[section].update(loaded.get(section, {}))

    def get_etag(self, repo: str, url: str) -> str | None:
        entry = self._data["etags"].get(repo, {}).get(url)
        return entry["etag"] if entry else None

    def put_etag(self, repo: str, url: str, etag: str, last_modified: str | None = None) -> None:
        self._data["etags"].setdefault(repo, {})[url] = {"etag": etag, "last_modified": last_modified}
        self._save()

    def get_checkpoint(self, repo: str, endpoint: str) -> str | None:
        return self._data["checkpoints"].get(f"{repo}#{endpoint}")

    def put_checkpoint(self, repo: str, endpoint: str, value: str) -> None:
        key = f"{repo}#{endpoint}"
        current = self._data["checkpoints"].get(key)
        if current is not None and current >= value:
            raise CheckpointConflict(f"checkpoint {key} is already at {current}")
        self._data["checkpoints"][key] = value
        self._save()

    def get_resume(self, repo: str, endpoint: str) -> dict[str, Any] | None:
        return self._data["resume"].get(f"{repo}#{endpoint}")

    def put_resume(self, repo: str, endpoint: str, value: dict[str, Any] | None) -> None:
        if value is None:
            self._data["resume"].pop(f"{repo}#{endpoint}", None)
        else:
            self._data["resume"][f"{repo}#{endpoint}"] = value
        self._save()

    def _save(self) -> None:
        atomic_write(self.path, json.dumps(self._data, indent=2, sort_keys=True).encode("utf-8"))


def run_local_sync(
    repo: str,
    out_dir: Path,
    api_url: str,
    token: str,
    *,
    clock: Clock | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    """`prodlens github-sync`: sync one repository into `out_dir`; returns the per-repo summary (JSON-ready).

    Raw pages go to `out_dir/github/<owner>/<name>/{pulls,commits,issue_events,compare}/<sha256-prefix>.json` and
    `out_dir/github/<owner>/<name>/pull_commits/<number>/<sha256-prefix>.json` (the same keys the Lambda writes to
    the raw bucket; commit messages replaced by `prodlens_ai_coauthors`, see github.sync), state to
    `out_dir/github-sync-state.json`, so a second run sends conditional requests and resumes after a rate limit.
    """
    out_dir = Path(out_dir)
    client = GithubClient(token, api_url, clock=clock, deadline=deadline)
    result = sync_repo(client, RepoRef.parse(repo), DirPageSink(out_dir), JsonFileSyncState(out_dir / STATE_FILE))
    summary = result.as_dict()
    summary["not_modified"] = client.stats.not_modified
    summary["out_dir"] = str(out_dir)
    return summary
