"""Verification keys by `kid`, from a JWKS URL (production) or a JWKS file (development).

Both are cached; an unknown `kid` triggers one refresh (rate-limited), which is how a key rotation
at the identity provider is picked up without a restart.

Trust is bounded in time both ways: the keys are refetched every `ttl` seconds, so a key the
identity provider removed (a compromised one, after a rotation) stops verifying within `ttl`;
and when the provider cannot be reached, the cached keys are used for at most `max_stale`
seconds after the last successful fetch, then every token is refused (KeysUnavailable: 503)
until a fetch succeeds again.

Tokens verified by the JWKS *file* (the development key) may live at most
`DEV_TOKEN_MAX_TTL_S`; the source says so to the verifier through `max_token_lifetime_s`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from tansiq_common.auth.devkeys import DEV_TOKEN_MAX_TTL_S

log = logging.getLogger(__name__)

# Only asymmetric signatures: a symmetric or `none` algorithm would let anyone who knows the
# public key (or nobody at all) sign tokens.
ACCEPTED_ALGORITHMS = ("RS256", "ES256")


class KeysUnavailable(Exception):
    """The key source cannot be read right now (the identity provider is down)."""


class KeySource(Protocol):
    async def key_for(self, kid: str) -> jwt.PyJWK | None: ...


def max_token_lifetime_of(source: KeySource) -> int | None:
    """The longest lifetime (exp - iat) a source allows its tokens; None: the issuer decides."""
    bound = getattr(source, "max_token_lifetime_s", None)
    return bound if isinstance(bound, int) else None


def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by kid; others are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("a JWKS document has a `keys` array")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError as exc:
            log.warning("skipping JWKS key %s: %s", entry.get("kid"), exc)
            continue
        if key.algorithm_name not in ACCEPTED_ALGORITHMS:
            log.warning("skipping JWKS key %s: algorithm %s", entry["kid"], key.algorithm_name)
            continue
        keys[entry["kid"]] = key
    return keys


class _CachedKeys:
    """Keys refetched every `ttl`; a miss refreshes at most once per `min_refresh_interval`;
    keys not confirmed by a successful fetch for `max_stale` are dropped."""

    max_token_lifetime_s: int | None = None

    def __init__(self, ttl: float, min_refresh_interval: float, max_stale: float) -> None:
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self.max_stale = max(max_stale, ttl)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # the last successful fetch
        self._tried_at: float | None = None  # the last attempt, successful or not
        self._lock = asyncio.Lock()

    async def _load(self) -> dict[str, jwt.PyJWK]:
        raise NotImplementedError

    def _age(self, now: float) -> float:
        return float("inf") if self._fetched_at is None else now - self._fetched_at

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        if self._age(time.monotonic()) < self.ttl and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            # Another request may have refreshed while this one waited.
            now = time.monotonic()
            fresh = self._age(now) < self.ttl
            tried_recently = (
                self._tried_at is not None and now - self._tried_at < self.min_refresh_interval
            )
            if not (fresh and kid in self._keys) and not tried_recently:
                self._tried_at = now
                try:
                    self._keys = await self._load()
                    self._fetched_at = time.monotonic()
                except (OSError, ValueError, httpx.HTTPError) as exc:
                    if not self._keys:
                        raise KeysUnavailable(str(exc)) from exc
                    log.warning("JWKS refresh failed, keeping the cached keys for now: %s", exc)
            if self._age(time.monotonic()) > self.max_stale:
                # The provider may have withdrawn any of them since: trust none.
                self._keys = {}
                raise KeysUnavailable(f"no successful JWKS fetch for over {self.max_stale:.0f} s")
        return self._keys.get(kid)


class JwksUrlSource(_CachedKeys):
    """The identity provider's JWKS endpoint, fetched with httpx (never blocking the loop)."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 300.0,
        min_refresh_interval: float = 10.0,
        max_stale: float = 3600.0,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(ttl, min_refresh_interval, max_stale)
        self.url = url
        self.timeout = timeout
        self._transport = transport

    async def _load(self) -> dict[str, jwt.PyJWK]:
        async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
            response = await client.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            return parse_jwks(response.json())


class JwksFileSource(_CachedKeys):
    """A JWKS file on disk: the development key's, or a test's. Its tokens are development
    tokens, so their lifetime is bounded."""

    max_token_lifetime_s: int | None = DEV_TOKEN_MAX_TTL_S

    def __init__(
        self,
        path: Path,
        *,
        ttl: float = 60.0,
        min_refresh_interval: float = 1.0,
        max_stale: float = 3600.0,
    ) -> None:
        super().__init__(ttl, min_refresh_interval, max_stale)
        self.path = Path(path)

    async def _load(self) -> dict[str, jwt.PyJWK]:
        text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
        return parse_jwks(json.loads(text))


class NoKeys:
    """No JWKS configured: nothing verifies, every token is refused."""

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return None
