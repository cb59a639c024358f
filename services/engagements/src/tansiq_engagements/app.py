"""The engagements service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app
from tansiq_common.auth import directory_consumer
from tansiq_common.events.consumer import consumer_component
from tansiq_common.events.relay import relay_component

from tansiq_engagements import SERVICE
from tansiq_engagements.agreements.replica import agreement_consumer
from tansiq_engagements.engagements.api import ingest_router
from tansiq_engagements.engagements.api import router as engagements_router
from tansiq_engagements.engagements.ingest import ingest_consumer
from tansiq_engagements.lookups import lookups_component, replica_lookups
from tansiq_engagements.settings import EngagementsSettings, get_settings


def create_app(settings: EngagementsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        service=SERVICE,
        settings=settings,
        routers=[engagements_router, ingest_router],
        components=[
            lookups_component,
            relay_component(SERVICE),
            consumer_component(directory_consumer()),
            consumer_component(agreement_consumer()),
            # The topic's messages carry no caller token to ask the owners with: they are
            # checked against the replicas alone.
            consumer_component(ingest_consumer(replica_lookups())),
        ],
        description="meetings, visits, trainings and dialogues with partners",
    )
