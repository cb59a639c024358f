"""Bearer token verification through a real app: what passes, and every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from tansiq_common.auth.devkeys import SigningKey


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_a_valid_token_names_the_principal(client, token_for):
    response = await client.get(
        "/v1/reads", headers=_bearer(token_for("org-7", ["viewer"], "amal"))
    )
    assert response.status_code == 200
    assert response.json() == {"sub": "amal", "org": "org-7", "roles": ["viewer"]}


async def test_es256_tokens_are_accepted(client, test_identity_provider):
    token = test_identity_provider.token("org-7", ["viewer"], algorithm="ES256")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    response = await client.get("/v1/reads", headers=_bearer(token))
    assert response.status_code == 200


async def test_no_token_is_401_problem_with_a_bearer_challenge(client):
    response = await client.get("/v1/reads")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer realm=")
    assert response.json()["status"] == 401


async def test_another_scheme_is_401(client):
    response = await client.get(
        "/v1/reads", headers={"Authorization": "Basic YWxhZGRpbjpzZXNhbWU="}
    )
    assert response.status_code == 401


async def test_a_valid_token_without_the_role_is_403(client, token_for):
    response = await client.post("/v1/writes", headers=_bearer(token_for("org-7", ["viewer"])))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].endswith('error="insufficient_scope"')
    assert response.json()["type"] == "urn:tansiq:problem:role-not-allowed"


def _refused(idp) -> dict[str, str]:
    """Tokens that must all be refused, by what is wrong with them."""
    now = int(time.time())
    good = idp.claims("org-7", ["viewer"])
    rsa_public_pem = idp.rsa.private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    valid = idp.rsa.sign(good)
    header, payload, signature = valid.split(".")
    tampered_payload = _b64({**good, "roles": ["viewer", "auditor"], "org": "org-1"})
    stranger = SigningKey.generate("RS256")
    hmac_header = _b64({"alg": "HS256", "typ": "JWT", "kid": idp.rsa.kid})
    hmac_signing_input = f"{hmac_header}.{payload}".encode()
    hmac_signature = (
        base64.urlsafe_b64encode(
            hmac.new(rsa_public_pem, hmac_signing_input, hashlib.sha256).digest()
        )
        .decode()
        .rstrip("=")
    )
    return {
        "expired": idp.rsa.sign({**good, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
        "another issuer": idp.rsa.sign({**good, "iss": "someone-else"}),
        "another audience": idp.rsa.sign({**good, "aud": "another-api"}),
        "bad signature": f"{header}.{payload}.{signature[:-6]}AAAAAA",
        "signed by another key with our kid": stranger.sign(good, headers={"kid": idp.rsa.kid}),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': idp.rsa.kid})}.{payload}.",
        "HS256 with the public key": f"{hmac_header}.{payload}.{hmac_signature}",
        "unknown kid": stranger.sign(good),
        "tampered claims": f"{header}.{tampered_payload}.{signature}",
        "RSA key claimed as ES256": f"{_b64({'alg': 'ES256', 'kid': idp.rsa.kid})}.{payload}.{signature}",
        "no org claim": idp.rsa.sign({k: v for k, v in good.items() if k != "org"}),
        "no exp claim": idp.rsa.sign({k: v for k, v in good.items() if k != "exp"}),
        "roles not a list": idp.rsa.sign({**good, "roles": {"viewer": True}}),
        "not yet valid": idp.rsa.sign({**good, "nbf": now + 3600}),
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "another issuer",
        "another audience",
        "bad signature",
        "signed by another key with our kid",
        "alg none",
        "HS256 with the public key",
        "unknown kid",
        "tampered claims",
        "RSA key claimed as ES256",
        "no org claim",
        "no exp claim",
        "roles not a list",
        "not yet valid",
        "garbage",
    ],
)
async def test_refused_tokens_are_401(client, test_identity_provider, case, caplog):
    token = _refused(test_identity_provider)[case]
    with caplog.at_level(logging.WARNING, logger="tansiq.auth"):
        response = await client.get("/v1/reads", headers=_bearer(token))
    assert response.status_code == 401, case
    assert response.headers["content-type"] == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    refusals = [r for r in caplog.records if r.getMessage() == "bearer token refused"]
    assert refusals, "a refusal is logged"
    for record in caplog.records:
        assert token not in record.getMessage()
        assert all(token not in str(value) for value in record.__dict__.values())


async def test_a_token_expired_within_the_leeway_is_still_accepted(client, test_identity_provider):
    now = int(time.time())
    claims = test_identity_provider.claims("org-7", ["viewer"])
    token = test_identity_provider.rsa.sign({**claims, "exp": now - 5})
    response = await client.get("/v1/reads", headers=_bearer(token))
    assert response.status_code == 200
