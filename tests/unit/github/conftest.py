from __future__ import annotations

import pytest

from tests.unit.github.fake_github import FakeClock, FakeGithub


@pytest.fixture
def github():
    server = FakeGithub().start()
    server.add_repo("acme/api")
    yield server
    server.stop()
    assert server.violations == [], "a request reached the server without the token and GitHub headers"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
