"""Engagements: meetings, visits, trainings, dialogues; their reports and action items."""
