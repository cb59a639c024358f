"""Trust in keys and tokens is bounded in time: a key the identity provider removed stops
verifying, cached keys expire during a long outage, development tokens live at most a day."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest
import typer
from tansiq_cli import token_cmd
from tansiq_common.auth.devkeys import (
    DEV_TOKEN_MAX_TTL_S,
    SigningKey,
    ensure_dev_key,
    mint_token,
    token_claims,
)
from tansiq_common.auth.keys import JwksFileSource, JwksUrlSource, KeysUnavailable
from tansiq_common.auth.verifier import InvalidToken, TokenVerifier
from typer.testing import CliRunner

from .test_keys import IdentityProvider


def url_verifier(idp: IdentityProvider, **options) -> TokenVerifier:
    source = JwksUrlSource(
        "https://idp.example/jwks", transport=httpx.MockTransport(idp.handle), **options
    )
    return TokenVerifier(source, issuer="tansiq-dev", audience="tansiq")


def signed(key: SigningKey, **claims) -> str:
    return key.sign(token_claims(org="org-1", roles=["viewer"], sub="s", **claims))


async def test_a_key_the_provider_removed_stops_verifying_within_the_refresh_interval():
    old, new = SigningKey.generate(), SigningKey.generate()
    idp = IdentityProvider(old, new)
    verifier = url_verifier(idp, ttl=0.3, min_refresh_interval=0.1)
    assert (await verifier.verify(signed(old))).sub == "s"
    idp.keys = [new]  # the provider withdrew the old key (compromised, or rotated out)
    await asyncio.sleep(0.35)
    with pytest.raises(InvalidToken, match="unknown kid"):
        await verifier.verify(signed(old))
    assert (await verifier.verify(signed(new))).sub == "s"


async def test_cached_keys_are_not_trusted_for_ever_while_the_provider_is_down():
    key = SigningKey.generate()
    idp = IdentityProvider(key)
    verifier = url_verifier(idp, ttl=0.1, min_refresh_interval=0, max_stale=0.6)
    await verifier.verify(signed(key))
    idp.down = True
    await asyncio.sleep(0.2)
    # A short outage: the keys fetched a moment ago still verify (each refresh fails).
    assert (await verifier.verify(signed(key))).sub == "s"
    assert (await verifier.verify(signed(key))).sub == "s"
    await asyncio.sleep(0.5)
    with pytest.raises(KeysUnavailable):
        await verifier.verify(signed(key))
    with pytest.raises(KeysUnavailable):  # and the cache is emptied, not just skipped
        await verifier.verify(signed(key))
    idp.down = False
    assert (await verifier.verify(signed(key))).sub == "s"


@pytest.fixture
def dev_verifier(tmp_path) -> tuple[SigningKey, TokenVerifier]:
    pem, jwks = ensure_dev_key(tmp_path)
    verifier = TokenVerifier(JwksFileSource(jwks), issuer="tansiq-dev", audience="tansiq")
    return SigningKey.load(pem), verifier


async def test_development_tokens_live_at_most_a_day(dev_verifier):
    key, verifier = dev_verifier
    assert (await verifier.verify(signed(key, ttl=DEV_TOKEN_MAX_TTL_S))).sub == "s"
    with pytest.raises(InvalidToken, match="lifetime"):
        await verifier.verify(signed(key, ttl=DEV_TOKEN_MAX_TTL_S + 1))
    with pytest.raises(InvalidToken, match="lifetime"):
        await verifier.verify(signed(key, ttl=10 * 365 * 24 * 3600))


async def test_development_tokens_without_exp_or_iat_are_refused(dev_verifier):
    key, verifier = dev_verifier
    for missing in ("exp", "iat"):
        claims = token_claims(org="org-1", roles=["viewer"], sub="s")
        del claims[missing]
        with pytest.raises(InvalidToken, match=missing):
            await verifier.verify(key.sign(claims))
    # An iat in the future cannot stretch the lifetime either.
    later = int(time.time()) + 10 * 365 * 24 * 3600
    with pytest.raises(InvalidToken):
        await verifier.verify(signed(key, now=later))


async def test_the_identity_provider_decides_the_lifetime_of_its_own_tokens():
    key = SigningKey.generate()
    verifier = url_verifier(IdentityProvider(key))
    assert (await verifier.verify(signed(key, ttl=7 * 24 * 3600))).sub == "s"


def test_minting_refuses_a_long_development_token(tmp_path):
    with pytest.raises(ValueError, match="development token lives"):
        mint_token(org="o", roles=["viewer"], ttl=DEV_TOKEN_MAX_TTL_S + 1, folder=tmp_path)
    token = mint_token(org="o", roles=["viewer"], ttl=DEV_TOKEN_MAX_TTL_S, folder=tmp_path)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == DEV_TOKEN_MAX_TTL_S


def test_tansiq_token_refuses_a_ttl_beyond_a_day(tmp_path):
    cli = typer.Typer()
    cli.command("token")(token_cmd.token)
    cli.command("dev-key")(token_cmd.dev_key)
    args = ["token", "--org", "o", "--roles", "viewer", "--keys-dir", str(tmp_path)]
    refused = CliRunner().invoke(cli, [*args, "--ttl", str(DEV_TOKEN_MAX_TTL_S + 1)])
    assert refused.exit_code != 0
    assert "--ttl" in refused.output
    accepted = CliRunner().invoke(cli, [*args, "--ttl", str(DEV_TOKEN_MAX_TTL_S)])
    assert accepted.exit_code == 0, accepted.output
    assert accepted.output.count(".") == 2  # a JWT
