"""The registry service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app

from tansiq_registry import SERVICE
from tansiq_registry.settings import RegistrySettings, get_settings


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    return create_service_app(
        service=SERVICE,
        settings=settings or get_settings(),
        description="the organizations every other service points at",
    )
