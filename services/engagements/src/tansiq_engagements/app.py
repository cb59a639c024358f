"""The engagements service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app

from tansiq_engagements import SERVICE
from tansiq_engagements.settings import EngagementsSettings, get_settings


def create_app(settings: EngagementsSettings | None = None) -> FastAPI:
    return create_service_app(
        service=SERVICE,
        settings=settings or get_settings(),
        description="meetings, visits, trainings and dialogues with partners",
    )
