from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class AgreementsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGREEMENTS_", extra="ignore", populate_by_name=True
    )

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/agreements"
    port: int = 8002
    # Where owners and parties are checked when the organization replica misses them
    # (REGISTRY_BASE_URL, shared by every service that looks organizations up), and how long
    # to wait for it: a miss with the registry down is a 503, never a silent accept.
    registry_base_url: str = Field(
        "http://127.0.0.1:8001", validation_alias=AliasChoices("REGISTRY_BASE_URL")
    )
    registry_timeout_s: float = Field(2.0, gt=0, le=30)
    # The job that expires signed and in-force agreements past `expires_on`; safe to run in
    # every replica (AGREEMENTS_RUN_EXPIRY=false turns it off in one).
    run_expiry: bool = True
    expiry_interval_s: float = Field(3600.0, gt=0)
    # `tansiq seed`: how long the demo data waits for the registry's demo organizations to
    # reach Kafka when it is not handed them (AGREEMENTS_DEMO_WAIT_S).
    demo_wait_s: float = Field(30.0, ge=0)


@lru_cache
def get_settings() -> AgreementsSettings:
    return AgreementsSettings()
