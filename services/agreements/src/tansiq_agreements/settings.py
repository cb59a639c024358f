from functools import lru_cache

from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class AgreementsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGREEMENTS_", extra="ignore", populate_by_name=True
    )

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/agreements"
    port: int = 8002


@lru_cache
def get_settings() -> AgreementsSettings:
    return AgreementsSettings()
