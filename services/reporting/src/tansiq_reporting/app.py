"""The reporting service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app
from tansiq_common.auth import install_auth

from tansiq_reporting import SERVICE
from tansiq_reporting.settings import ReportingSettings, get_settings


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        service=SERVICE,
        settings=settings,
        description="coordination-consistency findings, scorecards and indicators",
    )
    install_auth(app, settings)
    return app
