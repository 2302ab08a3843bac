"""Shared plumbing for the benchmarks: a private redis-server, the service's environment, child
processes that are always cleaned up, percentiles, and the result rows that bench/run.py prints.

Nothing here touches the operator's Redis, env file or processes: every benchmark starts its own
redis-server on a free port in a temp dir (config/redis.conf: AOF, fsync every second), passes its own environment
to the processes it starts (no inherited WECOM_*/BOT_*/GROUP_*/REDIS_URL, BOT_ENV_FILE always
explicit), and stops exactly the processes it started.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis

import config.settings as settings_mod
from workers import connection, jobs

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent

# Callback secrets and app credentials used only by the benchmarks (never a real corp).
ROBOT_TOKEN = "benchRobotToken01"
ROBOT_AES_KEY = "Bench0123456789abcdefghijklmnopqrstuvwxyzAB"  # 43 characters
CORP_ID = "wwbenchcorp"
AGENT_ID = "1000002"
SECRET = "bench-secret-0123456789abcdef"
assert len(ROBOT_AES_KEY) == 43


# -- result rows ------------------------------------------------------------------------------------
@dataclass
class Row:
    bench: str
    metric: str
    value: str
    baseline: str = ""  # the baseline measured in the same run, or the reference it is compared with
    target: str = ""
    status: str = "info"  # met | missed | info | skipped | error


@dataclass
class Result:
    name: str
    rows: list[Row] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def row(self, metric: str, value, baseline: str = "", target: str = "", status: str = "info") -> Row:
        r = Row(self.name, metric, str(value), baseline, target, status)
        self.rows.append(r)
        return r

    def as_json(self) -> dict:
        return {"name": self.name, "rows": [asdict(r) for r in self.rows], "data": self.data}


def met(ok: bool) -> str:
    return "met" if ok else "missed"


# -- small helpers ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args[0]} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout:.0f} s")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (p in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def fmt_num(x: float, digits: int = 0) -> str:
    if x != x:  # NaN
        return "n/a"
    return f"{x:,.{digits}f}"


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (from /proc/stat), whoever uses them."""

    def snap():
        vals = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(vals), vals[3] + (vals[4] if len(vals) > 4 else 0)

    try:
        t1, i1 = snap()
        time.sleep(seconds)
        t2, i2 = snap()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return 1.0 - (i2 - i1) / max(1, t2 - t1)


class CpuMeter:
    """CPU used during a window by the whole machine, by this process's tree (every descendant,
    including those that exited and were waited for), and by everything else ("foreign": other
    people's processes on a shared machine, which skew the figures)."""

    def __init__(self):
        self._tick = os.sysconf("SC_CLK_TCK")
        self.start()

    @staticmethod
    def _procs() -> dict[int, tuple[int, int]]:
        out = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                raw = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            rest = raw[raw.rfind(")") + 2 :].split()
            out[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))  # ppid, utime + stime
        return out

    def _ours(self, procs: dict[int, tuple[int, int]]) -> set[int]:
        me = os.getpid()
        ours, changed = {me}, True
        while changed:
            changed = False
            for pid, (ppid, _) in procs.items():
                if ppid in ours and pid not in ours:
                    ours.add(pid)
                    changed = True
        return ours

    @staticmethod
    def _total() -> tuple[int, int]:
        vals = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(vals), vals[3] + vals[4]

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.total0 = self._total()
        self.procs0 = self._procs()
        self.ours0 = self._ours(self.procs0)
        ru = os.times()
        self.children0 = ru.children_user + ru.children_system

    def stop(self) -> dict:
        total1 = self._total()
        procs1 = self._procs()
        ours1 = self._ours(procs1)
        ru = os.times()
        children = ru.children_user + ru.children_system - self.children0
        ours = 0.0
        for pid in ours1 | self.ours0:
            if pid in procs1 and (pid in ours1):
                before = self.procs0.get(pid, (0, 0))[1] if pid in self.procs0 else 0
                ours += (procs1[pid][1] - before) / self._tick
        ours += children
        ncpu = os.cpu_count() or 1
        all_ticks = total1[0] - self.total0[0]
        busy_ticks = all_ticks - (total1[1] - self.total0[1])
        wall = time.monotonic() - self.t0
        busy = busy_ticks / self._tick
        foreign = max(0.0, busy - ours)
        return {
            "wall": wall,
            "busy_cpu_s": busy,
            "ours_cpu_s": ours,
            "foreign_cpu_s": foreign,
            "foreign_share": foreign / max(1e-9, wall * ncpu),
        }


def proc_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) one process has used so far."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    rest = raw[raw.rfind(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def machine_info() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    redis_version = ""
    exe = shutil.which("redis-server")
    if exe:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"v=(\S+)", out)
        redis_version = m.group(1) if m else out.strip()
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        wrk_version = (out.stdout + out.stderr).strip().splitlines()[0] if (out.stdout + out.stderr).strip() else ""
    return {
        "cpu_count": os.cpu_count(),
        "nproc": nproc,
        "cpu_model": model,
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "redis_server": redis_version,
        "wrk": wrk_version,
    }


# -- the environment of everything the benchmarks start ---------------------------------------------
def clean_environ() -> dict[str, str]:
    """os.environ without anything that configures the service (so an operator's settings never leak
    into a benchmark), plus PYTHONPATH so that child processes import this checkout and bench/."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WECOM_", "BOT_", "GROUP_")) and k not in ("REDIS_URL", "PORT")
    }
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def service_env(
    redis_url: str, env_file: Path | str, api_base_url: str = "http://127.0.0.1:9/cgi-bin/", **extra: str
) -> dict[str, str]:
    """The variables the service reads, for a benchmark: its Redis, its env file, bench credentials."""
    env = {
        "REDIS_URL": redis_url,
        "BOT_ENV_FILE": str(env_file),
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": AGENT_ID,
        "WECOM_SECRET": SECRET,
        "WECOM_API_BASE_URL": api_base_url,
        "WECOM_ROBOT_TOKEN": ROBOT_TOKEN,
        "WECOM_ROBOT_ENCODING_AES_KEY": ROBOT_AES_KEY,
        "BOT_TIMEZONE": "Asia/Shanghai",
        "BOT_ADMINS": "benchadmin",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class InProcessEnv:
    """Point this process's copy of the service (config.settings, workers.connection) at a benchmark's
    Redis and env file; restores os.environ and resets the cached settings and clients on exit."""

    def __init__(self, values: dict[str, str]):
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self):
        for k in list(os.environ):
            if k.startswith(("WECOM_", "BOT_", "GROUP_")) or k in ("REDIS_URL", "PORT"):
                self.saved.setdefault(k, os.environ.pop(k))
        for k, v in self.values.items():
            self.saved.setdefault(k, os.environ.get(k))
            os.environ[k] = v
        _reset_service()
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_service()


def _reset_service() -> None:
    settings_mod.reset()
    connection.reset_clients()
    jobs.set_inline(False)


# -- groups ------------------------------------------------------------------------------------------
CN_NAMES = ("小鹿", "阿青", "婷婷", "阿强", "Momo", "小雨", "晓峰", "佳佳", "大橙", "木木", "小白", "Lily")


def member_id(i: int) -> str:
    return f"u{i:05d}"


def display_name(i: int) -> str:
    return f"{CN_NAMES[i % len(CN_NAMES)]}{i:05d}"


def group_key(i: int) -> str:
    return f"g{i:05d}"


def chat_id(i: int) -> str:
    return f"wrbenchchat{i:05d}"


def webhook_key(i: int) -> str:
    return f"bench-robot-{i:06d}-0a1b2c3d"


def write_groups_env(
    path: Path, n_groups: int, members_per_group: int, webhook: bool = False, extra: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """An env file (BOT_ENV_FILE) with n_groups groups g00000.. of members_per_group members each,
    one leader each; returns {group key: [member userids]}."""
    lines = [f"BOT_GROUPS={','.join(group_key(g) for g in range(n_groups))}"]
    for k, v in (extra or {}).items():
        lines.append(f"{k}={v}")
    groups: dict[str, list[str]] = {}
    for g in range(n_groups):
        key = group_key(g)
        p = f"GROUP_{key.upper()}_"
        members = [member_id(g * members_per_group + m) for m in range(members_per_group)]
        groups[key] = members
        lines += [
            f"{p}CHAT_ID={chat_id(g)}",
            f"{p}NAME=训练营{g:05d}组",
            f"{p}LEADERS=lead{g:05d}",
            f"{p}MEMBERS={','.join(members)}",
        ]
        if webhook:
            lines.append(f"{p}WEBHOOK_KEY={webhook_key(g)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return groups


# -- processes ----------------------------------------------------------------------------------------
class Procs:
    """Child processes of one benchmark; each is terminated (then killed) by its own pid on close."""

    def __init__(self, stack: ExitStack, workdir: Path):
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []
        stack.callback(self.stop_all)

    def start(
        self, args: list[str], env: dict[str, str], name: str, cwd: Path = ROOT, stdout_to_file: bool = True
    ) -> subprocess.Popen:
        with ExitStack() as files:  # the child keeps its own copies of the descriptors
            out, err = subprocess.DEVNULL, subprocess.DEVNULL
            if stdout_to_file:
                out = files.enter_context(open(self.workdir / f"{name}.out", "ab"))
                err = files.enter_context(open(self.workdir / f"{name}.err", "ab"))
            proc = subprocess.Popen(
                args, env=env, cwd=str(cwd), stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
            )
        proc.bench_name = name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            except ProcessLookupError:
                pass
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)

    def tail(self, name: str, lines: int = 20) -> str:
        text = ""
        for suffix in ("err", "out"):
            p = self.workdir / f"{name}.{suffix}"
            if p.exists():
                text += "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text


REDIS_CONF = ROOT / "config" / "redis.conf"


class RedisServer:
    """A redis-server of our own on a free port in a temp dir, with the production persistence of
    config/redis.conf (AOF, appendfsync everysec: what "durably in Redis" means for a 200), so that
    the write cost of durability is in every figure; persist=False for a bare in-memory server."""

    def __init__(self, directory: Path, procs: Procs, extra: tuple[str, ...] = (), persist: bool = True):
        exe = shutil.which("redis-server")
        if not exe:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.dir = directory / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.persist = persist and REDIS_CONF.is_file()
        conf = [str(REDIS_CONF)] if self.persist else []
        durability = ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        # The service's own embedded Redis (REDIS_URL unset) listens on a unix socket; a REDIS_URL
        # deployment talks TCP. Default here: TCP (the dearer of the two); bench/run.py --redis-unix.
        self.sock = self.dir / "redis.sock" if os.environ.get("BENCH_REDIS_SOCKET") == "unix" else None
        sock_args = ["--unixsocket", str(self.sock), "--unixsocketperm", "700"] if self.sock else []
        args = [
            exe,
            *conf,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            *durability,
            *sock_args,
            "--logfile",
            str(self.dir / "redis.log"),
            *extra,
        ]
        self.proc = procs.start(args, clean_environ(), "redis")
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        client.close()

    @property
    def url(self) -> str:
        """What the service's processes are given as REDIS_URL."""
        return f"unix://{self.sock}" if self.sock else f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=30)


def own_service_redis(stack: ExitStack, name: str, keep: bool = False) -> tuple[Path, Procs, RedisServer, redis.Redis]:
    """A benchmark's temp dir, its list of processes (stopped on exit), its own redis-server and a client
    of it (closed on exit)."""
    workdir = temp_workdir(stack, name, keep=keep)
    procs = Procs(stack, workdir)
    rs = RedisServer(workdir, procs)
    r = rs.client()
    stack.callback(r.close)
    return workdir, procs, rs, r


def temp_workdir(stack: ExitStack, name: str, keep: bool = False) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"wb-bench-{name}-"))
    if not keep:
        stack.callback(shutil.rmtree, path, True)
    return path


# -- the Procfile --------------------------------------------------------------------------------------
def procfile_web_args(port: int, app_spec: str | None = None, environ: dict[str, str] | None = None) -> list[str]:
    """The Procfile's `web:` command with its ${VAR:-default}s expanded, bound to 127.0.0.1:port,
    optionally serving another app (the floor) with the same flags."""
    environ = environ if environ is not None else {}
    line = next(text for text in (ROOT / "Procfile").read_text().splitlines() if text.startswith("web:"))
    cmd = line.split(":", 1)[1].strip()

    def expand(m: re.Match) -> str:
        name, default = m.group(1), m.group(2) or ""
        return environ.get(name) or default

    cmd = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}", expand, cmd)
    args = shlex.split(cmd)
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("--bind", "-b"):
            out += [a, f"127.0.0.1:{port}"]
            skip = True
            continue
        if a.startswith("--bind="):
            out.append(f"--bind=127.0.0.1:{port}")
            continue
        out.append(a)
    if app_spec is not None:
        out[-1] = app_spec  # the app is the last argument of the Procfile's web command
    exe = VENV_BIN / out[0]
    if exe.exists():
        out[0] = str(exe)
    return out


def wecom_bot_cmd() -> list[str]:
    exe = VENV_BIN / "wecom-bot"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "wecom_bot"]


def wait_workers(r: redis.Redis, n: int, timeout: float = 30.0, procs: list[subprocess.Popen] | None = None) -> None:
    """Until n RQ workers have registered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if r.scard("rq:workers") >= n:
            return
        for p in procs or []:
            if p.poll() is not None:
                raise RuntimeError(f"worker exited with {p.returncode} before registering")
        time.sleep(0.05)
    raise RuntimeError(f"{n} RQ worker(s) did not register within {timeout:.0f} s")


def start_sim_server(procs: Procs, workdir: Path, latency: float) -> tuple[subprocess.Popen, str]:
    """The WeCom API stand-in (bench/sim_server.py) in a process of its own, answering each call
    after `latency` seconds; returns the process and its base URL once it listens."""
    url_file = workdir / "sim.url"
    sim = procs.start(
        [sys.executable, "-m", "bench.sim_server", "--latency", str(latency), "--url-file", str(url_file)],
        clean_environ(),
        "simulator",
    )
    deadline = time.monotonic() + 20
    while not url_file.exists():
        if sim.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"simulator did not start\n{procs.tail('simulator')}")
        time.sleep(0.05)
    return sim, url_file.read_text().strip()
