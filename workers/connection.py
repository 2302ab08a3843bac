"""The Redis connection every process shares, and the embedded Redis used when REDIS_URL is unset.

One embedded server per data directory: the first process to need it starts `redis-server` on a
unix socket under BOT_DATA_DIR (with AOF on), the others find it running. A file lock keeps two
processes that start at the same moment from starting two servers.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

import redis

from config.settings import get_settings

_clients: dict[str, redis.Redis] = {}


def redis_url() -> str:
    settings = get_settings()
    if settings.redis_url:
        return settings.redis_url
    return ensure_embedded(settings.data_dir)


def get_redis() -> redis.Redis:
    """A bytes-mode client (RQ needs bytes), shared per process and per URL."""
    url = redis_url()
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
        _clients[url] = client
    return client


def as_text(raw: object) -> str:
    """A value read through the shared client (bytes mode), as text."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def reset_clients() -> None:
    for client in _clients.values():
        client.close()
    _clients.clear()


def ensure_embedded(data_dir: str) -> str:
    base = Path(data_dir).resolve() / "redis"
    base.mkdir(parents=True, exist_ok=True)
    sock = base / "redis.sock"
    url = f"unix://{sock}"
    if _alive(url):
        return url
    server = shutil.which("redis-server")
    if not server:
        raise RuntimeError(
            "REDIS_URL is not set and no redis-server is on PATH: install redis-server "
            "(apt-get install redis-server) or set REDIS_URL"
        )
    with open(base / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _alive(url):
            return url
        if sock.exists():
            sock.unlink()
        conf = Path(__file__).resolve().parent.parent / "config" / "redis.conf"
        args = [server]
        if conf.is_file():
            args.append(str(conf))
        args += [
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(base),
            "--daemonize",
            "yes",
            "--pidfile",
            str(base / "redis.pid"),
            "--logfile",
            str(base / "redis.log"),
        ]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _alive(url):
                return url
            time.sleep(0.05)
    raise RuntimeError(f"the embedded redis-server did not start; see {base / 'redis.log'}")


def _alive(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def stop_embedded(data_dir: str) -> None:
    pidfile = Path(data_dir).resolve() / "redis" / "redis.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), 15)
        except (ValueError, ProcessLookupError):
            pass
