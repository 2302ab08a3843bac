"""Settings read from the environment and an optional env file.

Real environment variables win over the env file. `load()` never raises for a bad value: it
records a problem naming the exact variable, keeps a safe default, and `check-config` prints
the problems. Anything that runs for real calls `load(strict=True)` instead.

What the settings hold is config/model.py; how a variable is read, config/env.py; each section's
variables, config/sections.py, config/archive.py and config/camp_words.py. Callers import all of it from here.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.archive import load_archive
from config.camp_words import load_camp_words
from config.env import WEEKDAYS, Env, EnvPath, parse_slot, read_environment
from config.model import (
    DAILY_SLOTS,
    DEFAULT_API_BASE_URL,
    DEV_AES_KEY,
    DEV_CORP_ID,
    DEV_TOKEN,
    SECRET_VARS,
    SIM_PATH,
    SLOT_DEFAULTS,
    SLOTS,
    WEEKLY_SLOTS,
    ConfigError,
    Group,
    Settings,
    Slot,
)
from config.sections import (
    load_camp,
    load_groups,
    load_schedule,
    load_service,
    load_wecom,
    load_weekly,
)

__all__ = [
    "DAILY_SLOTS",
    "DEFAULT_API_BASE_URL",
    "DEV_AES_KEY",
    "DEV_CORP_ID",
    "DEV_TOKEN",
    "SECRET_VARS",
    "SIM_PATH",
    "SLOT_DEFAULTS",
    "SLOTS",
    "WEEKDAYS",
    "WEEKLY_SLOTS",
    "ConfigError",
    "Group",
    "Settings",
    "Slot",
    "get_settings",
    "load",
    "parse_slot",
    "read_environment",
    "reset",
]


def load(environ: Mapping[str, str] | None = None, env_file: EnvPath | None = None, strict: bool = False) -> Settings:
    s = Settings()
    env = Env(read_environment(environ, env_file), s.problems)
    load_service(env, s)
    load_wecom(env, s)
    load_camp(env, s)
    load_groups(env, s, load_schedule(env))
    load_archive(env, s)
    load_camp_words(env, s)
    load_weekly(env, s)
    if strict and s.problems:
        raise ConfigError(s.problems)
    return s


_cached: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, loaded once. Tests call `reset()` after changing the environment."""
    global _cached
    if _cached is None:
        _cached = load()
    return _cached


def reset(settings: Settings | None = None) -> None:
    global _cached
    _cached = settings
