"""docker-compose.yml: no Docker engine here, so its structure is checked instead of run, and
against the code (topics, settings) by the same checks as `make k8s-validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PORTS = {"registry": 8001, "agreements": 8002, "engagements": 8003, "reporting": 8004}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves the anchors and `<<` merges as Compose does.
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def _advertised(kafka: dict[str, Any]) -> set[str]:
    listeners = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    return {listener.split("://", 1)[1] for listener in listeners}


def test_infrastructure_is_postgres_and_kraft_kafka(compose):
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "127.0.0.1:9092" in _advertised(kafka)
    assert "zookeeper" not in services


def test_each_service_on_its_port_with_its_database_and_kafka(compose):
    services = compose["services"]
    kafka_addresses = _advertised(services["kafka"])
    for name, port in PORTS.items():
        service = services[name]
        assert service["command"] == ["serve", name, "--host", "0.0.0.0", "--port", "8000"]
        assert service["ports"] == [f"127.0.0.1:{port}:8000"]
        env = service["environment"]
        assert env[f"{name.upper()}_DATABASE_URL"] == (
            f"postgresql+asyncpg://tansiq:tansiq@postgres:5432/{name}"
        )
        assert env["KAFKA_BOOTSTRAP_SERVERS"] in kafka_addresses
        assert env["KAFKA_BOOTSTRAP_SERVERS"] != "127.0.0.1:9092"  # that is the host's address
        assert env["TANSIQ_ENV"] == "development"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["kafka-topics"]["condition"] == (
            "service_completed_successfully"
        )
        # The container's own address, never the host's loopback.
        for key, value in env.items():
            if key.endswith("_BASE_URL"):
                assert value.startswith("http://"), key
                assert "127.0.0.1" not in value, key
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        assert service["read_only"] is True


def test_migrations_cover_every_database(compose):
    migrate = compose["services"]["migrate"]
    script = " ".join(migrate["command"])
    for name in PORTS:
        assert name in script
        assert migrate["environment"][f"{name.upper()}_DATABASE_URL"].endswith(f"/{name}")
        assert migrate["environment"][f"{name.upper()}_MIGRATION_DATABASE_URL"].endswith(f"/{name}")
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_topics_come_from_the_code(compose):
    """No topic list here: the project's own `tansiq events topics` creates DOMAIN_TOPICS."""
    job = compose["services"]["kafka-topics"]
    assert job["image"] == compose["services"]["registry"]["image"]
    assert job["command"] == ["events", "topics"]
    assert job["environment"]["KAFKA_BOOTSTRAP_SERVERS"] in _advertised(
        compose["services"]["kafka"]
    )
    assert job["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_the_files_it_mounts_exist(compose):
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./deploy/"):
                assert (REPO / source).is_file(), source
        if "build" in service:
            assert (REPO / service["build"] / "Dockerfile").is_file()
    initdb = (REPO / "deploy" / "compose" / "initdb.sql").read_text()
    for name in PORTS:
        assert f"CREATE DATABASE {name};" in initdb
        assert f"\\connect {name}\nCREATE EXTENSION IF NOT EXISTS pg_trgm;" in initdb


def test_the_validator_passes_compose_and_catches_what_is_missing(validator, monkeypatch, tmp_path):
    report = validator.Report()
    validator.check_compose(report)
    assert report.problems == []

    broken = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    del broken["services"]["engagements"]["environment"]["AGREEMENTS_BASE_URL"]
    broken["services"]["agreements"]["environment"]["REGISTRY_BASE_URL"] = "http://registy:8000"
    del broken["services"]["reporting"]["environment"]["REPORTING_DATABASE_URL"]
    broken["services"]["kafka-topics"]["command"] = ["/bin/sh", "/create-topics.sh"]
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    monkeypatch.setattr(validator, "COMPOSE", path)
    report = validator.Report()
    validator.check_compose(report)
    text = "\n".join(report.problems)
    assert "kafka-topics must run `tansiq events topics`" in text
    assert "engagements has no AGREEMENTS_BASE_URL=http://agreements:8000" in text
    assert "agreements REGISTRY_BASE_URL=http://registy:8000 is no service" in text
    assert "reporting does not set ['REPORTING_DATABASE_URL']" in text


def test_every_topic_named_anywhere_is_one_the_code_has(validator):
    report = validator.Report()
    validator.check_topic_mentions(report)
    assert report.problems == []
    assert report.checks > 0
