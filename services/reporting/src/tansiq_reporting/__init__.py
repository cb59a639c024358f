"""Tansiq reporting: coordination-consistency findings, scorecards and indicators"""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SERVICE = "reporting"
