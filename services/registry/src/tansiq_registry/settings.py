import json
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from tansiq_common.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", populate_by_name=True)

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/registry"
    port: int = 8001
    # Countries whose public bodies are "national". A list, not one country: one deployment
    # serves the coordination cell of each country it hosts (the demo carries Qatar and Syria).
    # Env: REGISTRY_HOME_COUNTRIES='["QA","SY"]' or REGISTRY_HOME_COUNTRIES=QA,SY.
    home_countries: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["QA", "SY"])
    # Largest CSV accepted by POST /v1/organizations/import (the body limit applies too).
    import_max_rows: int = 20_000

    @field_validator("home_countries", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("home_countries")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [code.upper() for code in value]


@lru_cache
def get_settings() -> RegistrySettings:
    return RegistrySettings()
