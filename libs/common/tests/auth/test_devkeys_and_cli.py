"""The development key, `tansiq token` and `tansiq dev-key`: tokens the services accept."""

from __future__ import annotations

import json
import stat

import jwt
import pytest
import typer
from tansiq_cli import token_cmd
from tansiq_common.auth.devkeys import ensure_dev_key, mint_token
from tansiq_common.auth.keys import JwksFileSource
from tansiq_common.auth.verifier import InvalidToken, TokenVerifier
from typer.testing import CliRunner

cli = typer.Typer()
cli.command("token")(token_cmd.token)
cli.command("dev-key")(token_cmd.dev_key)


def test_the_key_is_created_once_with_its_jwks(tmp_path):
    pem, jwks = ensure_dev_key(tmp_path / "keys")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    document = json.loads(jwks.read_text())
    assert [k["kty"] for k in document["keys"]] == ["RSA"]
    assert "d" not in document["keys"][0]  # the public half only
    before = pem.read_bytes()
    assert ensure_dev_key(tmp_path / "keys") == (pem, jwks)
    assert pem.read_bytes() == before


async def test_a_minted_token_verifies_against_the_jwks_file(tmp_path):
    _, jwks = ensure_dev_key(tmp_path)
    verifier = TokenVerifier(JwksFileSource(jwks), issuer="tansiq-dev", audience="tansiq")
    token = mint_token(org="org-9", roles=["editor", "viewer"], sub="huda", folder=tmp_path)
    principal = await verifier.verify(token)
    assert (principal.sub, principal.org, principal.roles) == (
        "huda",
        "org-9",
        {"editor", "viewer"},
    )
    other = TokenVerifier(JwksFileSource(jwks), issuer="prod-idp", audience="tansiq")
    with pytest.raises(InvalidToken):
        await other.verify(token)


def test_tansiq_token_prints_a_jwt(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "token",
            "--org",
            "org-3",
            "--roles",
            "coordinator,viewer",
            "--sub",
            "sara",
            "--ttl",
            "120",
            "--keys-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["org"], claims["sub"], claims["roles"]) == (
        "org-3",
        "sara",
        ["coordinator", "viewer"],
    )
    assert claims["exp"] - claims["iat"] == 120
    assert (claims["iss"], claims["aud"]) == ("tansiq-dev", "tansiq")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_tansiq_token_refuses_unknown_roles(tmp_path):
    result = CliRunner().invoke(
        cli, ["token", "--org", "o", "--roles", "viewer,superuser", "--keys-dir", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "superuser" in result.output


def test_dev_key_prints_the_jwks_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TANSIQ_KEYS_DIR", str(tmp_path / "k"))
    result = CliRunner().invoke(cli, ["dev-key"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "k" / "jwks.json")
    assert json.loads((tmp_path / "k" / "jwks.json").read_text())["keys"]
