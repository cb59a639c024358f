"""docker-compose.yml: no Docker engine here, so its structure is checked instead of run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PORTS = {"registry": 8001, "agreements": 8002, "engagements": 8003, "reporting": 8004}
DOMAIN_TOPICS = (
    "registry.organization.v1",
    "agreements.agreement.v1",
    "engagements.engagement.v1",
    "engagements.ingest.v1",
)


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
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        assert service["read_only"] is True


def test_migrations_cover_every_database(compose):
    migrate = compose["services"]["migrate"]
    script = " ".join(migrate["command"])
    for name in PORTS:
        assert name in script
        assert migrate["environment"][f"{name.upper()}_DATABASE_URL"].endswith(f"/{name}")
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_files_it_mounts_exist_and_declare_what_the_services_need(compose):
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./deploy/"):
                assert (REPO / source).is_file(), source
        if "build" in service:
            assert (REPO / service["build"] / "Dockerfile").is_file()
    initdb = (REPO / "deploy" / "compose" / "initdb.sql").read_text()
    topics = (REPO / "deploy" / "compose" / "create-topics.sh").read_text()
    for name in PORTS:
        assert f"CREATE DATABASE {name};" in initdb
        assert f"\\connect {name}\nCREATE EXTENSION IF NOT EXISTS pg_trgm;" in initdb
    for topic in DOMAIN_TOPICS:
        assert topic in topics
    assert '--topic "${TOPIC_PREFIX:-}$topic.dlq"' in topics
