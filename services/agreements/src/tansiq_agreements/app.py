"""The agreements service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app
from tansiq_common.auth import install_auth

from tansiq_agreements import SERVICE
from tansiq_agreements.settings import AgreementsSettings, get_settings


def create_app(settings: AgreementsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        service=SERVICE,
        settings=settings,
        description="formal instruments between organizations and their clearance",
    )
    install_auth(app, settings)
    return app
