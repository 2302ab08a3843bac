"""Which env file the service on this machine runs with, so that the command line finds it.

`wecom-bot run` (and so `scripts/run`) writes the absolute path of its env file to
`var/service-env-file` when it starts (config/demo.env when nothing is configured). A `wecom-bot`
command in a second terminal, with BOT_ENV_FILE unset and no ./.env, reads the same file
(wecom_bot/cli.py), so that `wecom-bot stats demo` works there as it does in the service. Paths are
relative to the current directory, like ./.env and the embedded Redis under var/.
"""

from __future__ import annotations

import os
from pathlib import Path

MARKER = Path("var") / "service-env-file"


def remember(env_file: str | os.PathLike[str] | None, marker: Path = MARKER) -> None:
    """Note the env file the service starts with; None (the environment alone) forgets an older one."""
    if env_file is None:
        marker.unlink(missing_ok=True)
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(str(Path(env_file).resolve()) + "\n", encoding="utf-8")
    tmp.replace(marker)


def recalled(marker: Path = MARKER) -> Path | None:
    """The env file the service last started with, when it still exists."""
    try:
        path = Path(marker.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return path if path.is_absolute() and path.is_file() else None


def in_effect(environ: dict[str, str] | os._Environ[str]) -> Path | None:
    """The env file settings are read from (config/env.py read_environment): BOT_ENV_FILE, else ./.env."""
    named = environ.get("BOT_ENV_FILE")
    if named:
        return Path(named) if Path(named).is_file() else None
    return Path(".env") if Path(".env").is_file() else None
