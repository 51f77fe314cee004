"""All settings in one place.

Environment variables (``CARSIGHT_*``), an optional ``carsight.toml`` file, then defaults. Nothing
else in carsight reads the environment.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from carsight.errors import InputError


def _config_file() -> Path:
    return Path(os.environ.get("CARSIGHT_CONFIG", "carsight.toml"))


class SmtpSettings(BaseSettings):
    """How campaign e-mail is sent: server, login, security, sender and rate."""

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
    """A scheduled job: a cron expression and what to run (pipeline or report)."""

    name: str
    cron: str
    # one of: "pipeline", "report"
    action: str
    args: dict[str, str] = Field(default_factory=dict)


class MonitorSettings(BaseModel):
    """``carsight monitor run``: what each check alerts on, who is told, and when it runs.

    docs/monitoring.md says where each threshold comes from and how it was checked on public data.
    """

    # Daily at 07:00 by default (the scheduler adds it to ``schedules``); "" turns it off.
    cron: str = "0 7 * * *"
    recipients: list[str] = Field(default_factory=list)  # e-mail addresses that get new alerts
    lang: Literal["ko", "en"] | None = None  # of the e-mails (default: settings.lang)
    mail_min_severity: Literal["info", "warning", "critical"] = "warning"
    # data.freshness: stale when the newest row is older than `freshness_factor` × the table's usual
    # gap between dates (95th percentile over its last year), and at least `freshness_min_days`.
    freshness_factor: float = 3.0
    freshness_min_days: int = 7
    freshness_max_days: dict[str, int] = Field(default_factory=dict)  # per table, overrides the rule
    # data.rejections: loads of the last `rejection_lookback_days` that quarantined rows; critical
    # from this share of a file's rows.
    rejection_lookback_days: int = 30
    rejection_warning_share: float = 0.005
    rejection_critical_share: float = 0.05
    # data.drift: rows since the models' reference date against the year before it.
    drift_psi: float = 0.25  # a column has shifted (the usual PSI reading)
    drift_auroc: float = 0.70  # the rows as a whole have (carsight.registry.drift.MATERIAL_AUROC)
    drift_min_rows: int = 300  # on each side; below, PSI over 10 bins is noise
    # models.propensity: realised against the holdout's, once the outcomes are in.
    auroc_drop_z: float = 2.0  # standard errors (Hanley-McNeil) the realised AUROC is below the holdout's
    auroc_min_drop: float = 0.03
    calibration_z: float = 3.0  # predicted vs observed responders (Poisson-binomial z)
    calibration_min_ratio: float = 1.25  # and off by at least this factor either way
    # models.forecast: median over series of (error of the arrived months / backtest error).
    forecast_error_ratio: float = 2.0
    forecast_min_series: int = 10
    # business.sales_interval: arrived months outside the forecast's interval, for these levels.
    sales_interval_level: int = 95
    sales_levels: list[str] = Field(default_factory=lambda: ["total", "brand", "market"])
    # business.vip_share: the share of "Very Strong" RFM customers falls month on month.
    vip_drop_z: float = 3.0
    vip_min_drop_pct: float = 10.0
    # business.voc_rising: significant rising keywords (voc_rising) at least this much up.
    voc_min_ratio: float = 2.0
    voc_min_count: int = 10


class Settings(BaseSettings):
    """carsight settings.

    Environment: ``CARSIGHT_WAREHOUSE``, ``CARSIGHT_LANG``, nested with ``__``
    (``CARSIGHT_SMTP__HOST``).
    """

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
    # Users, API-token digests, sessions and the audit log (carsight.access): a SQLite file that stays
    # writable while the API, the dashboard and a pipeline run. Default: <warehouse stem>.access.sqlite
    # beside a DuckDB warehouse file, else carsight.access.sqlite in the working directory.
    access_store: Path | None = None
    # Sign-in: after this many failed passwords in a row a user is locked, for access_lock_seconds
    # doubled at every further failure (capped at an hour).
    access_max_failures: int = Field(default=5, ge=1)
    access_lock_seconds: float = Field(default=30.0, gt=0)
    # How long a dashboard session lasts after sign-in.
    access_session_hours: float = Field(default=8.0, gt=0)
    # The request header a company's single sign-on proxy sets to the signed-in user's name (e.g.
    # X-Forwarded-User); set, the dashboard trusts it and shows no password form. Only for a
    # dashboard reachable through that proxy alone (docs/dashboard.md).
    trusted_user_header: str | None = None
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    schedules: list[Schedule] = Field(default_factory=list)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
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
        """Read settings from init arguments, then the environment, then ``carsight.toml``."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def warehouse_url(self) -> str:
        """The warehouse as an Ibis URL (a plain path becomes ``duckdb://``)."""
        return warehouse_url(self.warehouse)

    @property
    def access_store_path(self) -> Path:
        """The users-and-audit store (``access_store``, else beside a DuckDB warehouse file)."""
        if self.access_store is not None:
            return Path(self.access_store)
        url = self.warehouse_url
        if url.startswith("duckdb://") and not url.endswith(":memory:"):
            path = Path(url[len("duckdb://") :])
            return path.with_name(f"{path.stem}.access.sqlite")
        return Path("carsight.access.sqlite")


def warehouse_url(location: str | os.PathLike) -> str:
    """Turn a plain path into a DuckDB URL; pass Ibis URLs through unchanged."""
    text = str(location)
    if "://" in text:
        return text
    return f"duckdb://{Path(text).expanduser().resolve()}"


def _load(**overrides) -> Settings:
    """Settings from the environment and file.

    An invalid value is one :class:`InputError` that names the setting, never a validation
    traceback.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = "__".join(str(part) for part in problem["loc"])
        path = _config_file()
        raise InputError(
            f"setting '{name}' is invalid: {problem['msg']}",
            file=str(path) if path.is_file() else None,
            column=f"CARSIGHT_{name.upper()}",
        ) from None


@lru_cache(maxsize=1)
def _cached() -> Settings:
    return _load()


def get_settings(**overrides) -> Settings:
    """The process-wide settings; overrides (from CLI flags) give a new object.

    Raises
    ------
    InputError
        When a setting (environment, carsight.toml or override) has an invalid value.
    """
    if overrides:
        return _load(**{k: v for k, v in overrides.items() if v is not None})
    return _cached()


def reset_settings_cache() -> None:
    """Forget the cached settings (tests and long-running processes that change the environment)."""
    _cached.cache_clear()
