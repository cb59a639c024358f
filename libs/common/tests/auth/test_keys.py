"""JWKS from a URL: cached, refreshed on an unknown kid, kept through an outage of the provider."""

from __future__ import annotations

import httpx
import pytest
from tansiq_common.auth import Principal
from tansiq_common.auth.devkeys import SigningKey, jwks_document, token_claims
from tansiq_common.auth.keys import JwksUrlSource, KeysUnavailable, parse_jwks
from tansiq_common.auth.verifier import InvalidToken, TokenVerifier


class IdentityProvider:
    """An HTTP JWKS endpoint served in-process by httpx.MockTransport."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.down:
            return httpx.Response(503)
        return httpx.Response(200, json=jwks_document(self.keys))


def _verifier(idp: IdentityProvider, **kw) -> TokenVerifier:
    source = JwksUrlSource(
        "https://idp.example/jwks", transport=httpx.MockTransport(idp.handle), **kw
    )
    return TokenVerifier(source, issuer="tansiq-dev", audience="tansiq")


def _token(key: SigningKey, org: str = "org-1") -> str:
    return key.sign(token_claims(org=org, roles=["viewer"], sub="s"))


async def test_keys_are_fetched_once_and_cached():
    key = SigningKey.generate()
    idp = IdentityProvider(key)
    verifier = _verifier(idp)
    first = await verifier.verify(_token(key, "org-1"))
    second = await verifier.verify(_token(key, "org-2"))
    assert first == Principal("s", "org-1", frozenset({"viewer"}))
    assert second.org == "org-2"
    assert idp.fetches == 1


async def test_an_unknown_kid_refreshes_the_keys_for_a_rotation():
    old, new = SigningKey.generate(), SigningKey.generate("ES256")
    idp = IdentityProvider(old)
    verifier = _verifier(idp, min_refresh_interval=0)
    await verifier.verify(_token(old))
    idp.keys = [old, new]
    assert (await verifier.verify(_token(new))).sub == "s"
    assert idp.fetches == 2


async def test_unknown_kids_do_not_hammer_the_provider():
    key, stranger = SigningKey.generate(), SigningKey.generate()
    idp = IdentityProvider(key)
    verifier = _verifier(idp, min_refresh_interval=3600)
    await verifier.verify(_token(key))
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await verifier.verify(_token(stranger))
    assert idp.fetches == 1


async def test_an_outage_keeps_the_cached_keys_and_without_them_is_unavailable():
    key = SigningKey.generate()
    idp = IdentityProvider(key)
    idp.down = True
    with pytest.raises(KeysUnavailable):
        await _verifier(idp).verify(_token(key))
    idp.down = False
    verifier = _verifier(idp, ttl=0, min_refresh_interval=0)
    await verifier.verify(_token(key))
    idp.down = True
    assert (await verifier.verify(_token(key))).org == "org-1"


def test_symmetric_and_unsigned_keys_in_a_jwks_are_ignored():
    rsa = SigningKey.generate()
    document = {
        "keys": [
            rsa.jwk,
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {**SigningKey.generate().jwk, "kid": "enc", "use": "enc"},
            {"kty": "RSA", "n": "AQAB"},  # no kid
        ]
    }
    assert set(parse_jwks(document)) == {rsa.kid}
