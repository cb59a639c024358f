"""Tansiq engagements: meetings, visits, trainings and dialogues with partners"""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SERVICE = "engagements"
