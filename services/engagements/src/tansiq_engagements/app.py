"""The engagements service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app
from tansiq_common.auth import install_auth

from tansiq_engagements import SERVICE
from tansiq_engagements.settings import EngagementsSettings, get_settings


def create_app(settings: EngagementsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        service=SERVICE,
        settings=settings,
        description="meetings, visits, trainings and dialogues with partners",
    )
    install_auth(app, settings)
    return app
