"""Development tokens for the dashboard: minted only where the service trusts nothing but the
local development key.

A person trying the dashboard on their machine (`make up`) has no identity provider; the page
offers to mint a short-lived token for a demo organization and role. That is safe only where the
tokens it mints could have been minted anyway with `tansiq token` from the same key: the
environment is `development`, no identity provider is configured (AUTH_JWKS_URL unset), and the
JWKS file the service trusts is exactly the public half of the development signing key that
sits beside it. Anywhere else the endpoints answer 404, as if they did not exist.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tansiq_common.auth.devkeys import (
    PRIVATE_KEY_FILE,
    SigningKey,
    jwks_document,
    token_claims,
)
from tansiq_common.settings import ServiceSettings

log = logging.getLogger(__name__)

# Short-lived: a demo session, not a credential to keep.
DEV_TOKEN_TTL_S = 3600
# The roles the dashboard is for (no integration or registry administration here).
DEV_ROLES = ("viewer", "editor", "coordinator", "auditor")


def development_key(settings: ServiceSettings) -> SigningKey | None:
    """The development signing key, when the service trusts it and nothing else."""
    if settings.environment != "development" or settings.auth_jwks_url:
        return None
    jwks_file = settings.auth_jwks_file
    if jwks_file is None:
        return None
    pem = Path(jwks_file).parent / PRIVATE_KEY_FILE
    try:
        key = SigningKey.load(pem)
        trusted = json.loads(Path(jwks_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if trusted != jwks_document([key]):
        # Another key (a test identity provider, a rotated file): not ours to sign for.
        return None
    return key


def mint(settings: ServiceSettings, key: SigningKey, *, org: str, role: str, sub: str) -> str:
    claims = token_claims(
        org=org,
        roles=[role],
        sub=sub,
        ttl=DEV_TOKEN_TTL_S,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    log.info("dashboard minted a development token", extra={"org": org, "role": role})
    return key.sign(claims)
