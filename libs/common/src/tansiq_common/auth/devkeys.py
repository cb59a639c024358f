"""The development signing key: created on first use, with the JWKS file services trust in dev.

Never used in production: settings refuse AUTH_JWKS_FILE there, so these keys verify nothing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

DEFAULT_ISSUER = "tansiq-dev"
DEFAULT_AUDIENCE = "tansiq"
DEFAULT_TTL_S = 3600
# A development token lives at most a day: `tansiq token` refuses more, and services that trust
# the development key refuse tokens that claim more (or carry no exp).
DEV_TOKEN_MAX_TTL_S = 24 * 3600
KEYS_DIR_ENV = "TANSIQ_KEYS_DIR"
PRIVATE_KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "jwks.json"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_jwk(private_key: PrivateKey) -> dict[str, Any]:
    """The public half as a JWK with `kid` (RFC 7638 thumbprint), `alg` and `use`."""
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        members: dict[str, str] = {"e": _b64(e), "kty": "RSA", "n": _b64(n)}
        alg = "RS256"
    else:
        ec_numbers = public.public_numbers()
        members = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64(ec_numbers.x.to_bytes(32, "big")),
            "y": _b64(ec_numbers.y.to_bytes(32, "big")),
        }
        alg = "ES256"
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    kid = _b64(hashlib.sha256(canonical).digest())
    return {**members, "kid": kid, "alg": alg, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    private_key: PrivateKey

    @property
    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.private_key)

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])

    @property
    def algorithm(self) -> str:
        return str(self.jwk["alg"])

    @classmethod
    def generate(cls, algorithm: str = "RS256") -> SigningKey:
        if algorithm == "ES256":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if algorithm == "RS256":
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        raise ValueError(f"unsupported algorithm {algorithm}")

    @classmethod
    def load(cls, pem_path: Path) -> SigningKey:
        key = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{pem_path} is not an RSA or EC private key")
        return cls(key)

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        return jwt.encode(
            dict(claims),
            self.private_key,
            algorithm=self.algorithm,
            headers={"kid": self.kid, **(headers or {})},
        )


def jwks_document(keys: Iterable[SigningKey]) -> dict[str, Any]:
    return {"keys": [key.jwk for key in keys]}


def token_claims(
    *,
    org: str,
    roles: Iterable[str],
    sub: str = "dev",
    ttl: int = DEFAULT_TTL_S,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    now: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    issued = int(time.time()) if now is None else now
    return {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "org": org,
        "roles": sorted(set(roles)),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
        **extra,
    }


def default_keys_dir() -> Path:
    """TANSIQ_KEYS_DIR, else `<repo>/.local/keys` (the repo found from this file or the cwd)."""
    if configured := os.environ.get(KEYS_DIR_ENV):
        return Path(configured)
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for folder in (start, *start.parents):
            marker = folder / "pyproject.toml"
            if marker.is_file() and "tansiq-workspace" in marker.read_text(errors="ignore"):
                return folder / ".local" / "keys"
    return Path.cwd() / ".local" / "keys"


def _write_atomically(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` with `data` unless it exists; False when another process won the race."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def ensure_dev_key(folder: Path | None = None) -> tuple[Path, Path]:
    """The development key's PEM and JWKS paths, creating both on first use."""
    folder = Path(folder) if folder is not None else default_keys_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem_path, jwks_path = folder / PRIVATE_KEY_FILE, folder / JWKS_FILE
    if not pem_path.exists():
        _write_atomically(pem_path, SigningKey.generate("RS256").pem(), 0o600)
    key = SigningKey.load(pem_path)
    document = jwks_document([key])
    current = None
    if jwks_path.exists():
        with contextlib.suppress(ValueError):
            current = json.loads(jwks_path.read_text(encoding="utf-8"))
    if current != document:
        tmp = jwks_path.with_name(f".{JWKS_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, jwks_path)
    return pem_path, jwks_path


def mint_token(
    *,
    org: str,
    roles: Iterable[str],
    sub: str = "dev",
    ttl: int = DEFAULT_TTL_S,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    folder: Path | None = None,
    **extra: Any,
) -> str:
    """A JWT signed by the development key (created if missing), valid `ttl` seconds."""
    if not 0 < ttl <= DEV_TOKEN_MAX_TTL_S:
        raise ValueError(f"a development token lives 1 to {DEV_TOKEN_MAX_TTL_S} seconds")
    pem_path, _ = ensure_dev_key(folder)
    claims = token_claims(
        org=org, roles=roles, sub=sub, ttl=ttl, issuer=issuer, audience=audience, **extra
    )
    return SigningKey.load(pem_path).sign(claims)
