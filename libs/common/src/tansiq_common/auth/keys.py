"""Verification keys by `kid`, from a JWKS URL (production) or a JWKS file (development).

Both are cached; an unknown `kid` triggers one refresh (rate-limited), which is how a key rotation
at the identity provider is picked up without a restart.
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

log = logging.getLogger(__name__)

# Only asymmetric signatures: a symmetric or `none` algorithm would let anyone who knows the
# public key (or nobody at all) sign tokens.
ACCEPTED_ALGORITHMS = ("RS256", "ES256")


class KeysUnavailable(Exception):
    """The key source cannot be read right now (the identity provider is down)."""


class KeySource(Protocol):
    async def key_for(self, kid: str) -> jwt.PyJWK | None: ...


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
    """Keys cached for `ttl`; a miss refreshes at most once per `min_refresh_interval`."""

    def __init__(self, ttl: float, min_refresh_interval: float) -> None:
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def _load(self) -> dict[str, jwt.PyJWK]:
        raise NotImplementedError

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        fresh = self._loaded_at is not None and now - self._loaded_at < self.ttl
        if fresh and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            # Another request may have refreshed while this one waited.
            now = time.monotonic()
            recently = (
                self._loaded_at is not None and now - self._loaded_at < self.min_refresh_interval
            )
            if not recently:
                try:
                    self._keys = await self._load()
                    self._loaded_at = time.monotonic()
                except (OSError, ValueError, httpx.HTTPError) as exc:
                    if not self._keys:
                        raise KeysUnavailable(str(exc)) from exc
                    # Keep verifying with the keys we have; an unknown kid retries after the
                    # interval.
                    log.warning("JWKS refresh failed, keeping cached keys: %s", exc)
                    self._loaded_at = now
        return self._keys.get(kid)


class JwksUrlSource(_CachedKeys):
    """The identity provider's JWKS endpoint, fetched with httpx (never blocking the loop)."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 300.0,
        min_refresh_interval: float = 10.0,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(ttl, min_refresh_interval)
        self.url = url
        self.timeout = timeout
        self._transport = transport

    async def _load(self) -> dict[str, jwt.PyJWK]:
        async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
            response = await client.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            return parse_jwks(response.json())


class JwksFileSource(_CachedKeys):
    """A JWKS file on disk: the development key's, or a test's."""

    def __init__(self, path: Path, *, ttl: float = 60.0, min_refresh_interval: float = 1.0) -> None:
        super().__init__(ttl, min_refresh_interval)
        self.path = Path(path)

    async def _load(self) -> dict[str, jwt.PyJWK]:
        text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
        return parse_jwks(json.loads(text))


class NoKeys:
    """No JWKS configured: nothing verifies, every token is refused."""

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return None
