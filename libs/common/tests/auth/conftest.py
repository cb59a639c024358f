"""Auth test fixtures: an app with the access model installed, over the scratch database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import create_async_engine
from tansiq_common.app import create_service_app
from tansiq_common.auth import Principal, Role, authorize, create_directory_table, install_auth
from tansiq_common.settings import ServiceSettings
from tansiq_common.testing.plugin import running_app

router = APIRouter()


@router.get("/v1/reads")
async def read(principal: Principal = Depends(authorize(Role.viewer, Role.coordinator))) -> Any:
    return {"sub": principal.sub, "org": principal.org, "roles": sorted(principal.roles)}


@router.post("/v1/writes", status_code=201)
async def write(principal: Principal = Depends(authorize(Role.editor))) -> Any:
    return {"sub": principal.sub}


def auth_settings(url: str, jwks_file: Any, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "database_url": url,
        "auth_jwks_file": jwks_file,
        "auth_jwks_url": None,
        "run_relay": False,
        "run_consumers": False,
        "environment": "test",
    }
    values.update(overrides)
    return ServiceSettings(**values)


@pytest.fixture(scope="session")
async def directory_db_url(infra_db_url: str) -> str:
    engine = create_async_engine(infra_db_url)
    async with engine.begin() as conn:
        await conn.run_sync(create_directory_table)
    await engine.dispose()
    return infra_db_url


@pytest.fixture
async def client(infra_db, directory_db_url, test_jwks_file) -> AsyncIterator[httpx.AsyncClient]:
    settings = auth_settings(infra_db.url, test_jwks_file)
    app = create_service_app(service="example", settings=settings, routers=[router])
    install_auth(app, settings)
    async with running_app(app) as client:
        yield client
