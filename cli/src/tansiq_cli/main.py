"""The `tansiq` console script."""

from __future__ import annotations

import typer

from tansiq_cli import events_cmd, registry_cmd, token_cmd
from tansiq_cli.services import ServiceName, service

app = typer.Typer(help="Tansiq operator commands.", no_args_is_help=True)
app.command("seed")(registry_cmd.seed)
app.add_typer(registry_cmd.import_app, name="import")
app.command("token")(token_cmd.token)
app.command("dev-key")(token_cmd.dev_key)
app.command("replay")(events_cmd.replay)
app.add_typer(events_cmd.app, name="events")


@app.command()
def migrate(
    names: list[ServiceName] = typer.Argument(..., help="One or more services."),
    revision: str = typer.Option("head", help="Target revision ('base' to downgrade all)."),
    down: bool = typer.Option(False, "--down", help="Downgrade to the revision instead."),
) -> None:
    """Apply services' Alembic migrations, each to its own database."""
    from tansiq_common import migrations

    for name in names:
        info = service(name.value)
        url = info.settings().migration_url  # the owner role, not the services' runtime one
        if down:
            migrations.downgrade(info.migrations_dir, url, revision)
        else:
            migrations.upgrade(info.migrations_dir, url, revision)
        typer.echo(f"{name.value}: migrated {'down ' if down else ''}to {revision}")


@app.command()
def serve(
    name: ServiceName,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int | None = typer.Option(None, help="Port (default: the service's own)."),
    workers: int = typer.Option(1, help="Worker processes."),
) -> None:
    """Run a service with uvicorn."""
    import uvicorn

    info = service(name.value)
    uvicorn.run(
        info.app_factory,
        factory=True,
        host=host,
        port=port or info.settings().port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        access_log=False,
    )


if __name__ == "__main__":
    app()
