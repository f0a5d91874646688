"""Configuration from the environment and an optional `.env` file (pydantic-settings)."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/komorebi.db"
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"


class Settings(BaseSettings):
    """Every setting an operator can change. Names match the interface contract in the README."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(default=DEFAULT_API_BASE_URL, validation_alias="TELEGRAM_API_BASE_URL")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    default_timezone: str = Field(default="Asia/Tokyo", validation_alias="KOMOREBI_DEFAULT_TIMEZONE")
    default_language: str = Field(default="ja", pattern="^(ja|en)$", validation_alias="KOMOREBI_DEFAULT_LANGUAGE")
    coordinators: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(), validation_alias="KOMOREBI_COORDINATORS"
    )
    webhook_url: str | None = Field(default=None, validation_alias="KOMOREBI_WEBHOOK_URL")
    webhook_secret: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$", validation_alias="KOMOREBI_WEBHOOK_SECRET"
    )
    webhook_listen: str = Field(default="0.0.0.0", validation_alias="KOMOREBI_WEBHOOK_LISTEN")
    webhook_port: int = Field(default=8080, ge=1, le=65535, validation_alias="KOMOREBI_WEBHOOK_PORT")
    tick_seconds: float = Field(default=20.0, gt=0, validation_alias="KOMOREBI_TICK_SECONDS")
    # Telegram allows about 30 messages a second per bot, however many processes share it: with
    # several workers, give each its share (for example 14 for two).
    send_rate: float = Field(default=29.0, gt=0, le=30, validation_alias="KOMOREBI_SEND_RATE")
    # Updates handled at once (one at a time within a chat); 1 handles everything in turn.
    concurrent_updates: int = Field(default=16, ge=1, le=256, validation_alias="KOMOREBI_CONCURRENT_UPDATES")
    log_level: str = Field(default="INFO", validation_alias="KOMOREBI_LOG_LEVEL")
    # The organisation's own small tasks (en.csv and ja.csv, content/README.md); None: content/tasks.
    tasks_dir: Path | None = Field(default=None, validation_alias="KOMOREBI_TASKS_DIR")

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("coordinators", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            try:
                return frozenset(int(part) for part in parts)
            except ValueError as exc:
                raise ValueError("KOMOREBI_COORDINATORS takes comma-separated numeric Telegram user ids") from exc
        return value

    @property
    def api_base_file_url(self) -> str:
        """The file URL that belongs to the configured Bot API server."""
        base = self.telegram_api_base_url
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base.rstrip("/") + "/file/bot"
