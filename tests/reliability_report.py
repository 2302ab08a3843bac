"""The reliability evidence, "nothing lost, nothing doubled, nothing forged": a pytest plugin.

1. Rows. The reliability tests (test_reliability, test_fuzz, test_scaleout, test_secrets) record, while
   they run, one row per fault or input class they tried: {area, fault, cases, lost, doubled, note}.
   `lost` and `doubled` are measured by the test (expected counts computed independently of the code
   under test, compared with what Redis and the WeCom simulator hold afterwards); a row is recorded
   before the test asserts on it, so a failing guarantee shows up in the table as a non-zero count.
   At the end of the session the rows are printed; with RELIABILITY_REPORT=1 (or =PATH) they are also
   written to docs/RELIABILITY.md (or PATH), aggregated per class, with each row's test outcome, the
   date, the machine and the exact command. Nothing in the table is typed in by hand.

       RELIABILITY_REPORT=1 .venv/bin/python -m pytest tests/test_reliability.py tests/test_fuzz.py \\
           tests/test_scaleout.py tests/test_secrets.py -q

2. Real processes. Fixtures and helpers shared by those tests to start and break real processes: a
   `redis-server` of the test's own (tests/conftest.py's RedisServer), `gunicorn` with the Procfile's
   flags, `wecom-bot worker` / `wecom-bot tick` / any CLI command as subprocesses, each with an explicit
   environment (nothing inherited from the operator: no WECOM_*/BOT_*/GROUP_*/REDIS_URL), its stdout and
   stderr kept in files (test_secrets searches them), and each stopped by its own pid at teardown.

PYTEST_DONT_REWRITE (plain helpers; the tests assert, not this module).

Loaded by the test modules with `pytest_plugins = ["reliability_report"]` (tests/ is on sys.path).
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis

from bench.common import free_port, procfile_web_args, wait_port  # the benchmarks start processes the same way

from conftest import RedisServer

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DOC = ROOT / "docs" / "RELIABILITY.md"
LONG_FUZZ = "FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/test_fuzz.py -q"
MODULES = ("test_reliability.py", "test_fuzz.py", "test_scaleout.py", "test_secrets.py")
REGENERATE = (
    "RELIABILITY_REPORT=1 .venv/bin/python -m pytest tests/test_reliability.py tests/test_fuzz.py "
    "tests/test_scaleout.py tests/test_secrets.py -q"
)

# -- rows -------------------------------------------------------------------------------------------
ROWS: list[dict] = []
_OUTCOMES: dict[str, str] = {}
_STARTED = time.time()


class Recorder:
    """`report.row(...)` from a test: one fault or input class, how many cases were tried, and how
    many of them lost or doubled something."""

    def __init__(self, nodeid: str):
        self.nodeid = nodeid

    def row(self, area: str, fault: str, cases: int, lost: int = 0, doubled: int = 0, note: str = "") -> dict:
        item = {
            "area": area,
            "fault": fault,
            "cases": int(cases),
            "lost": int(lost),
            "doubled": int(doubled),
            "note": note,
            "nodeid": self.nodeid,
        }
        ROWS.append(item)
        return item


@pytest.fixture
def report(request) -> Recorder:
    return Recorder(request.node.nodeid)


def pytest_runtest_logreport(report):
    if report.failed:
        _OUTCOMES[report.nodeid] = "failed"
    elif hasattr(report, "wasxfail"):
        _OUTCOMES[report.nodeid] = "xfailed"
    elif report.when == "call" and report.passed:
        _OUTCOMES.setdefault(report.nodeid, "passed")


def aggregate(rows: list[dict]) -> list[dict]:
    """Rows of the same (area, fault) summed, in the order first seen."""
    out: OrderedDict[tuple[str, str], dict] = OrderedDict()
    for row in rows:
        k = (row["area"], row["fault"])
        agg = out.get(k)
        if agg is None:
            agg = out[k] = {
                "area": row["area"],
                "fault": row["fault"],
                "cases": 0,
                "lost": 0,
                "doubled": 0,
                "notes": [],
                "tests": [],
            }
        agg["cases"] += row["cases"]
        agg["lost"] += row["lost"]
        agg["doubled"] += row["doubled"]
        if row["note"] and row["note"] not in agg["notes"]:
            agg["notes"].append(row["note"])
        if row["nodeid"] not in agg["tests"]:
            agg["tests"].append(row["nodeid"])
    for agg in out.values():
        outcomes = [_OUTCOMES.get(t, "not run to the end") for t in agg["tests"]]
        if all(o == "passed" for o in outcomes):
            agg["result"] = "passed"
        elif all(o in ("passed", "xfailed") for o in outcomes):
            agg["result"] = "xfail: known defect"
        else:
            agg["result"] = "FAILED"
    return list(out.values())


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| Area | Fault or input class | Cases tried | Lost | Doubled | Notes | Test |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for a in aggregate(rows):
        tests = ", ".join(sorted({t.split("::")[0].split("/")[-1] for t in a["tests"]}))
        lines.append(
            f"| {_cell(a['area'])} | {_cell(a['fault'])} | {a['cases']:,} | {a['lost']} | {a['doubled']} | "
            f"{_cell('; '.join(a['notes']))} | {a['result']} ({tests}) |"
        )
    return "\n".join(lines)


def _redis_version() -> str:
    exe = shutil.which("redis-server")
    if not exe:
        return "not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"v=(\S+)", out)
    return m.group(1) if m else out.strip()


# What a careful reviewer tried against the bot (docs/RELIABILITY.md, "Privacy and abuse"): (tried, what
# holds, tests). Each is a test in tests/test_trust.py (plus the tests named).
PRIVACY: list[tuple[str, str, str]] = [
    (
        "A leader's private `档案 小鹿 <note>`, then `@打卡助手 撤销` in the group",
        "The undo names the kind of change and the member (`↩️ 已撤销：小鹿 的目标设置`), never the command's words; an "
        "undo or a `删除档案` about a profile is answered privately. Property: every leader command sent privately with "
        "random private text, then undone from the group one by one: no group message carries any of it",
        "`test_no_private_command_text_reaches_the_group_through_undo`, "
        "`test_commands.py::test_leader_undoes_each_kind_of_change`",
    ),
    (
        "A member's `不公开`, then the morning 接龙 and the evening reminder",
        "She is `一位同学 已更` in the 接龙 (her links left out), counted but not named among those who checked in, and "
        "never @-ed in the group: reminded privately instead. Property over random rosters and choices; the weekend "
        "review and 本周之星 already used 一位同学",
        "`test_private_members_are_never_named_in_the_chain_or_the_reminder`, "
        "`test_private_member_in_the_real_morning_chain_and_evening_reminder`",
    ),
    (
        "Replaying a leader's `移除 小鹿` signed 40 days ago",
        "`BOT_CALLBACK_MAX_AGE` (default 3600 s; 300 s into the future at most; 0 turns it off for replaying "
        "recordings): a stale callback is answered 403 before its body is read, nothing is stored",
        "`test_an_old_callback_is_refused_before_anything_is_stored`",
    ),
    (
        "10 check-in posts of 1,170 `xhslink.com` links each",
        "3 distinct links per member and day (first ones kept, each at most 512 characters), deduped in checkin.lua "
        "across posts: the digest stays one message",
        "`test_links_are_deduped_and_capped_per_member_and_day`",
    ),
    (
        "100 × `@打卡助手 哈哈` from one member",
        "One hint per member per 10 minutes, and a hint only while the robot keeps 5 sends beyond the reserve for "
        "check-in replies and scheduled posts; the decision is kept per message, so a replayed batch decides the same",
        "`test_one_member_cannot_flood_the_group_with_hints`, `test_no_hint_when_the_robot_is_near_its_limit`",
    ),
    (
        "Two members named 小王; a leader's 接龙 says `小王 已更`",
        "Nobody is credited; the leader is asked privately which one (with the 补卡 command to use). A name learnt from "
        "a newcomer's post never takes over a configured member's name",
        "`test_a_shared_name_in_a_leaders_chain_credits_nobody_and_asks_the_leader`, "
        "`test_a_name_learnt_from_a_post_never_takes_over_a_configured_name`",
    ),
    (
        "A URL ending in 20,000 `)`",
        "URL trimming counts brackets once (linear); the worst inputs are in the tests",
        "`test_url_trimming_on_brackets_and_punctuation`",
    ),
    (
        "Reading a backup or an export as another user; formulas in names and notes",
        "Backups and exports are written 0600 from the first byte; the access_token, the inbox's dedupe keys and the "
        "rate windows stay out of backups; a cell starting with `= + - @`, tab or CR is written as text (a leading "
        "`'`), in CSV and XLSX alike",
        "`test_backup_is_owner_only_and_holds_no_cache_or_token`, `test_exports_are_owner_only_and_formulas_are_text`, "
        "`test_reliability.py::test_backup_and_restore_round_trip_all_state`",
    ),
    (
        "A 3,000-character display name starting with U+202E",
        "Names are clipped to 32 characters; bidi overrides and isolates (U+202A–U+202E, U+2066–U+2069) and control "
        "characters are removed from names and from every post's text before anything is stored or echoed",
        "`test_names_are_clipped_and_bidi_controls_removed`, "
        "`test_clean_text_and_name_remove_every_bidi_and_control_character`",
    ),
    (
        "The simulator (public keys) reached from the network; its page posting to the Host header's address",
        "`wecom-bot run` in simulator mode listens on 127.0.0.1 (`BOT_BIND` to change it); the page posts to the "
        "server's own address whatever the Host header says",
        "`test_simulator_page_posts_to_its_own_address`",
    ),
    (
        "Inbox entries that failed six times; a failed-send registry that only grows; a 12-digit timestamp; the archive "
        "secret and proxy password in logs",
        "`wecom-bot dead [--requeue]`; the dead lists keep the newest 10,000, the failed registry 10,000 (both gauges "
        "in `/metrics`); a timestamp over 10 digits is 400; every secret is in the log masker",
        "`test_dead_entries_are_listed_bounded_and_requeued`, `test_the_failed_registry_is_bounded`, "
        "`test_the_window_is_off_at_zero_and_an_impossible_timestamp_is_400`, `test_every_secret_is_redacted`",
    ),
    (
        "An invalid configuration: workers refuse to start while the web keeps storing callbacks",
        '`/healthz` answers `"ok": false` with `config.valid`, the count and the variables\' names (still 200, so no '
        "callback is turned away); `/metrics` has `wecom_bot_config_valid`",
        "`test_health_and_metrics_say_the_configuration_is_invalid`",
    ),
]


def privacy_table() -> str:
    return "\n".join(
        ["| Tried | What holds | Test |", "|---|---|---|"]
        + [f"| {tried} | {holds} | {tests} |" for tried, holds, tests in PRIVACY]
    )


def write_doc(rows: list[dict], path: Path = DOC, command: str = "") -> None:
    aggs = aggregate(rows)
    total = sum(a["cases"] for a in aggs)
    lost = sum(a["lost"] for a in aggs)
    doubled = sum(a["doubled"] for a in aggs)
    failed = [a for a in aggs if a["result"] != "passed"]
    failed_note = (
        "; every row passed."
        if not failed
        else (f"; {len(failed)} class(es) did not pass: " + ", ".join(f"{a['fault']} ({a['result']})" for a in failed))
    )
    fuzz = os.environ.get("FUZZ_EXAMPLES") or "default (200 per strategy)"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ran = {t.split("::")[0].split("/")[-1] for a in aggs for t in a["tests"]}
    missing = [m for m in MODULES if m not in ran]
    partial = (
        f"\n\n**Partial run**: no rows from {', '.join(missing)}; regenerate with the command above "
        "for the whole table."
        if missing
        else ""
    )
    text = f"""# Reliability: nothing lost, nothing doubled, nothing forged

This file is written by the test run, not by hand: `tests/reliability_report.py` collects one row per
fault or input class from `tests/test_reliability.py`, `tests/test_fuzz.py`, `tests/test_scaleout.py`
and `tests/test_secrets.py` while they run, and writes the table below at the end of the session.
Regenerate it with

```bash
{REGENERATE}
```

The tests break real processes: `redis-server` (killed with SIGKILL, stopped, frozen with SIGSTOP,
restarted on the same port and directory), `gunicorn` with the Procfile's flags, `wecom-bot worker`
subprocesses (killed with SIGKILL in the middle of a batch), `wecom-bot tick` subprocesses started at
the same instant, and the WeCom API simulator injecting errcodes, HTTP errors and timeouts. No mocks.

- **Cases tried**: messages, callbacks, sends or generated inputs in that class.
- **Lost**: an acknowledged message (HTTP 200) or a queued send that did not end up counted, sent, or
  visible in the failed registry; for hostile input, a valid request that was not stored.
- **Doubled**: a message counted twice, a send delivered more often than the contract allows, a slot
  posted twice; for hostile input, a rejected request that left anything in Redis, or a 5xx other than
  the Redis-down 503 (and any 5xx with Redis up). A send whose outcome is unknown (timeout) is retried
  once and counted in `sends_unknown`, as docs/DESIGN.md allows: those known duplicates are in the notes,
  not in this column. For secrets and access: a secret found in a log line, an RQ job, an HTTP answer
  or a Redis value; a refused command that changed the register or showed another group's members.
  For operability: a figure of /healthz or /metrics that does not match what was done.

## Result

Run {when} on {os.cpu_count()} CPU(s), Python {platform.python_version()}, redis-server {_redis_version()},
fuzz examples per strategy: {fuzz}, by

```bash
{command or REGENERATE}
```

{len(aggs)} classes, {total:,} cases: **{lost} lost, {doubled} doubled**{failed_note}{partial}

{markdown_table(rows)}

## Privacy and abuse

What a careful reviewer tried against the bot on 2026-12-03, and what holds now. Each row is
a test in `tests/test_trust.py` (plus the tests named), run by CI; it failed before the fix.

{privacy_table()}

## The long fuzz run

The hostile-input suite runs a modest number of examples per strategy in CI. For a long run:

```bash
{LONG_FUZZ}
```

(`FUZZ_EXAMPLES` sets the examples per strategy; the default is 200.)

## What the tests cannot show

- A crash of the whole *machine* (power loss) with the production `appendfsync everysec` can lose up
  to about two seconds of acknowledged callbacks; with `appendfsync always` nothing. The tests kill
  `redis-server` itself. With `always` that loses nothing. With everysec it usually loses nothing (the
  kernel holds the written AOF pages), but while an earlier fsync is slow Redis holds its AOF writes
  back for up to 2 s, and a kill -9 then loses what it acknowledged in those seconds: the everysec row
  counts what was acknowledged before that window and reports the window's losses in its note.
- A reclaimed inbox entry is reprocessed after `streams.RECLAIM_IDLE_MS` (60 s) by the minute tick.
  The crash test emulates that tick with `streams.reclaim(..., min_idle_ms=0)` once the second worker
  has drained everything else, instead of waiting a minute, because the idle time is not configurable.
- The scale-out test runs the minute tick as two `wecom-bot tick --at` processes started at the same
  instant (what two `wecom-bot cron` machines do each minute), not `rq cron` itself, which fires on the
  wall-clock minute; the slot claims are the same code.
- A Redis Sentinel failover is not tested: replication is asynchronous, so writes the old primary
  acknowledged in its last moment can be lost (README, "High availability").
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def report_path() -> Path | None:
    """Where RELIABILITY_REPORT asks the table to be written: 1/yes/true for docs/RELIABILITY.md, or a path."""
    value = os.environ.get("RELIABILITY_REPORT", "").strip()
    if not value or value.lower() in ("0", "no", "false", "off"):
        return None
    if value.lower() in ("1", "yes", "true", "on"):
        return DOC
    path = Path(value)
    return path if path.is_absolute() else ROOT / path


def _command(config) -> str:
    args = " ".join(shlex.quote(a) for a in config.invocation_params.args)
    env = " ".join(
        f"{k}={shlex.quote(os.environ[k])}"
        for k in ("RELIABILITY_REPORT", "FUZZ_EXAMPLES", "CRASH_MESSAGES")
        if os.environ.get(k)
    )
    return f"{env} .venv/bin/python -m pytest {args}".strip()


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    terminalreporter.write_sep("-", "reliability report (lost / doubled per fault class)")
    terminalreporter.write_line(markdown_table(ROWS))
    path = report_path()
    if path is not None:
        write_doc(ROWS, path, _command(terminalreporter.config))
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        terminalreporter.write_line(f"written to {shown}")


# -- waiting ------------------------------------------------------------------------------------------
def wait_for(cond: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- the environment of the processes the tests start -------------------------------------------------
def clean_environ() -> dict[str, str]:
    """os.environ without anything that configures the service, plus PYTHONPATH for this checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WECOM_", "BOT_", "GROUP_")) and k not in ("REDIS_URL", "PORT", "WEB_CONCURRENCY")
    }
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env["BOT_FONT_PATH"] = "off"  # text only, as in-process (tests/conftest.py BASE_ENV): no pictures to count
    return env


# -- processes ----------------------------------------------------------------------------------------
class Procs:
    """The child processes of one test. Each runs in its own session (so a SIGKILL to a gunicorn master's
    group reaches only its own workers), writes <name>.out / <name>.err under `workdir`, and is stopped by
    its own pid (SIGTERM, then SIGKILL) at teardown."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.names: dict[int, str] = {}

    def start(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen:
        with open(self.workdir / f"{name}.out", "ab") as out, open(self.workdir / f"{name}.err", "ab") as err:
            proc = subprocess.Popen(
                [str(a) for a in args],
                env=env,
                cwd=str(ROOT),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.names[proc.pid] = name
        return proc

    def run(
        self, args: list[str], env: dict[str, str], name: str, timeout: float = 60.0, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run a command to completion; its output is also kept under `name` for later searches."""
        res = subprocess.run(
            [str(a) for a in args],
            env=env,
            cwd=str(ROOT),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        with open(self.workdir / f"{name}.out", "a", encoding="utf-8") as f:
            f.write(res.stdout)
        with open(self.workdir / f"{name}.err", "a", encoding="utf-8") as f:
            f.write(res.stderr)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, args))} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
        return res

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to this process (by its pid) and reap it when it is SIGKILL."""
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            if sig == signal.SIGKILL:
                proc.wait(10)

    def stop(self, proc: subprocess.Popen, timeout: float = 15.0) -> None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(proc)
            except ProcessLookupError:
                pass
        else:
            self._kill_group(proc)  # a killed gunicorn master may leave its workers: end them

    def _kill_group(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the session we created for this child only
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)

    def output(self, name: str | None = None) -> str:
        """Everything the named process (default: all of them) wrote to stdout and stderr."""
        text = []
        for p in sorted(self.workdir.glob("*.out")) + sorted(self.workdir.glob("*.err")):
            if name is None or p.stem == name:
                text.append(p.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(text)


@pytest.fixture
def procs(tmp_path):
    p = Procs(tmp_path / "procs")
    yield p
    p.stop_all()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test only (tests/conftest.py's RedisServer): kill it, restart it, freeze it."""
    servers = []

    def make(*extra: str, directory: Path | None = None):
        server = RedisServer(directory or tmp_path / f"redis{len(servers)}", extra=extra).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        if s.proc is not None and s.proc.poll() is None:
            try:
                os.kill(s.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        s.stop(kill=True)


def redis_conf_args(path: Path = ROOT / "config" / "redis.conf") -> tuple[str, ...]:
    """config/redis.conf as command-line arguments (the production persistence settings)."""
    args: list[str] = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        args += [f"--{name}", value.strip().strip('"') if value.strip() not in ('""', "''") else ""]
    return tuple(args)


def wecom_bot(*args: str) -> list[str]:
    exe = VENV_BIN / "wecom-bot"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "wecom_bot", *args]


def start_worker(
    procs: Procs, env: dict[str, str], name: str, r: redis.Redis, burst: bool = False, timeout: float = 30.0
) -> subprocess.Popen:
    """`wecom-bot worker` as a subprocess; returns once it has registered with RQ (unless burst)."""
    proc = procs.start(wecom_bot("worker", *(["--burst"] if burst else [])), env, name)
    if burst:
        return proc

    def registered():
        if proc.poll() is not None:
            raise AssertionError(f"worker {name} exited with {proc.returncode}:\n{procs.output(name)[-3000:]}")
        return any(r.hget(key, "pid") == str(proc.pid).encode() for key in r.smembers("rq:workers"))

    wait_for(registered, timeout, what=f"worker {name} to register")
    return proc


def start_gunicorn(procs: Procs, env: dict[str, str], name: str, workers: int = 2) -> tuple[subprocess.Popen, str]:
    """gunicorn serving create_app() with the Procfile's flags on a free loopback port; (proc, base URL)."""
    port = free_port()
    proc = procs.start(procfile_web_args(port, environ={"WEB_CONCURRENCY": str(workers)}), env, name)
    wait_port(port, timeout=30, proc=proc)
    return proc, f"http://127.0.0.1:{port}"
