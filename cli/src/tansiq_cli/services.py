"""Where the CLI finds each service: its package, migrations and settings."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class ServiceName(StrEnum):
    registry = "registry"
    agreements = "agreements"
    engagements = "engagements"
    reporting = "reporting"


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    package: str

    @property
    def migrations_dir(self) -> Path:
        module = importlib.import_module(self.package)
        return Path(module.MIGRATIONS_DIR)

    def settings(self) -> Any:
        module = importlib.import_module(f"{self.package}.settings")
        return module.get_settings()

    @property
    def app_factory(self) -> str:
        return f"{self.package}.app:create_app"


def service(name: str) -> ServiceInfo:
    return ServiceInfo(name=name, package=f"tansiq_{name}")
