"""install_auth: what each service's create_app calls once to apply the access model."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.types import Scope

from tansiq_common.auth.audit_api import router as audit_router
from tansiq_common.auth.dependencies import PRINCIPAL_STATE_KEY, Authenticator
from tansiq_common.auth.keys import (
    JwksFileSource,
    JwksUrlSource,
    KeySource,
    KeysUnavailable,
    NoKeys,
)
from tansiq_common.auth.scope import OrganizationDirectory
from tansiq_common.auth.verifier import InvalidToken, TokenVerifier
from tansiq_common.settings import ServiceSettings

log = logging.getLogger("tansiq.auth")


def key_source(settings: ServiceSettings) -> KeySource:
    """AUTH_JWKS_URL wins; the JWKS file is for development (production settings refuse it)."""
    if settings.auth_jwks_url:
        return JwksUrlSource(
            settings.auth_jwks_url,
            ttl=settings.auth_jwks_refresh_s,
            max_stale=settings.auth_jwks_max_stale_s,
        )
    if settings.auth_jwks_file is not None:
        return JwksFileSource(settings.auth_jwks_file)
    log.warning("neither AUTH_JWKS_URL nor AUTH_JWKS_FILE is set: every token will be refused")
    return NoKeys()


def build_authenticator(settings: ServiceSettings) -> Authenticator:
    return Authenticator(
        TokenVerifier(
            key_source(settings), issuer=settings.auth_issuer, audience=settings.auth_audience
        )
    )


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = str(value.decode("latin-1")).partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def install_auth(
    app: FastAPI,
    settings: ServiceSettings,
    *,
    directory: OrganizationDirectory | None = None,
) -> None:
    """Token verification, the Idempotency-Key caller and GET /v1/audit.

    `create_service_app` calls it, so no service can forget it. `directory` (tests) replaces
    the organization directory the app factory sets up in the lifespan.
    """
    if directory is not None:
        app.state.organization_directory_override = directory
        app.state.organization_directory = directory
    if getattr(app.state, "authenticator", None) is not None:
        return  # installed already (by the app factory)
    authenticator = build_authenticator(settings)
    app.state.authenticator = authenticator

    async def identify_caller(scope: Scope) -> tuple[str, str] | None:
        # Must not answer the request: an invalid token is the endpoint's 401 to give.
        token = _bearer_token(scope)
        if token is None:
            return None
        try:
            principal = await authenticator.principal_for(token)
        except (InvalidToken, KeysUnavailable):
            return None
        scope.setdefault("state", {})[PRINCIPAL_STATE_KEY] = principal
        # The parts, not a joined string: the middleware encodes them unambiguously.
        return (principal.sub, principal.org)

    app.state.identify_caller = identify_caller
    app.include_router(audit_router)
