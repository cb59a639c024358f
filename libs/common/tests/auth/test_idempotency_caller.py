"""install_auth names the caller for Idempotency-Key: one caller's key never replays another's."""

from __future__ import annotations

from tansiq_common.auth.devkeys import SigningKey, token_claims


async def test_the_same_key_from_two_callers_runs_twice(client, auth_headers):
    amal = {**auth_headers("org-1", ["editor"], "amal"), "Idempotency-Key": "k-1"}
    omar = {**auth_headers("org-1", ["editor"], "omar"), "Idempotency-Key": "k-1"}
    first = await client.post("/v1/writes", json={}, headers=amal)
    replay = await client.post("/v1/writes", json={}, headers=amal)
    other = await client.post("/v1/writes", json={}, headers=omar)
    assert first.status_code == replay.status_code == other.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in other.headers
    assert other.json() == {"sub": "omar"}


async def test_an_invalid_token_with_a_key_is_still_401(client):
    forged = SigningKey.generate().sign(token_claims(org="o", roles=["editor"]))
    response = await client.post(
        "/v1/writes", json={}, headers={"Authorization": f"Bearer {forged}", "Idempotency-Key": "k"}
    )
    assert response.status_code == 401
