"""Tansiq registry: the organizations every other service points at"""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SERVICE = "registry"
