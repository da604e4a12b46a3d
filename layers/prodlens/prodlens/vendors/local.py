"""The usage fetchers on a local directory: files under DIR/usage/..., checkpoints and ETags in one JSON file in DIR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prodlens.errors import CheckpointConflict
from prodlens.github.local import DirPageSink, atomic_write
from prodlens.vendors.sources import run_source

STATE_FILE = "usage-sync-state.json"


class JsonFileUsageState:
    """Checkpoints and page ETags in DIR/usage-sync-state.json, rewritten atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._data: dict[str, Any] = {"checkpoints": {}, "pages": {}}
        if self.path.exists():
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            for section in self._data:
                self._data[section].update(loaded.get(section, {}))

    def get_checkpoint(self, scope: str) -> str | None:
        return self._data["checkpoints"].get(scope)

    def put_checkpoint(self, scope: str, value: str) -> None:
        current = self._data["checkpoints"].get(scope)
        if current is not None and current >= value:
            raise CheckpointConflict(f"checkpoint {scope} is already at {current}")
        self._data["checkpoints"][scope] = value
        self._save()

    def get_page(self, scope: str, url: str) -> dict[str, Any] | None:
        return self._data["pages"].get(scope, {}).get(url)

    def put_page(self, scope: str, url: str, value: dict[str, Any]) -> None:
        self._data["pages"].setdefault(scope, {})[url] = value
        self._save()

    def _save(self) -> None:
        atomic_write(self.path, json.dumps(self._data, indent=2, sort_keys=True).encode("utf-8"))


def run_local_usage_sync(
    source: str,
    org: str,
    out_dir: Path,
    token: str,
    api_url: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """`prodlens usage-sync`: fetch one source's days into `out_dir` (options as `run_source`'s); returns the
    source's result (JSON-ready).

    Files go to `out_dir/usage/copilot/<org>/users-1-day/<day>/<n>.ndjson` or
    `out_dir/usage/claude_code/<org>/<day>/page-<n>.json` (the keys the Lambda writes to the raw bucket),
    state to `out_dir/usage-sync-state.json`, so a second run continues from the checkpoint.
    """
    out_dir = Path(out_dir)
    sink = DirPageSink(out_dir)
    state = JsonFileUsageState(out_dir / STATE_FILE)
    summary = run_source(source, org, token, sink, state, api_url, **options)
    summary["out_dir"] = str(out_dir)
    return summary
