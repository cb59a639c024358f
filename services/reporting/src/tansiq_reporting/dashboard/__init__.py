"""The dashboard the reporting service serves at /dashboard (docs/dashboard.md)."""

from tansiq_reporting.dashboard.api import router

__all__ = ["router"]
