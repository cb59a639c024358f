"""The deployment tools (deploy/tools) as importable modules, and the rendered overlays."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "deploy" / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import code_catalog  # noqa: E402
import k8s_validate  # noqa: E402


@pytest.fixture(scope="session")
def validator() -> ModuleType:
    return k8s_validate


@pytest.fixture(scope="session")
def catalog() -> ModuleType:
    return code_catalog


@pytest.fixture(scope="session", params=k8s_validate.OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rendered(overlay: str) -> list[dict[str, Any]]:
    """A fresh copy of the overlay as kustomize renders it (rendered once per session)."""
    return copy.deepcopy(list(k8s_validate.render(overlay)))


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool, unpacked from Debian's prometheus package on first use (as make k8s-validate
    does), so that `make test` on a fresh machine checks the alerts too."""
    if k8s_validate.promtool() is None:
        subprocess.run(["bash", str(TOOLS / "install-promtool.sh")], check=True, timeout=600)
    found = k8s_validate.promtool()
    assert found is not None, "deploy/tools/install-promtool.sh did not provide promtool"
    return found
