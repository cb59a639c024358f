"""The reporting app with the dashboard mounted, for uvicorn --factory in the browser tests.

Once tansiq_reporting.app mounts the dashboard itself, this adds nothing: the router is included
only when no /dashboard route is there yet.
"""

from __future__ import annotations

from fastapi import FastAPI
from tansiq_reporting.app import create_app as create_reporting_app
from tansiq_reporting.dashboard import router


def create_app() -> FastAPI:
    app = create_reporting_app()
    if not any(getattr(route, "path", "").startswith("/dashboard") for route in app.routes):
        app.include_router(router)
    return app
