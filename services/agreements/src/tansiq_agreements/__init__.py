"""Tansiq agreements: formal instruments between organizations and their clearance"""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SERVICE = "agreements"
