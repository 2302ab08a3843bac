"""The one loader of the Lua scripts in workers/lua/: `script(name, r)`, registered once per client."""

from __future__ import annotations

from pathlib import Path

import redis
from redis.commands.core import Script

LUA_DIR = Path(__file__).parent / "lua"

_LUA: dict[tuple[str, int], Script] = {}


def script(name: str, r: redis.Redis) -> Script:
    """A registered Lua script from workers/lua, loaded once per client."""
    key = (name, id(r))
    if key not in _LUA:
        _LUA[key] = r.register_script((LUA_DIR / f"{name}.lua").read_text())
    return _LUA[key]
