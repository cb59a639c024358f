"""The reporting service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app

from tansiq_reporting import SERVICE
from tansiq_reporting.settings import ReportingSettings, get_settings


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    return create_service_app(
        service=SERVICE,
        settings=settings or get_settings(),
        description="coordination-consistency findings, scorecards and indicators",
    )
