from functools import lru_cache

from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="REPORTING_", extra="ignore", populate_by_name=True
    )

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/reporting"
    port: int = 8004


@lru_cache
def get_settings() -> ReportingSettings:
    return ReportingSettings()
