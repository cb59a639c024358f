"""The reporting service's FastAPI app factory, for `uvicorn --factory`."""

from fastapi import FastAPI
from tansiq_common.app import create_service_app
from tansiq_common.auth import directory_consumer
from tansiq_common.events.consumer import consumer_component
from tansiq_common.events.relay import relay_component

from tansiq_reporting import SERVICE
from tansiq_reporting.consumer import reporting_consumer
from tansiq_reporting.dashboard import router as dashboard_router
from tansiq_reporting.findings.api import router as findings_router
from tansiq_reporting.findings.schedule import evaluator_component
from tansiq_reporting.indicators.api import router as indicators_router
from tansiq_reporting.settings import ReportingSettings, get_settings
from tansiq_reporting.views.api import router as views_router


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    params = settings.rule_parameters()
    app = create_service_app(
        service=SERVICE,
        settings=settings,
        routers=[findings_router, views_router, indicators_router, dashboard_router],
        components=[
            relay_component(SERVICE),
            consumer_component(directory_consumer()),
            consumer_component(reporting_consumer()),
            evaluator_component(
                params, settings.scheduled_pass_interval_s, settings.scheduled_pass_batch
            ),
        ],
        description="coordination-consistency findings, scorecards and indicators",
    )
    return app
