"""The agreements service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app
from tansiq_common.auth import directory_consumer
from tansiq_common.events.consumer import consumer_component
from tansiq_common.events.relay import relay_component

from tansiq_agreements import SERVICE
from tansiq_agreements.agreements.api import router as agreements_router
from tansiq_agreements.agreements.expiry import expiry_component
from tansiq_agreements.agreements.organizations import organization_lookup
from tansiq_agreements.settings import AgreementsSettings, get_settings


def create_app(settings: AgreementsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        service=SERVICE,
        settings=settings,
        routers=[agreements_router],
        components=[
            relay_component(SERVICE),
            consumer_component(directory_consumer()),
            expiry_component,
        ],
        description="formal instruments between organizations and their clearance",
    )
    # Owners and parties: the organization replica, then the registry (tests replace it).
    app.state.organization_lookup = organization_lookup(
        settings.registry_base_url, timeout_s=settings.registry_timeout_s
    )
    return app
