"""Settings fail closed: a deployed process names its environment, production refuses every
development shortcut, and Kafka security reaches every client the code creates."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from aiokafka.errors import KafkaConnectionError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from tansiq_common.events.kafka import (
    KafkaSecurity,
    admin_client,
    group_consumer,
    idempotent_producer,
)
from tansiq_common.settings import ServiceSettings

REAL = {
    "database_url": "postgresql+asyncpg://app:s3cr3t-from-vault@db/x",
    "auth_jwks_url": "https://idp.gov.example/.well-known/jwks.json",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "registry",
    "kafka_sasl_password": "from-the-kafka-user-secret",
}


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (
        "TANSIQ_ENV",
        "AUTH_JWKS_FILE",  # `make` exports the development key
        "AUTH_JWKS_URL",
        "KUBERNETES_SERVICE_HOST",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SSL_CAFILE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_developer_machine_needs_no_environment_name():
    assert ExampleSettings().environment == "development"


def test_a_pod_that_does_not_name_its_environment_refuses_to_start(monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    with pytest.raises(ValidationError, match="TANSIQ_ENV is not set but KUBERNETES_SERVICE_HOST"):
        ExampleSettings()
    monkeypatch.setenv("TANSIQ_ENV", "development")  # a development cluster says so
    assert ExampleSettings().environment == "development"


def test_a_real_identity_provider_without_an_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("AUTH_JWKS_URL", "https://idp.gov.example/jwks.json")
    with pytest.raises(ValidationError, match="TANSIQ_ENV is not set but AUTH_JWKS_URL"):
        ExampleSettings()


def test_an_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("TANSIQ_ENV", "prod")
    with pytest.raises(ValidationError, match="TANSIQ_ENV"):
        ExampleSettings()


def test_production_accepts_real_settings(monkeypatch):
    monkeypatch.setenv("TANSIQ_ENV", "production")
    settings = ExampleSettings(**REAL)
    assert settings.environment == "production"
    assert settings.kafka_security().uses_tls


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"auth_jwks_url": "http://idp.gov.example/jwks.json"}, "must be an https URL"),
        ({"auth_jwks_url": None}, "AUTH_JWKS_URL is required"),
        ({"kafka_security_protocol": "PLAINTEXT"}, "must be SSL or SASL_SSL"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "must be SSL or SASL_SSL"),
        (
            {"migration_database_url": "postgresql://tansiq:tansiq@db/x"},
            "migration database password is a development default",
        ),
    ],
)
def test_production_refuses_development_shortcuts(monkeypatch, change, complaint):
    monkeypatch.setenv("TANSIQ_ENV", "production")
    with pytest.raises(ValidationError, match=complaint):
        ExampleSettings(**{**REAL, **change})


def test_sasl_needs_its_credentials():
    with pytest.raises(ValidationError, match="needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        ExampleSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="registry")


def test_kafka_security_comes_from_the_shared_variables(monkeypatch, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text(_self_signed_ca())
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "agreements")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "scram-secret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(ca))
    settings = ExampleSettings()
    security = settings.kafka_security()
    assert security == KafkaSecurity.from_env()
    assert security.sasl_mechanism == "SCRAM-SHA-512"
    options = security.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "agreements",
        "scram-secret",
    )
    assert options["ssl_context"].get_ca_certs()  # the cluster CA is what TLS trusts
    assert "scram-secret" not in repr(security)
    assert "scram-secret" not in repr(settings)


def test_the_migration_url_defaults_to_the_runtime_url(monkeypatch):
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql://tansiq_app:a@db/x")
    assert ExampleSettings().migration_url == "postgresql+asyncpg://tansiq_app:a@db/x"
    monkeypatch.setenv("EXAMPLE_MIGRATION_DATABASE_URL", "postgresql://tansiq:o@db/x")
    settings = ExampleSettings()
    assert settings.migration_url == "postgresql+asyncpg://tansiq:o@db/x"
    assert settings.database_url == "postgresql+asyncpg://tansiq_app:a@db/x"


def test_the_runtime_role_is_a_plain_identifier(monkeypatch):
    assert ExampleSettings().database_runtime_role == "tansiq_app"
    monkeypatch.setenv("EXAMPLE_DATABASE_RUNTIME_ROLE", 'app"; drop table audit_log; --')
    with pytest.raises(ValidationError, match="plain lower-case PostgreSQL identifier"):
        ExampleSettings()


async def test_every_kafka_client_factory_uses_the_security_settings(kafka_bootstrap):
    """Against the local PLAINTEXT broker: the same factories connect without SASL and are
    refused with it, so the options reach the wire."""
    sasl = KafkaSecurity(protocol="SASL_PLAINTEXT", username="u", password="p")
    plain = KafkaSecurity()
    for security, works in ((plain, True), (sasl, False)):
        clients = [
            idempotent_producer(kafka_bootstrap, "t-settings", security=security),
            group_consumer(kafka_bootstrap, security=security, group_id=None),
            admin_client(kafka_bootstrap, "t-settings", security=security),
        ]
        for client in clients:
            try:
                if works:
                    await asyncio.wait_for(client.start(), 30)
                else:
                    with pytest.raises(KafkaConnectionError):
                        await asyncio.wait_for(client.start(), 30)
            finally:
                await (client.close() if hasattr(client, "close") else client.stop())


def _self_signed_ca() -> str:
    """A CA certificate like the one Strimzi hands out as the cluster CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tansiq test cluster CA")])
    start = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
