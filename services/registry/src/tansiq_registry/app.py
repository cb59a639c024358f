"""The registry service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app
from tansiq_common.events.relay import relay_component

from tansiq_registry import SERVICE
from tansiq_registry.contacts.api import router as contacts_router
from tansiq_registry.organizations.api import router as organizations_router
from tansiq_registry.organizations.tables import organizations
from tansiq_registry.settings import RegistrySettings, get_settings


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        service=SERVICE,
        settings=settings,
        components=[relay_component(SERVICE)],
        routers=[organizations_router, contacts_router],
        description="the organizations every other service points at",
        # Caller scopes are computed live over the registry's own table.
        organizations=organizations,
    )
