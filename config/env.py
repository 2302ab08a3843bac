"""Reading the environment: the env file under the real environment, one variable at a time.

`Env` never raises for a bad value: it records a problem naming the exact variable and hands back
the default. The value parsers (`parse_slot`, `parse_quiet`, `people`, `csv`) are shared by the
section loaders of config/sections.py.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from config.model import Slot

WEEKDAYS = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "周一": 0,
    "周二": 1,
    "周三": 2,
    "周四": 3,
    "周五": 4,
    "周六": 5,
    "周日": 6,
    "周天": 6,
}
USERID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
GROUP_KEY = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

EnvPath = str | os.PathLike[str]


def read_environment(environ: Mapping[str, str] | None = None, env_file: EnvPath | None = None) -> dict[str, str]:
    """The env file (BOT_ENV_FILE, default ./.env) overlaid by the real environment."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(env_file or environ.get("BOT_ENV_FILE") or ".env")
    merged: dict[str, str] = {}
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        # python-dotenv's ${VAR} interpolation copies the environment once per variable, which
        # takes minutes for a camp of 10,000 groups: only pay for it when the file uses it.
        values = dotenv_values(stream=io.StringIO(text), interpolate="${" in text)
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(environ)
    return merged


class Env:
    """The merged environment, read variable by variable into `problems`."""

    def __init__(self, values: Mapping[str, str], problems: list[str]):
        self.values = values
        self.problems = problems

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def names(self) -> list[str]:
        return sorted(self.values)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default).strip()

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get(name)
        if not raw:
            return default
        try:
            value: int | None = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            self.problem(f"{name}={raw!r}: expected a whole number from {low} to {high}")
            return default
        return value

    def timezone(self, name: str, default: str) -> str:
        raw = self.get(name) or default
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(f"{name}={raw!r}: not an IANA timezone (e.g. Asia/Shanghai, Europe/Berlin)")
            return default
        return raw

    def day(self, name: str) -> date | None:
        raw = self.get(name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.problem(f"{name}={raw!r}: expected a date YYYY-MM-DD")
            return None


def csv(value: str | None) -> tuple[str, ...]:
    """`a, b，c` -> ("a", "b", "c"): commas (full-width too), items stripped, empty ones dropped."""
    return tuple(p.strip() for p in (value or "").replace("，", ",").split(",") if p.strip())


def parse_slot(text: str, weekly: bool) -> Slot | None:
    """`HH:MM` (daily) or `wed 20:00` / `周三 20:00` (weekly); `off` gives None; ValueError otherwise."""
    text = text.strip()
    if text.lower() == "off":
        return None
    weekday = None
    if weekly:
        parts = text.split()
        if len(parts) != 2 or parts[0].lower()[:3] not in WEEKDAYS and parts[0] not in WEEKDAYS:
            raise ValueError("expected a weekday and a time, e.g. `wed 20:00` or `周三 20:00`, or `off`")
        day = parts[0] if parts[0] in WEEKDAYS else parts[0].lower()[:3]
        weekday, text = WEEKDAYS[day], parts[1]
    m = _HHMM.match(text)
    if not m:
        after = " after the weekday" if weekly else ""
        raise ValueError(f"expected a time HH:MM (00:00-23:59){after}, or `off`")
    return Slot(int(m.group(1)), int(m.group(2)), weekday)


def parse_quiet(text: str) -> tuple[int, int, int, int] | None:
    """`22:30-08:00` -> (22, 30, 8, 0); `off` gives None; ValueError otherwise."""
    if text.strip().lower() == "off":
        return None
    a, sep, b = text.partition("-")
    ma, mb = _HHMM.match(a.strip()), _HHMM.match(b.strip())
    if not sep or not ma or not mb:
        raise ValueError("expected `HH:MM-HH:MM`, e.g. 22:30-08:00, or `off`")
    return int(ma.group(1)), int(ma.group(2)), int(mb.group(1)), int(mb.group(2))


def people(value: str | None) -> tuple[tuple[str, ...], dict[str, str]]:
    """`lulu:小鹿,qing,momo：Momo` -> (("lulu", "qing", "momo"), {"lulu": "小鹿", "momo": "Momo"})."""
    ids: list[str] = []
    names: dict[str, str] = {}
    for item in csv(value):
        uid, _, name = item.replace("：", ":").partition(":")
        uid, name = uid.strip(), name.strip()
        ids.append(uid)
        if name:
            names[uid] = name
    return tuple(ids), names
