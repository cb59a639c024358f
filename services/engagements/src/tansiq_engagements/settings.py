from functools import lru_cache

from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class EngagementsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENGAGEMENTS_", extra="ignore", populate_by_name=True
    )

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/engagements"
    port: int = 8003


@lru_cache
def get_settings() -> EngagementsSettings:
    return EngagementsSettings()
