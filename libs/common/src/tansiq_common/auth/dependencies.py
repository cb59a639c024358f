"""FastAPI dependencies: the authenticated principal, the role rule of a route, the org scope."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from tansiq_common.auth.keys import KeysUnavailable
from tansiq_common.auth.principal import ALL_ROLES, Principal, Role
from tansiq_common.auth.scope import OrganizationDirectory, OrgScope
from tansiq_common.auth.verifier import InvalidToken, TokenVerifier
from tansiq_common.problems import Forbidden, Problem, ServiceUnavailable, Unauthorized

log = logging.getLogger("tansiq.auth")

REALM = "tansiq"
# The problem type of a 403 from a route's role rule, as opposed to one from an ownership or
# scope check inside the handler (the authorization matrix tells them apart by it).
ROLE_NOT_ALLOWED = "role-not-allowed"
PRINCIPAL_STATE_KEY = "tansiq_principal"
SCOPE_STATE_KEY = "tansiq_scope"

# auto_error=False: a missing token is answered by us, as problem+json with WWW-Authenticate.
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT")


def _challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return {"WWW-Authenticate": value}


def missing_token() -> Unauthorized:
    return Unauthorized("A bearer token is required.", headers=_challenge())


def invalid_token(expired: bool = False) -> Unauthorized:
    detail = "The access token has expired." if expired else "The access token is invalid."
    return Unauthorized(detail, slug="invalid-token", headers=_challenge("invalid_token", detail))


class Authenticator:
    """Turns a bearer token into a principal or a 401; logs refusals, never the token.

    Verified tokens are remembered (a bounded cache) until the earlier of their `exp` and
    `cache_seconds` after verification, so a busy caller's token is not re-verified on every
    request, an expired token is never accepted, and a key the identity provider withdrew stops
    being trusted within `cache_seconds`.
    """

    def __init__(
        self, verifier: TokenVerifier, *, cache_size: int = 4096, cache_seconds: float = 60.0
    ) -> None:
        self.verifier = verifier
        self.cache_size = cache_size
        self.cache_seconds = cache_seconds
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def principal_for(self, token: str) -> Principal:
        """The principal of a valid token (raises InvalidToken or KeysUnavailable)."""
        now = time.time()
        hit = self._verified.get(token)
        if hit is not None:
            if now < hit[0]:
                self._verified.move_to_end(token)
                return hit[1]
            del self._verified[token]
        principal = await self.verifier.verify(token)
        expires = min(_expiry(principal), now + self.cache_seconds)
        self._verified[token] = (expires, principal)
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)  # the least recently used
        return principal

    async def authenticate(self, token: str, *, path: str | None = None) -> Principal:
        try:
            return await self.principal_for(token)
        except InvalidToken as exc:
            log.warning("bearer token refused", extra={"reason": exc.reason, "path": path})
            raise invalid_token(exc.expired) from None
        except KeysUnavailable as exc:
            log.error("cannot verify tokens: JWKS unavailable", extra={"reason": str(exc)})
            raise ServiceUnavailable(
                "The identity provider's keys are unavailable.", retry_after=5
            ) from None


def _expiry(principal: Principal) -> float:
    """`exp` of a token that was just verified (so it has one); 0 if it cannot be read."""
    try:
        return float(principal.claims["exp"])
    except (KeyError, TypeError, ValueError):
        return 0.0


async def _principal(request: Request, token: str | None) -> Principal:
    cached = request.scope.get("state", {}).get(PRINCIPAL_STATE_KEY)
    if isinstance(cached, Principal):
        return cached
    if not token:
        raise missing_token()
    # The path as the server received it (request.url would build a whole URL per request).
    path = request.scope.get("path")
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        # Fail closed: a service that forgot install_auth lets nobody in.
        log.error("no authenticator installed; refusing %s", path)
        raise invalid_token()
    principal = await authenticator.authenticate(token, path=path)
    request.scope.setdefault("state", {})[PRINCIPAL_STATE_KEY] = principal
    return principal


async def current_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> Principal:
    """The verified caller, or 401. Verified once per request (shared with Idempotency-Key)."""
    return await _principal(request, credentials.credentials if credentials else None)


def _bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, as HTTPBearer reads it."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" else None


class Authorize(HTTPBearer):
    """The role rule of a route, as a dependency; `.roles` lets the matrix test read it.

    It is the bearer scheme itself (the same OpenAPI security scheme as `bearer_scheme`) and
    reads the token from the header, rather than depending on `bearer_scheme`: one level less
    of FastAPI's dependency solving, and no credentials model built, on every request."""

    def __init__(self, roles: frozenset[Role]) -> None:
        super().__init__(auto_error=False, scheme_name="bearer", bearerFormat="JWT")
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await _principal(request, _bearer_token(request))
        if not principal.has_any(*self.roles):
            raise Forbidden(
                "Your roles do not allow this.",
                slug=ROLE_NOT_ALLOWED,
                headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'},
            )
        return principal

    def __repr__(self) -> str:
        return f"authorize({', '.join(sorted(self.roles))})"


def authorize(*roles: Role) -> Any:
    """`principal: Principal = Depends(authorize(Role.viewer, Role.editor))`.

    401 without a valid token, 403 when the token holds none of `roles`. With no roles given,
    any authenticated caller holding one of Tansiq's roles passes.
    """
    declared = frozenset(Role(r) for r in roles) if roles else ALL_ROLES
    return Authorize(declared)


def rule_of(dependency_call: Any) -> frozenset[Role] | None:
    """The roles a dependency declares, if it is an authorize() rule."""
    return dependency_call.roles if isinstance(dependency_call, Authorize) else None


async def get_scope(
    request: Request, principal: Principal = Depends(current_principal)
) -> OrgScope:
    """The caller's organization scope from `app.state.organization_directory` (set up by the
    app factory's lifespan), looked up once per request."""
    return await scope_for(request, principal)


async def scope_for(request: Request, principal: Principal) -> OrgScope:
    """The scope of the request's caller, kept on the request: whatever asks first (the read
    connection's dependency does, before it takes its connection) looks it up, the rest reuse it."""
    scope: OrgScope | None = getattr(request.state, SCOPE_STATE_KEY, None)
    if scope is None:
        directory: OrganizationDirectory = request.app.state.organization_directory
        scope = await directory.scope_of(principal.org)
        setattr(request.state, SCOPE_STATE_KEY, scope)
    return scope


async def verified_caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    """The verified caller when the request carries a valid bearer token, else None (no 401:
    for dependencies that serve public routes too)."""
    if credentials is None:
        return None
    try:
        return await _principal(request, credentials.credentials)
    except Problem:
        return None
