import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore")


def test_service_values_take_the_prefix_and_shared_ones_do_not(monkeypatch):
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql+asyncpg://u:p@db:5432/example")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("TOPIC_PREFIX", "tenant-a.")
    settings = ExampleSettings()
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/example"
    assert settings.kafka_bootstrap_servers == "broker:9092"
    assert settings.topic("registry.organization.v1") == "tenant-a.registry.organization.v1"


def test_a_plain_postgresql_uri_gets_the_async_driver():
    settings = ExampleSettings(database_url="postgresql://u:p@db:5432/x")
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/x"


def test_production_refuses_development_secrets(tmp_path):
    with pytest.raises(ValidationError) as caught:
        ExampleSettings(
            environment="production",
            database_url="postgresql+asyncpg://tansiq:tansiq@db/x",
            auth_jwks_file=tmp_path / "jwks.json",
        )
    message = str(caught.value)
    assert "AUTH_JWKS_FILE" in message
    assert "AUTH_JWKS_URL is required" in message
    assert "development default" in message


def test_production_accepts_real_secrets(monkeypatch):
    monkeypatch.delenv("AUTH_JWKS_FILE", raising=False)  # `make` exports the development key
    settings = ExampleSettings(
        environment="production",
        database_url="postgresql+asyncpg://app:s3cr3t-from-vault@db/x",
        auth_jwks_url="https://idp.gov.example/.well-known/jwks.json",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="registry",
        kafka_sasl_password="from-the-kafka-user-secret",
    )
    assert settings.environment == "production"
