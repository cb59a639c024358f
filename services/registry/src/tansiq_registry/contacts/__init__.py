"""Focal points of organizations: personal data, never in events."""
