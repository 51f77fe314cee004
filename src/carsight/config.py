"""All settings in one place: environment variables (``CARSIGHT_*``), an optional
``carsight.toml`` file, then defaults. Nothing else in carsight reads the environment."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


def _config_file() -> Path:
    return Path(os.environ.get("CARSIGHT_CONFIG", "carsight.toml"))


class SmtpSettings(BaseSettings):
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    # "none", "starttls" or "ssl"
    security: Literal["none", "starttls", "ssl"] = "none"
    sender: str = "carsight@localhost"
    rate_per_second: float = 10.0
    timeout_s: float = 15.0


class LlmSettings(BaseSettings):
    """Optional narrative for reports through an OpenAI-compatible endpoint; off unless a base URL is set."""

    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = 20.0


class CustomerSettings(BaseSettings):
    """Options of the customers pipeline step."""

    as_of: dt.date | None = None  # default: the day after the last purchase
    k_range: tuple[int, int] = (2, 10)
    monetary: Literal["total", "average"] = "total"
    grade_cutoffs: dict[str, float] = Field(default_factory=dict)  # very_strong / strong / normal


class Schedule(BaseSettings):
    name: str
    cron: str
    # one of: "pipeline", "report"
    action: str
    args: dict[str, str] = Field(default_factory=dict)


class Settings(BaseSettings):
    """carsight settings. Environment: ``CARSIGHT_WAREHOUSE``, ``CARSIGHT_LANG``, nested with ``__``
    (``CARSIGHT_SMTP__HOST``)."""

    model_config = SettingsConfigDict(env_prefix="CARSIGHT_", env_nested_delimiter="__", extra="ignore")

    # A plain path means a DuckDB file; anything with "://" is an Ibis connection URL.
    warehouse: str = "carsight.duckdb"
    data_dir: Path = Path("data")
    model_dir: Path = Path("models")
    output_dir: Path = Path("out")
    lang: Literal["ko", "en"] = "ko"
    # Ingest: the market of "Domestic" rows in a maker's own sales table (docs/ingest.md).
    home_market: str = "Korea"
    # Keep unmasked consultation text in the warehouse only when explicitly allowed.
    store_unmasked_text: bool = False
    # VoC: below this calibrated confidence a predicted topic is marked needs_review.
    voc_review_threshold: float = 0.5
    # VoC: extra user dictionary files (one term per line, optional tab + NNG/NNP).
    voc_dictionary: list[Path] = Field(default_factory=list)
    api_token: SecretStr | None = None
    # Run the API without a token (local use on 127.0.0.1 only).
    api_insecure: bool = False
    api_max_body_bytes: int = 1_000_000
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    schedules: list[Schedule] = Field(default_factory=list)
    debug: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def warehouse_url(self) -> str:
        return warehouse_url(self.warehouse)


def warehouse_url(location: str | os.PathLike) -> str:
    """Turn a plain path into a DuckDB URL; pass Ibis URLs through unchanged."""
    text = str(location)
    if "://" in text:
        return text
    return f"duckdb://{Path(text).expanduser().resolve()}"


@lru_cache(maxsize=1)
def _cached() -> Settings:
    return Settings()


def get_settings(**overrides) -> Settings:
    """The process-wide settings; overrides (from CLI flags) give a new object."""
    if overrides:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    return _cached()


def reset_settings_cache() -> None:
    _cached.cache_clear()
