"""Fixtures for the template tests: template.yaml parsed with CloudFormation short-form tags kept as intrinsics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prodlens.local.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="session")
def functions(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in resources.items() if res["Type"] == "AWS::Serverless::Function"}
