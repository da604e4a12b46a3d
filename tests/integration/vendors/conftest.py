from __future__ import annotations

import pytest

from tests.integration.vendors.fake_vendors import NOW, FakeVendors
from tests.unit.github.fake_github import FakeClock


@pytest.fixture
def vendors():
    server = FakeVendors().start()
    yield server
    server.stop()
    assert server.violations == [], "a request carried the wrong credentials (or a download link carried any)"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=NOW)
