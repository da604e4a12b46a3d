"""Fixtures for the normalize tests: run one object in a fresh workdir, write input files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prodlens.models import NormalizeOutput, SourceObject
from prodlens.normalize import Limits, normalize_object

from tests.unit.normalize.normalize_helpers import FIXTURES


@pytest.fixture
def normalize(tmp_path: Path) -> Callable[..., NormalizeOutput]:
    """normalize(path_or_fixture_name, key=None, metadata=None) -> NormalizeOutput, in a fresh workdir."""
    counter = {"n": 0}

    def run(
        source: str | Path,
        key: str | None = None,
        metadata: dict[str, str] | None = None,
        limits: Limits = Limits(),  # noqa: B008
    ) -> NormalizeOutput:
        path = source if isinstance(source, Path) else FIXTURES / source
        counter["n"] += 1
        workdir = tmp_path / f"out{counter['n']}"
        output = normalize_object(
            SourceObject(key or f"traces/test/{path.name}", path, metadata or {}), workdir, limits
        )
        assert output.counts.balanced, output.counts.as_dict()
        return output

    return run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """write(name, content) -> a file under tmp_path/inputs."""

    def make(name: str, content: str | bytes) -> Path:
        path = tmp_path / "inputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make
