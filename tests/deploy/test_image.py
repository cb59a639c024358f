"""The container image: the Dockerfile's rules, and its install recipe run for real.

No Docker engine here, so the recipe (the Dockerfile's own `uv pip install` line) installs into a
scratch virtualenv instead of an image layer; that venv then migrates a real PostgreSQL database
and runs the migration wait of the Deployments' init container.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
WAIT_SCRIPT = REPO / "deploy" / "k8s" / "base" / "scripts" / "wait_for_migrations.py"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def test_dockerfile_runs_the_tansiq_command_as_a_non_root_user():
    instructions = _instructions()
    base = [args for word, args in instructions if word == "ARG" and args.startswith("PYTHON_")]
    assert base == ["PYTHON_IMAGE=python:3.11-slim-bookworm"]
    users = [args for word, args in instructions if word == "USER"]
    assert len(users) == 1
    uid, _, gid = users[0].partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can check it; and the uid the manifests use.
    assert uid == gid == "10001"
    assert ("ENTRYPOINT", '["tansiq"]') in instructions
    assert ("EXPOSE", "8000") in instructions


def test_everything_the_dockerfile_copies_is_in_the_build_context():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copies = [args for word, args in _instructions() if word == "COPY" and "--from" not in args]
    assert copies
    for args in copies:
        source = args.split()[0]
        assert (REPO / source).exists(), source
        top = source.split("/")[0]
        assert top not in ignored, f"{source} is excluded by .dockerignore"
        assert "tests" not in source.split("/")


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv installed exactly as the Dockerfile installs /opt/tansiq."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to run the image's install recipe (make install provides it)")
    work = tmp_path_factory.mktemp("image")
    venv = work / "venv"
    constraints = work / "constraints.txt"
    lock = (REPO / "requirements.lock").read_text().splitlines()
    constraints.write_text("\n".join(line for line in lock if not line.startswith("-e ")) + "\n")
    (run,) = [args for word, args in _instructions() if word == "RUN" and "uv pip install" in args]
    assert "grep -v '^-e ' requirements.lock > /tmp/constraints.txt" in run
    install = shlex.split(run.split("uv pip install", 1)[1])
    install = [
        str(venv / "bin" / "python")
        if arg == "/opt/tansiq/bin/python"
        else str(constraints)
        if arg == "/tmp/constraints.txt"
        else arg
        for arg in install
    ]
    subprocess.run([uv, "venv", "--quiet", "--python", "python3.11", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", *install], cwd=REPO, check=True, timeout=600)
    return venv


def test_the_image_holds_the_runtime_only(image_venv):
    site = next((image_venv / "lib").glob("python3.11/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert {"tansiq_cli", "tansiq_common", "tansiq_registry", "fastapi", "asyncpg"} <= installed
    assert not {"pytest", "mypy", "ruff", "kubernetes_validate"} & installed
    # Installed as wheels: no link back into the source tree that the image leaves behind.
    assert not list(site.glob("*.pth")) or all(
        str(REPO) not in p.read_text() for p in site.glob("*.pth")
    )
    for service in ("registry", "agreements", "engagements", "reporting"):
        assert list((site / f"tansiq_{service}" / "migrations" / "versions").glob("0001_*.py"))
    help_text = subprocess.run(
        [str(image_venv / "bin" / "tansiq"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "migrate" in help_text
    assert "serve" in help_text


@pytest.fixture
def empty_database(pg_admin_url: str) -> Iterator[str]:
    """A fresh database, as CloudNativePG hands it over: plain postgresql:// URL, no tables."""
    import asyncio

    name = f"t_deploy_{uuid.uuid4().hex[:8]}"
    admin = make_url(pg_admin_url).set(drivername="postgresql")

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _run(venv: Path, args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_DATABASE_URL") and key != "VIRTUAL_ENV"
    }
    env["REGISTRY_DATABASE_URL"] = url
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migration_job_then_init_container_wait(image_venv, empty_database):
    wait = ["python", str(WAIT_SCRIPT), "registry"]
    before = _run(image_venv, [*wait, "--timeout", "0"], empty_database)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "is the migration Job failing?" in before.stderr

    migrated = _run(image_venv, ["tansiq", "migrate", "registry"], empty_database)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    after = _run(image_venv, [*wait, "--timeout", "0"], empty_database)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "registry: schema at" in after.stdout


def _wait_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("wait_for_migrations", WAIT_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("applied", "ready"),
    [
        (set(), False),  # never migrated
        ({"0001"}, False),  # behind this release
        ({"0002"}, True),  # at head
        ({"0003"}, True),  # ahead: a rolled-back release on the newer schema
        ({"0001", "0003"}, False),  # partly known: not a clean state to start on
    ],
)
def test_when_the_init_container_lets_pods_start(applied, ready):
    schema_ready = _wait_module().schema_ready
    assert schema_ready(applied, heads={"0002"}, known={"0001", "0002"}) is ready
