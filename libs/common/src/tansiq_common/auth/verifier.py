"""Bearer token verification with PyJWT: signature by kid, algorithm, issuer, audience, expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt

from tansiq_common.auth.keys import ACCEPTED_ALGORITHMS, KeySource, max_token_lifetime_of
from tansiq_common.auth.principal import Principal

DEFAULT_LEEWAY_S = 30


class InvalidToken(Exception):
    """The token is refused. `reason` is for the log; clients get a generic description."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: int = DEFAULT_LEEWAY_S,
        algorithms: Sequence[str] = ACCEPTED_ALGORITHMS,
        max_lifetime_s: int | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.algorithms = tuple(a for a in algorithms if a in ACCEPTED_ALGORITHMS)
        # The longest exp - iat accepted; by default what the key source allows (the
        # development key's tokens live at most a day), else whatever the issuer sets.
        self.max_lifetime_s = (
            max_lifetime_s if max_lifetime_s is not None else max_token_lifetime_of(keys)
        )

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidToken(f"algorithm {alg!r} not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("no kid in the token header")
        key = await self.keys.key_for(kid)
        if key is None:
            raise InvalidToken(f"unknown kid {kid!r}")
        if key.algorithm_name != alg:
            # An RSA key must not verify an ES256 token and vice versa.
            raise InvalidToken(f"kid {kid!r} is a {key.algorithm_name} key, token says {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired", expired=True) from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"{type(exc).__name__}: {exc}") from exc
        if self.max_lifetime_s is not None:
            # exp and iat are required and numeric (PyJWT checked both, and iat is not ahead).
            lifetime = float(claims["exp"]) - float(claims["iat"])
            if lifetime > self.max_lifetime_s:
                raise InvalidToken(
                    f"token lifetime {lifetime:.0f} s exceeds {self.max_lifetime_s} s"
                )
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    sub, org, roles = claims.get("sub"), claims.get("org"), claims.get("roles", [])
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("claim sub is not a non-empty string")
    if not isinstance(org, str) or not org:
        raise InvalidToken("claim org is not a non-empty string")
    if isinstance(roles, str):  # some identity providers send a space-separated string
        roles = roles.split()
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("claim roles is not a list of strings")
    return Principal(sub=sub, org=org, roles=frozenset(roles), claims=claims)
