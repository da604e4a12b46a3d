"""Function settings, validated once from the environment. Nothing else in ProdLens reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from prodlens.errors import ConfigurationError

DEFAULT_MAX_OBJECT_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class Settings:
    raw_bucket: str
    lake_bucket: str
    state_table: str
    glue_database: str
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    holidays: tuple[date, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        missing = [name for name in ("RAW_BUCKET", "LAKE_BUCKET", "STATE_TABLE", "GLUE_DATABASE") if not env.get(name)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        try:
            max_bytes = int(env.get("MAX_OBJECT_BYTES") or DEFAULT_MAX_OBJECT_BYTES)
        except ValueError as e:
            raise ConfigurationError(f"MAX_OBJECT_BYTES is not an integer: {env.get('MAX_OBJECT_BYTES')!r}") from e
        if max_bytes <= 0:
            raise ConfigurationError("MAX_OBJECT_BYTES must be positive")
        holidays = parse_holidays(env.get("HOLIDAYS", ""))
        return cls(env["RAW_BUCKET"], env["LAKE_BUCKET"], env["STATE_TABLE"], env["GLUE_DATABASE"], max_bytes, holidays)


def parse_holidays(text: str) -> tuple[date, ...]:
    """Company holidays from 'YYYY-MM-DD,YYYY-MM-DD' (blank: none), sorted and distinct."""
    days = set()
    for part in text.split(","):
        day = part.strip()
        if not day:
            continue
        try:
            days.add(date.fromisoformat(day))
        except ValueError as e:
            raise ConfigurationError(f"HOLIDAYS holds {day!r}, not a YYYY-MM-DD day") from e
    return tuple(sorted(days))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env(os.environ)
