from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class EngagementsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENGAGEMENTS_", extra="ignore", populate_by_name=True
    )

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/engagements"
    port: int = 8003
    # The owners of the records an engagement names, asked when the local replica misses one.
    registry_base_url: str = Field(
        "http://127.0.0.1:8001", validation_alias=AliasChoices("REGISTRY_BASE_URL")
    )
    agreements_base_url: str = Field(
        "http://127.0.0.1:8002", validation_alias=AliasChoices("AGREEMENTS_BASE_URL")
    )
    reference_timeout_s: float = Field(2.0, gt=0)
    # `tansiq seed`: how long to wait for the registry's demo organizations on Kafka.
    demo_wait_s: float = Field(30.0, ge=0)
    # An ingestion batch of 1,000 items with Arabic titles is well over the default 1 MiB.
    max_body_bytes: int = 8 * 1024 * 1024


@lru_cache
def get_settings() -> EngagementsSettings:
    return EngagementsSettings()
