"""pytest fixtures for auth; loaded by the plugin list in pyproject.toml.

A session-wide test identity provider: an RS256 and an ES256 key, their JWKS file
(`test_jwks_file`, for settings' `auth_jwks_file`), and helpers that mint tokens signed by them:

    settings = RegistrySettings(database_url=url, auth_jwks_file=test_jwks_file)
    await client.get("/v1/organizations", headers=auth_headers("org-1", ["viewer"]))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tansiq_common.auth.devkeys import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    SigningKey,
    jwks_document,
    token_claims,
)


@dataclass(frozen=True)
class TestIdentityProvider:
    """The keys the test JWKS publishes; `sign` mints any claims, valid or not."""

    __test__ = False  # not a test class, despite its name

    rsa: SigningKey
    ec: SigningKey
    jwks_file: Path
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE

    def claims(
        self, org: str, roles: Iterable[str], sub: str = "tester", **extra: Any
    ) -> dict[str, Any]:
        return token_claims(
            org=org, roles=roles, sub=sub, issuer=self.issuer, audience=self.audience, **extra
        )

    def token(
        self,
        org: str,
        roles: Iterable[str],
        sub: str = "tester",
        *,
        algorithm: str = "RS256",
        **extra: Any,
    ) -> str:
        key = self.ec if algorithm == "ES256" else self.rsa
        return key.sign(self.claims(org, roles, sub, **extra))


TokenFor = Callable[..., str]
AuthHeaders = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def test_identity_provider(tmp_path_factory: pytest.TempPathFactory) -> TestIdentityProvider:
    rsa_key, ec_key = SigningKey.generate("RS256"), SigningKey.generate("ES256")
    path = tmp_path_factory.mktemp("auth") / "jwks.json"
    path.write_text(json.dumps(jwks_document([rsa_key, ec_key])), encoding="utf-8")
    return TestIdentityProvider(rsa=rsa_key, ec=ec_key, jwks_file=path)


@pytest.fixture(scope="session")
def test_jwks_file(test_identity_provider: TestIdentityProvider) -> Path:
    return test_identity_provider.jwks_file


@pytest.fixture(scope="session")
def token_for(test_identity_provider: TestIdentityProvider) -> TokenFor:
    """`token_for(org, roles, sub="tester", **claims)` → a valid JWT for the test JWKS."""

    def make(org: str, roles: Iterable[str], sub: str = "tester", **claims: Any) -> str:
        return test_identity_provider.token(org, roles, sub, **claims)

    return make


@pytest.fixture(scope="session")
def auth_headers(token_for: TokenFor) -> AuthHeaders:
    """`auth_headers(org, roles, sub="tester", **claims)` → {"Authorization": "Bearer ..."}."""

    def make(org: str, roles: Iterable[str], sub: str = "tester", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(org, roles, sub, **claims)}"}

    return make
