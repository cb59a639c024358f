"""`tansiq token` and `tansiq dev-key`: development tokens signed by the local development key.

Services trust that key only through AUTH_JWKS_FILE, which production settings refuse.
"""

from __future__ import annotations

from pathlib import Path

import typer
from tansiq_common.auth.devkeys import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    DEFAULT_TTL_S,
    DEV_TOKEN_MAX_TTL_S,
    ensure_dev_key,
    mint_token,
)
from tansiq_common.auth.principal import Role

KEYS_DIR_HELP = "Folder of the development key (default: $TANSIQ_KEYS_DIR or <repo>/.local/keys)."


def _roles(value: str) -> list[str]:
    roles = [r.strip() for r in value.split(",") if r.strip()]
    known = {r.value for r in Role}
    unknown = [r for r in roles if r not in known]
    if not roles or unknown:
        raise typer.BadParameter(
            f"unknown role(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(sorted(known))}"
        )
    return roles


def token(
    org: str = typer.Option(..., "--org", help="The caller's organization id (claim `org`)."),
    roles: str = typer.Option(..., "--roles", help="Comma-separated roles, e.g. viewer,editor."),
    sub: str = typer.Option("dev", "--sub", help="The caller's name (claim `sub`)."),
    ttl: int = typer.Option(
        DEFAULT_TTL_S,
        "--ttl",
        min=1,
        max=DEV_TOKEN_MAX_TTL_S,
        help=f"Lifetime in seconds (at most {DEV_TOKEN_MAX_TTL_S}: development tokens are short).",
    ),
    issuer: str = typer.Option(DEFAULT_ISSUER, "--issuer", envvar="AUTH_ISSUER"),
    audience: str = typer.Option(DEFAULT_AUDIENCE, "--audience", envvar="AUTH_AUDIENCE"),
    keys_dir: Path | None = typer.Option(None, "--keys-dir", help=KEYS_DIR_HELP),
) -> None:
    """Print a development JWT signed by the local development key (created on first use)."""
    typer.echo(
        mint_token(
            org=org,
            roles=_roles(roles),
            sub=sub,
            ttl=ttl,
            issuer=issuer,
            audience=audience,
            folder=keys_dir,
        )
    )


def dev_key(
    keys_dir: Path | None = typer.Option(None, "--keys-dir", help=KEYS_DIR_HELP),
) -> None:
    """Create the development key if missing and print its JWKS path (for AUTH_JWKS_FILE)."""
    _, jwks_path = ensure_dev_key(keys_dir)
    typer.echo(str(jwks_path))
