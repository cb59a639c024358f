from functools import lru_cache

from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", populate_by_name=True)

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/registry"
    port: int = 8001


@lru_cache
def get_settings() -> RegistrySettings:
    return RegistrySettings()
