"""Shared fixtures: a real redis-server of our own on a free port, the WeCom simulator on loopback."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

import config.settings as settings_mod
from bench.common import free_port
from workers import connection, jobs


class RedisServer:
    """A redis-server process the tests own: they may stop, restart, kill and flush it."""

    def __init__(self, directory: Path, port: int | None = None, extra: tuple[str, ...] = ()):
        self.dir = directory
        self.port = port or free_port()
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        exe = shutil.which("redis-server")
        if not exe:
            pytest.skip("redis-server is not installed")
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--appendonly", "no", *self.extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.RedisError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def r(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


BASE_ENV = {
    "BOT_ENV_FILE": "/nonexistent/.env",
    "BOT_TIMEZONE": "Asia/Shanghai",
    "BOT_ADMINS": "admin1",
    # the tests replay callbacks signed at fixed instants (2024, 2026...): no freshness window, except
    # in the tests of the window itself (tests/test_trust.py)
    "BOT_CALLBACK_MAX_AGE": "0",
}


@pytest.fixture
def env(monkeypatch, redis_server, r):
    """Point the service at the test Redis, with no env file; returns a setter for more variables."""
    for name in list(__import__("os").environ):
        if name.startswith(("WECOM_", "BOT_", "GROUP_")) or name == "REDIS_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    for k, v in BASE_ENV.items():
        monkeypatch.setenv(k, v)

    def set_env(**values):
        for k, v in values.items():
            monkeypatch.setenv(k, str(v))
        settings_mod.reset()
        connection.reset_clients()
        return settings_mod.get_settings()

    settings_mod.reset()
    connection.reset_clients()
    jobs.set_inline(True)
    yield set_env
    jobs.set_inline(False)
    settings_mod.reset()
    connection.reset_clients()


# -- the WeCom simulator (added for tests/test_outbound.py) -------------------------------------------
SIM_CORP_ID = "wwtestcorp"
SIM_AGENT_ID = "1000002"
SIM_SECRET = "sim-secret-0123456789abcdef"
SIM_ROBOT_KEY = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
def sim(env):
    """The simulator on loopback, and the service pointed at it: group `xhs01` has a robot
    (SIM_ROBOT_KEY), group `xhs02` has none (posts go through appchat/send to chat `wrchat02`)."""
    from wecom_bot.simulator import SimState, SimulatorServer

    state = SimState(corp_id=SIM_CORP_ID, secret=SIM_SECRET, agent_id=SIM_AGENT_ID,
                     valid_keys={SIM_ROBOT_KEY}, timeout_seconds=1.5)
    server = SimulatorServer(state)
    env(WECOM_API_BASE_URL=server.base_url, WECOM_CORP_ID=SIM_CORP_ID, WECOM_AGENT_ID=SIM_AGENT_ID,
        WECOM_SECRET=SIM_SECRET, BOT_HTTP_TIMEOUT="0.5",
        BOT_GROUPS="xhs01,xhs02",
        GROUP_XHS01_CHAT_ID="wrchat01", GROUP_XHS01_NAME="小红书01", GROUP_XHS01_LEADERS="leader1",
        GROUP_XHS01_WEBHOOK_KEY=SIM_ROBOT_KEY,
        GROUP_XHS02_CHAT_ID="wrchat02", GROUP_XHS02_NAME="小红书02", GROUP_XHS02_LEADERS="leader2")
    yield server
    server.stop()
