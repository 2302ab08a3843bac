"""`wecom-bot run`: the Procfile's three processes on one machine, with the embedded Redis.

With nothing configured (no WECOM_CORP_ID, no BOT_GROUPS, no env file) it loads
config/demo.env: one demo group, talking to the simulator that the web process serves at
/_sim/cgi-bin/, so a newcomer sees the whole service run without any WeCom account.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path

from honcho.manager import Manager
from honcho.printer import Printer

import config.settings as settings_mod
from config import readiness, running
from wecom_bot.terminal import sources_of
from workers.connection import redis_url, stop_embedded

ROOT = Path(__file__).resolve().parents[2]  # the checkout: Procfile, config/demo.env


def _procfile() -> list[tuple[str, str]]:
    out = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            name, cmd = line.split(":", 1)
            out.append((name.strip(), cmd.strip()))
    return out


def port_busy(host: str, port: int) -> str:
    """Why `host:port` cannot be listened on (another process has it), or "" when it is free. Bound
    the way gunicorn binds (SO_REUSEADDR), so a port only in TIME_WAIT counts as free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "in use by another process"
            return exc.strerror or str(exc)
    return ""


def busy_text(port: int, host: str, why: str) -> str:
    other = port + 1 if port < 65535 else 8001
    return (
        f"wecom-bot: port {port} on {host} is not free ({why}): is the service already running?\n"
        f"  Stop it, or pick another port: `scripts/run --port {other}` (or `PORT={other} scripts/run`,"
        f" `wecom-bot run --port {other}`)."
    )


def run(port: int | None = None) -> int:
    """The Procfile's processes under honcho until they end; with nothing configured, the demo group."""
    env = dict(os.environ)
    nothing_configured = (
        not any(env.get(k) for k in ("WECOM_CORP_ID", "BOT_GROUPS", "BOT_ENV_FILE")) and not Path(".env").is_file()
    )
    if nothing_configured:
        env["BOT_ENV_FILE"] = str(ROOT / "config" / "demo.env")
        os.environ["BOT_ENV_FILE"] = env["BOT_ENV_FILE"]
    env["PORT"] = str(port or env.get("PORT") or 8000)
    if not env["PORT"].isdigit() or not 0 < int(env["PORT"]) < 65536:
        print(f"wecom-bot: PORT={env['PORT']!r}: expected a port number such as 8000", file=sys.stderr)
        return 2
    os.environ["PORT"] = env["PORT"]
    settings_mod.reset()
    settings = settings_mod.get_settings()
    if settings.problems:
        print("configuration problems (run `wecom-bot check-config`):", file=sys.stderr)
        for p in settings.problems:
            print("  " + p, file=sys.stderr)
        return 2
    bind = env.get("BOT_BIND") or ("127.0.0.1" if settings.simulated else "0.0.0.0")
    busy = port_busy(bind, int(env["PORT"]))
    if busy:
        print(busy_text(int(env["PORT"]), bind, busy), file=sys.stderr)
        return 2
    for gap in readiness.gaps(settings, sources_of(settings)):
        print(f"wecom-bot: warning: {gap}", file=sys.stderr)
    # a `wecom-bot` command in another terminal reads the same settings (config/running.py)
    running.remember(running.in_effect(env))
    env["REDIS_URL"] = redis_url()  # start the embedded Redis once, share it with every process
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    base = f"http://127.0.0.1:{env['PORT']}"
    print(f"wecom-bot: web on {base}, listening on {bind}  (callbacks: {base}/wecom/robot and {base}/wecom/callback)")
    where = env["REDIS_URL"] if settings.redis_url else "embedded, " + settings.data_dir + "/redis"
    print(f"wecom-bot: Redis at {where}")
    if settings.simulated:
        print(
            f"wecom-bot: no WeCom account configured: using the built-in simulator. Post as a member and "
            f"see what the bot sends at {base}/_sim/"
        )
        print(f"wecom-bot: the leader console: {base}/console/ (the simulator asks who you are)")
        print("wecom-bot: try `wecom-bot demo` in another terminal for a scripted camp week")
    if settings.simulated:
        env.setdefault("WEB_CONCURRENCY", "1")  # the simulator keeps what it received in memory
        if not settings.public_url:  # the digests link to the console on this machine
            env["BOT_PUBLIC_URL"] = base
        # the simulator's keys are public (config/demo.env): anyone who reaches the port could post as
        # any leader, so it listens on this machine only unless BOT_BIND says otherwise
        env.setdefault("BOT_BIND", "127.0.0.1")
    manager = Manager(Printer(sys.stdout))
    for name, cmd in _procfile():
        manager.add_process(name, cmd, env=env)
    try:
        manager.loop()
    finally:
        if not settings.redis_url:
            # the embedded Redis goes with the processes that used it (its data stays on disk, AOF)
            stop_embedded(settings.data_dir)
    return manager.returncode or 0
