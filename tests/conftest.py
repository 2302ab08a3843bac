"""Shared fixtures: a real redis-server of our own on a free port, the WeCom simulator on loopback, and
`examples` for texts worth reading (shown at the end of the run, not among the progress dots)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis

import config.settings as settings_mod
from bench.common import free_port
from wecom_bot.sim.simulator import SimState, SimulatorServer
from workers import connection, jobs

ROOT = Path(__file__).resolve().parent.parent


def redis_required() -> bool:
    """In CI (CI set) and under scripts/test (TESTS_REQUIRE_REDIS=1) a missing redis-server is an error:
    scripts/setup installs one, so its absence means the setup is broken, not that the tests may pass."""
    return any(
        os.environ.get(name, "").strip() not in ("", "0", "false", "no") for name in ("CI", "TESTS_REQUIRE_REDIS")
    )


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

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        if not exe:
            if redis_required():
                pytest.fail(
                    "redis-server is not on PATH (scripts/setup installs it); the tests need a real Redis",
                    pytrace=False,
                )
            pytest.skip("redis-server is not installed")
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [
            exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "no",
            *self.extra,
        ]
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
    # text only: the tests that count messages expect no pictures; tests/test_pictures*.py turn them on
    "BOT_FONT_PATH": "off",
}


@pytest.fixture
def env(monkeypatch, redis_server, r):
    """Point the service at the test Redis, with no env file; returns a setter for more variables."""
    for name in list(os.environ):
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


# -- the WeCom simulator ---------------------------------------------------------------------------
SIM_CORP_ID = "wwtestcorp"
SIM_AGENT_ID = "1000002"
SIM_SECRET = "sim-secret-0123456789abcdef"
SIM_ROBOT_KEY = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
def sim(env):
    """The simulator on loopback, and the service pointed at it: group `xhs01` has a robot
    (SIM_ROBOT_KEY), group `xhs02` has none (posts go through appchat/send to chat `wrchat02`)."""
    state = SimState(
        corp_id=SIM_CORP_ID, secret=SIM_SECRET, agent_id=SIM_AGENT_ID, valid_keys={SIM_ROBOT_KEY}, timeout_seconds=1.5
    )
    server = SimulatorServer(state)
    env(
        WECOM_API_BASE_URL=server.base_url,
        WECOM_CORP_ID=SIM_CORP_ID,
        WECOM_AGENT_ID=SIM_AGENT_ID,
        WECOM_SECRET=SIM_SECRET,
        BOT_HTTP_TIMEOUT="0.5",
        BOT_GROUPS="xhs01,xhs02",
        GROUP_XHS01_CHAT_ID="wrchat01",
        GROUP_XHS01_NAME="小红书01",
        GROUP_XHS01_LEADERS="leader1",
        GROUP_XHS01_WEBHOOK_KEY=SIM_ROBOT_KEY,
        GROUP_XHS02_CHAT_ID="wrchat02",
        GROUP_XHS02_NAME="小红书02",
        GROUP_XHS02_LEADERS="leader2",
    )
    yield server
    server.stop()


# -- texts worth reading ------------------------------------------------------------------------------
EXAMPLES_FILE = ROOT / "var" / "test-examples.txt"
_EXAMPLES: list[tuple[str, str, str]] = []  # (test, title, text)


class Examples:
    """`examples.show(title, text)` from a test: what the bot said in a scenario, for a person to read.
    At the end of the run the texts are written to var/test-examples.txt and, with `-s` or
    SHOW_EXAMPLES=1, printed in a section of the summary; never among the progress dots."""

    def __init__(self, nodeid: str):
        self.nodeid = nodeid

    def show(self, title: str, text: str) -> None:
        _EXAMPLES.append((self.nodeid, title, text))


@pytest.fixture
def examples(request) -> Examples:
    return Examples(request.node.nodeid)


def _examples_text() -> str:
    out = [f"Texts shown by the tests, {datetime.now():%Y-%m-%d %H:%M}.\n"]
    for nodeid, title, text in _EXAMPLES:
        out.append(f"--- {title} ({nodeid}) ---\n{text}\n")
    return "\n".join(out)


def pytest_terminal_summary(terminalreporter, config):
    if not _EXAMPLES:
        return
    EXAMPLES_FILE.parent.mkdir(parents=True, exist_ok=True)
    EXAMPLES_FILE.write_text(_examples_text(), encoding="utf-8")
    shown = EXAMPLES_FILE.relative_to(ROOT)
    if config.getoption("capture") == "no" or os.environ.get("SHOW_EXAMPLES", "") not in ("", "0"):
        terminalreporter.write_sep("-", f"example texts (also in {shown})")
        for _test, title, text in _EXAMPLES:
            terminalreporter.write_line(f"\n--- {title} ---\n{text}")
    else:
        terminalreporter.write_line(
            f"{len(_EXAMPLES)} example texts written to {shown} (printed here with -s or SHOW_EXAMPLES=1)"
        )
