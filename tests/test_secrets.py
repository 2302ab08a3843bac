"""Secrets and access: full flows through real processes (gunicorn with the Procfile's flags,
`wecom-bot worker`, `wecom-bot tick`, the CLI) against the WeCom simulator, with failing sends and
error replies; then every log line, every RQ job (description and arguments, as stored in Redis),
every HTTP answer, every CLI output and every value in Redis is searched for the app secret, the
callback tokens, the AES keys, the webhook keys and the access tokens the simulator issued.
The deployment is driven once (the module fixture `run`); each test below checks one part of what it left.

Access: leader commands sent by members and by another group's leader, and reads of another group's
register, go through the same real path (callback → inbox → worker → reply). Every command in both
channels is covered at unit level by tests/test_commands.py (test_members_are_refused_leader_commands,
test_a_leader_of_another_group_is_refused, test_a_member_cannot_read_another_groups_register,
test_in_a_group_chat_only_that_group); this test proves the same end to end.

Rows for docs/RELIABILITY.md (tests/reliability_report.py): "Doubled" counts a secret found (per
secret and place) or a refused command that changed state or leaked the register.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
import requests

from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import Signed, app_xml, robot_xml, sign
from wecom_bot.sim.simulator import SimState, SimulatorServer
from workers import keys, streams
from workers.jobs import QUEUES

from conftest import RedisServer
from reliability_report import Procs, clean_environ, start_gunicorn, start_worker, wait_for, wecom_bot

pytest_plugins = ["reliability_report"]

TZ = ZoneInfo("Asia/Shanghai")
CORP, AGENT = "wwsecretcorp7", "1000002"
SECRET = "SeCrEt-app-9c41e07b2d5f8a36"
APP_TOKEN, APP_AES = "SeCrEtAppTok3nQ7", "SeCrEtAppAesKey0123456789abcdefghijklmnopqr"
ROBOT_TOKEN, ROBOT_AES = "SeCrEtRobTok3nZ9", "SeCrEtRobAesKey0123456789abcdefghijklmnopqr"
HOOK0, HOOK1 = "5ecre7-hook0-1b2c3d4e5f60", "5ecre7-hook1-a9b8c7d6e5f4"  # HOOK1 is revoked: 93000
ROBOT = CallbackCrypto(ROBOT_TOKEN, ROBOT_AES, "")
APP = CallbackCrypto(APP_TOKEN, APP_AES, CORP)
G0 = ["s0m1", "s0m2", "s0m3"]
G1 = ["s1m1", "s1m2"]
NAMES = {"s0m1": "小一", "s0m2": "小二", "s0m3": "小三", "s1m1": "大一", "s1m2": "大二"}
DAY = "2026-03-18"  # a Wednesday


def ts_at(hhmm: str) -> int:
    return int(datetime.fromisoformat(f"{DAY} {hhmm}:00").replace(tzinfo=TZ).timestamp())


def service_env(redis_url: str, api: str, tmp) -> dict[str, str]:
    env = clean_environ()
    env.update(
        {
            "REDIS_URL": redis_url,
            "BOT_ENV_FILE": "/nonexistent/.env",
            "BOT_TIMEZONE": "Asia/Shanghai",
            "BOT_CALLBACK_MAX_AGE": "0",  # replays callbacks signed at fixed instants
            "BOT_ADMINS": "admin1",
            "BOT_DATA_DIR": str(tmp / "var"),
            "BOT_HTTP_TIMEOUT": "0.5",
            "WECOM_CORP_ID": CORP,
            "WECOM_AGENT_ID": AGENT,
            "WECOM_SECRET": SECRET,
            "WECOM_API_BASE_URL": api,
            "WECOM_TOKEN": APP_TOKEN,
            "WECOM_ENCODING_AES_KEY": APP_AES,
            "WECOM_ROBOT_TOKEN": ROBOT_TOKEN,
            "WECOM_ROBOT_ENCODING_AES_KEY": ROBOT_AES,
            "BOT_GROUPS": "s0,s1",
            "GROUP_S0_CHAT_ID": "secchat0",
            "GROUP_S0_NAME": "保密零组",
            "GROUP_S0_LEADERS": "lead0",
            "GROUP_S0_MEMBERS": ",".join(G0),
            "GROUP_S0_WEBHOOK_KEY": HOOK0,
            "GROUP_S1_CHAT_ID": "secchat1",
            "GROUP_S1_NAME": "保密壹组",
            "GROUP_S1_LEADERS": "lead1",
            "GROUP_S1_MEMBERS": ",".join(G1),
            "GROUP_S1_WEBHOOK_KEY": HOOK1,
        }
    )
    return env


def robot_post(chat: str, hook: str, userid: str, text: str, at: str, msgid: str):
    return sign(
        ROBOT,
        "/wecom/robot",
        robot_xml(chat, userid, NAMES.get(userid, userid), text, msgid=msgid, webhook_key=hook),
        ts_at(at),
    )


def app_post(userid: str, text: str, at: str, msgid: int):
    return sign(APP, "/wecom/callback", app_xml(CORP, userid, text, msgid=str(msgid), create_time=ts_at(at)), ts_at(at))


class JobWatcher(threading.Thread):
    """Copies every RQ job hash (description, data: the pickled function and arguments, exc_info...)
    while the test runs: the jobs are deleted once done (result_ttl=0)."""

    def __init__(self, r: redis.Redis):
        super().__init__(daemon=True)
        self.r, self.jobs, self.stop_flag = r, {}, threading.Event()
        self.seen_before_workers = 0

    def snapshot(self) -> None:
        try:
            for key in self.r.scan_iter("rq:job:*", count=1000):
                if self.r.type(key) == b"hash":
                    self.jobs[key] = self.r.hgetall(key)
        except (redis.RedisError, OSError):
            pass

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.snapshot()
            time.sleep(0.02)


def job_texts(job: dict) -> list[str]:
    out = []
    for field, value in job.items():
        if field in (b"data", b"exc_info", b"result"):
            try:
                value = zlib.decompress(value)
            except zlib.error:
                pass
        out.append(f"{field.decode()}={value.decode('utf-8', 'replace')}")
        out.append(value.decode("latin-1"))  # pickled str may be raw bytes
    return out


def redis_texts(r: redis.Redis) -> dict[str, str]:
    """Every key's value as text, except the access-token cache (its job is to hold the token)."""
    out = {}
    for key in r.scan_iter("*", count=1000):
        k = key.decode()
        if k.startswith("wb:token:"):
            continue
        t = r.type(key).decode()
        if t == "string":
            vals = [r.get(key)]
        elif t == "hash":
            vals = [x for kv in r.hgetall(key).items() for x in kv]
        elif t == "list":
            vals = r.lrange(key, 0, -1)
        elif t == "set":
            vals = list(r.smembers(key))
        elif t == "zset":
            vals = [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        elif t == "stream":
            vals = [x for _id, f in r.xrange(key) for kv in f.items() for x in kv]
        else:
            vals = []
        parts = []
        for v in vals:
            if v is None:
                continue
            if k.startswith("rq:job:"):
                try:
                    v = zlib.decompress(v)
                except zlib.error:
                    pass
            parts.append(v.decode("latin-1"))
            parts.append(v.decode("utf-8", "replace"))
        out[k] = "\n".join(parts)
    return out


REGISTER = re.compile(r"^wb:g:[^:]+:(goal|notes|o|d|removed|paused|proposals|audit|prefs)(:|$)")


def register(r: redis.Redis) -> dict:
    """The register's keys (goals, notes, days off, days, roster, pause, proposals, audit) and values."""
    out = {}
    for key in r.scan_iter("wb:g:*", count=1000):
        k = key.decode()
        if REGISTER.match(k):
            t = r.type(key)
            out[k] = (
                r.get(key)
                if t == b"string"
                else sorted(r.hgetall(key).items())
                if t == b"hash"
                else r.lrange(key, 0, -1)
                if t == b"list"
                else sorted(r.smembers(key))
                if t == b"set"
                else t
            )
    return out


# -- the run: one deployment, driven through every phase once; the tests below read its evidence ---------
@dataclass
class Access:
    """Members and another group's leader trying leader commands and another group's register."""

    attempts: int
    changed: list[str]  # register keys whose value changed
    leaks: list[tuple[list[str], str]]  # answers that showed another group's members
    refusals: int  # answers naming the leaders
    answers: int


@dataclass
class Run:
    broken_env: dict[str, str]  # the service's variables with broken AES keys (check-config)
    answers: list[tuple[str, int, str]]  # (what, status, body) of every HTTP answer
    flows: list[tuple[str, int]]  # (what, status) of the callbacks that must be accepted
    rejected: list[tuple[str, int, str]]  # the refused ones among the error cases
    jobs_before_workers: int  # RQ jobs seen in Redis before any worker ran
    job_descriptions: list[str]
    access: Access
    failed_out: str  # `wecom-bot failed`
    check_config: subprocess.CompletedProcess  # `wecom-bot check-config` with broken AES keys
    tokens: list[str]  # the access tokens the simulator issued
    places: dict[str, str]  # where secrets must not be: name -> text
    process_outputs: int


class Client:
    """HTTP to the web process, keeping every answer (they are searched for secrets too)."""

    def __init__(self, base: str):
        self.base, self.http = base, requests.Session()
        self.answers: list[tuple[str, int, str]] = []

    def send(self, what: str, signed, method: str = "POST") -> int:
        for attempt in range(3):
            try:
                if method == "GET":
                    res = self.http.get(self.base + signed, timeout=15)
                else:
                    res = self.http.post(self.base + signed.path, data=signed.body, timeout=15)
                break
            except requests.ConnectionError:
                # a body refused before it was read: the server closes while the client still sends, and
                # the reset can overtake the answer; or a kept-alive connection the server had closed
                if attempt == 2:
                    raise
                self.http.close()
        self.answers.append((what, res.status_code, res.text))
        return res.status_code


def settled(r: redis.Redis) -> bool:
    """Nothing left to do: the streams drained, no send waiting for a retry, and no RQ job queued, running
    or scheduled (the tick's jobs, such as the morning 接龙, run after `wecom-bot tick` has returned)."""
    return (
        r.xlen(streams.INBOX.key) == 0
        and r.xlen(streams.OUTBOX.key) == 0
        and r.zcard(keys.OUT_DELAYED) == 0
        and streams.depth(r, streams.OUTBOX)["pending"] == 0
        and not any(r.llen(f"rq:queue:{q}") or r.zcard(f"rq:wip:{q}") or r.zcard(f"rq:scheduled:{q}") for q in QUEUES)
    )


def post_flows(client: Client) -> list[tuple[str, int]]:
    """Group check-ins through both robots (their callbacks carry the webhook URL with its key), private
    check-ins, a member's 我的, leader commands, an export."""
    statuses = []
    n = 0
    for i, u in enumerate(G0):
        n += 1
        what = "robot check-in"
        statuses.append(
            (what, client.send(what, robot_post("secchat0", HOOK0, u, "@打卡助手 打卡", f"09:0{i}", f"sec-r{n}")))
        )
    for i, u in enumerate(G1):
        n += 1
        what = "robot check-in (revoked robot)"
        statuses.append(
            (what, client.send(what, robot_post("secchat1", HOOK1, u, "@打卡助手 打卡 已更", f"09:1{i}", f"sec-r{n}")))
        )
    mid = 9_400_000_000
    flows = [
        ("s0m1", "我的"),
        ("s1m2", "打卡"),
        ("lead0", "目标 小二 4"),
        ("lead0", "档案 小三 周末出差"),
        ("lead0", "本周"),
        ("lead0", "导出"),
        ("lead1", "请假 大一 2"),
    ]
    for i, (u, text) in enumerate(flows):
        mid += 1
        statuses.append((f"app: {text}", client.send(f"app: {text}", app_post(u, text, f"10:{i:02d}", mid))))
    return statuses


def post_bad_callbacks(client: Client) -> list[tuple[str, int, str]]:
    """Error replies: forged signature, wrong corp id, malformed, too large, bad URL verification.
    Returns the refused ones."""
    good = robot_post("secchat0", HOOK0, "s0m3", "@打卡助手 打卡", "12:00", "sec-forged")
    forged = good.path.split("msg_signature=")[0] + "msg_signature=" + "0" * 40 + "&" + good.path.split("&", 1)[1]
    before = len(client.answers)
    client.send("forged signature", Signed(forged, good.body))
    wrong_corp = CallbackCrypto(APP_TOKEN, APP_AES, "wwSOMEONEELSE")
    client.send(
        "wrong corp id", sign(wrong_corp, "/wecom/callback", app_xml("wwSOMEONEELSE", "s0m1", "打卡"), ts_at("12:01"))
    )
    client.send("malformed body", Signed(good.path, b"<xml><Encrypt>%%%</Encrypt></xml>"))
    client.send("DTD", Signed(good.path, b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'))
    client.send("too large", Signed(good.path, b"x" * (300 * 1024)))
    enc, sig = ROBOT.encrypt("echo", "n", "1700000000")
    client.send(
        "bad URL verification",
        f"/wecom/robot?msg_signature={'1' * 40}&timestamp=1700000000&nonce=n&echostr={enc}",
        method="GET",
    )
    client.send(
        "URL verification without echostr",
        f"/wecom/callback?msg_signature={sig}&timestamp=1700000000&nonce=n",
        method="GET",
    )
    return [a for a in client.answers[before:] if a[1] != 200]


def try_forbidden(client: Client, r: redis.Redis, api: SimulatorServer) -> Access:
    """Members trying leader commands, privately and in the group; another group's leader; another group's
    register. Nothing of the register may change, no reply may show another group."""
    register_before = register(r)
    sent_before = len(api.state.sent_messages())
    attempts = [
        ("app", "s0m1", "目标 小二 5"),
        ("app", "s0m1", "补卡 小三 2026-03-17"),
        ("app", "s0m1", "本周 s1"),
        ("app", "s0m1", "导出 s1"),
        ("app", "s1m1", "本周 s0"),
        ("app", "s1m1", "档案 大二 不积极"),
        ("robot", "s0m2", "@打卡助手 目标 小一 6"),
        ("robot", "s0m2", "@打卡助手 本周"),
        ("robot", "s0m2", "@打卡助手 请假 小三 3"),
        ("app", "lead1", "本周 s0"),
        ("app", "lead1", "目标 小一 6 s0"),
        ("robot", "lead1", "@打卡助手 本周"),
        ("app", "s1m2", "移除 大一"),
        ("app", "s0m3", "删除档案 小三"),
    ]
    mid = 9_400_100_000
    for i, (channel, u, text) in enumerate(attempts):
        mid += 1
        signed = (
            app_post(u, text, f"11:{i:02d}", mid)
            if channel == "app"
            else robot_post("secchat0", HOOK0, u, text, f"11:{i:02d}", f"sec-x{mid}")
        )
        assert client.send(f"access attempt: {text}", signed) == 200
    wait_for(lambda: settled(r), timeout=60, interval=0.2, what="the access attempts to be answered")
    register_after = register(r)
    changed = sorted(
        k for k in set(register_before) | set(register_after) if register_before.get(k) != register_after.get(k)
    )
    answers = api.state.sent_messages()[sent_before:]
    leaks, refusals = [], 0
    for m in answers:
        to = set(m.get("touser") or []) | set(m.get("mentioned_list") or [])
        forbidden = [NAMES[x] for x in (G1 if to & set(G0) else G0)]
        if any(name in m["content"] for name in forbidden):
            leaks.append((sorted(to), m["content"][:80]))
        refusals += "组长" in m["content"]
    return Access(len(attempts), changed, leaks, refusals, len(answers))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[Run]:
    """One deployment (gunicorn with the Procfile's flags, two workers, the tick, the CLI) against the WeCom
    simulator, which misbehaves along the way, driven through every phase once."""
    tmp = tmp_path_factory.mktemp("secrets")
    api = SimulatorServer(
        SimState(corp_id=CORP, secret=SECRET, agent_id=AGENT, valid_keys={HOOK0}, timeout_seconds=1.5)
    )
    procs = Procs(tmp / "procs")
    server = RedisServer(tmp / "redis", extra=("--appendonly", "yes")).start()
    try:
        yield drive(server, api, procs, tmp)
    finally:
        procs.stop_all()
        if server.proc is not None and server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGCONT)
        server.stop(kill=True)
        api.stop()


def start_workers(procs: Procs, env: dict[str, str], r: redis.Redis) -> JobWatcher:
    """The jobs as they wait in Redis before any worker runs (watched from then on); then two workers and
    the minute tick, until everything is delivered or has failed for good."""
    watcher = JobWatcher(r)
    watcher.snapshot()
    watcher.seen_before_workers = len(watcher.jobs)
    watcher.start()
    start_worker(procs, env, "worker1", r)
    start_worker(procs, env, "worker2", r)
    procs.run(wecom_bot("tick", "--at", f"{DAY}T08:00:30"), env, "tick")  # the morning 接龙
    procs.run(wecom_bot("tick", "--at", f"{DAY}T21:00:30"), env, "tick")  # the evening reminder
    wait_for(lambda: settled(r), timeout=90, interval=0.2, what="the inbox, the outbox and the retries to settle")
    return watcher


def operator_commands(procs: Procs, env: dict[str, str], r: redis.Redis):
    """The failed list (the revoked robot's sends), a resend that fails again, the register, and
    check-config and a worker with broken AES keys. Returns (failed output, check-config, broken env)."""
    failed_out = procs.run(wecom_bot("failed"), env, "failed").stdout
    procs.run(wecom_bot("failed", "--resend"), env, "failed")
    wait_for(lambda: settled(r), timeout=60, interval=0.2, what="the resent messages to fail again")
    procs.run(wecom_bot("stats", "s0", "--date", DAY, "--json"), env, "stats")
    broken = dict(env, WECOM_ENCODING_AES_KEY=APP_AES[:-3] + "!!!", WECOM_ROBOT_ENCODING_AES_KEY=ROBOT_AES + "xy")
    check_config = procs.run(wecom_bot("check-config"), broken, "check-config", check=False)
    procs.run(wecom_bot("worker", "--burst"), broken, "worker-broken-config", check=False)
    return failed_out, check_config, broken


def redis_outage(server: RedisServer, client: Client, procs: Procs, env: dict[str, str], r: redis.Redis) -> None:
    """Redis down: the 503 answer, and what the processes log about it; then back, and the rest delivered."""
    signed = robot_post("secchat0", HOOK0, "s0m1", "@打卡助手 打卡", "13:00", "sec-down")
    server.stop()
    client.send("Redis down", signed)
    time.sleep(1.0)
    server.start()
    wait_for(
        lambda: client.send("Redis back", signed) == 200, timeout=30, interval=0.5, what="the callback to work again"
    )
    procs.run(wecom_bot("worker", "--burst"), env, "worker-burst", timeout=120)  # whatever the outage left
    wait_for(lambda: settled(r), timeout=60, interval=0.2, what="the last message")


def places_to_search(procs: Procs, client: Client, watcher: JobWatcher, r: redis.Redis) -> dict[str, str]:
    """Where a secret must not be: every process output, HTTP answer, RQ job and Redis value."""
    places: dict[str, str] = {}
    for p in sorted(procs.workdir.iterdir()):
        places[f"output of {p.name}"] = p.read_text(encoding="utf-8", errors="replace")
    for i, (what, status, body) in enumerate(client.answers):
        places[f"HTTP {status} answer #{i} ({what})"] = body
    for key, job in watcher.jobs.items():
        places[f"RQ job {key.decode()}"] = "\n".join(job_texts(job))
    for key, text in redis_texts(r).items():
        places[f"Redis {key}"] = text
    return places


def drive(server: RedisServer, api: SimulatorServer, procs: Procs, tmp) -> Run:
    r = redis.Redis.from_url(server.url, socket_timeout=10)
    env = service_env(server.url, api.base_url, tmp)
    _web, base = start_gunicorn(procs, env, "web")
    client = Client(base)
    # WeCom's API misbehaves along the way: an invalid token, a 502, a timeout, a 45009
    api.state.add_fault(
        {"path": "message/send", "errcode": 40014},
        {"path": "webhook/send", "http": 502},
        {"path": "message/send", "timeout": True, "delivered": False},
        {"path": "message/send", "errcode": 45009},
    )
    flows = post_flows(client)
    rejected = post_bad_callbacks(client)
    watcher = start_workers(procs, env, r)
    access = try_forbidden(client, r, api)
    failed_out, check_config, broken = operator_commands(procs, env, r)
    redis_outage(server, client, procs, env, r)
    watcher.stop_flag.set()
    watcher.join(5)
    watcher.snapshot()
    return Run(
        broken_env=broken,
        answers=client.answers,
        flows=flows,
        rejected=rejected,
        jobs_before_workers=watcher.seen_before_workers,
        job_descriptions=[job.get(b"description", b"").decode() for job in watcher.jobs.values()],
        access=access,
        failed_out=failed_out,
        check_config=check_config,
        tokens=sorted(api.state.tokens),
        places=places_to_search(procs, client, watcher, r),
        process_outputs=len(list(procs.workdir.iterdir())),
    )


# -- the tests ----------------------------------------------------------------------------------------------
def test_the_flows_are_accepted_and_bad_callbacks_refused(run):
    assert [what for what, status in run.flows if status != 200] == []
    assert {status for _what, status, _body in run.rejected} >= {400, 403, 413}


def test_the_callbacks_queue_jobs_that_the_workers_run(run):
    assert run.jobs_before_workers, "the callbacks queued no drain job"
    assert any("drain_inbox" in d for d in run.job_descriptions)
    # replies go out from the workers' outbox senders (workers/outbox_sender.py), which hold the outbox's
    # wake flag, so no drain_outbox job is queued while one runs (the --no-sender path: tests/test_outbound.py)


def test_members_and_other_groups_leaders_are_refused(run, report):
    a = run.access
    report.row(
        "Access",
        "leader commands from members and from another group's leader; another group's register "
        "(callback → worker → reply)",
        a.attempts,
        0,
        len(a.changed) + len(a.leaks),
        f"{a.answers} answers, {a.refusals} of them refusals naming the leaders; the register unchanged; "
        "every command and channel at unit level in tests/test_commands.py"
        + (f"; changed {a.changed[:3]}, leaked {a.leaks[:3]}" if a.changed or a.leaks else ""),
    )
    assert a.changed == [] and a.leaks == []
    assert a.refusals >= a.attempts - 2 and a.answers >= a.attempts


def test_the_operator_sees_failed_sends_and_a_broken_config(run):
    out = run.failed_out
    assert "93000" in out or "revoked" in out.lower() or "invalid" in out.lower()
    res = run.check_config
    assert res.returncode != 0 and "WECOM_ENCODING_AES_KEY" in res.stdout + res.stderr


def test_no_secret_in_logs_job_descriptions_error_replies_or_redis(run, report):
    assert run.tokens, "no access_token was ever issued: the flows did not reach the API"
    secrets = {
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": APP_TOKEN,
        "WECOM_ENCODING_AES_KEY": APP_AES,
        "WECOM_ROBOT_TOKEN": ROBOT_TOKEN,
        "WECOM_ROBOT_ENCODING_AES_KEY": ROBOT_AES,
        "GROUP_S0_WEBHOOK_KEY": HOOK0,
        "GROUP_S1_WEBHOOK_KEY": HOOK1,
        "broken WECOM_ENCODING_AES_KEY": run.broken_env["WECOM_ENCODING_AES_KEY"],
        "broken WECOM_ROBOT_ENCODING_AES_KEY": run.broken_env["WECOM_ROBOT_ENCODING_AES_KEY"],
        **{f"access_token #{i + 1}": t for i, t in enumerate(run.tokens)},
    }
    places = run.places
    found = [(name, place) for place, text in places.items() for name, value in secrets.items() if value in text]
    log_lines = sum(t.count("\n") for p, t in places.items() if p.startswith("output of"))
    # the search is not vacuous: the logs speak of the sends and their failures
    worker_logs = places.get("output of worker1.err", "") + places.get("output of worker2.err", "")
    assert "93000" in worker_logs or "robot:s1" in worker_logs
    assert "***" in worker_logs or "webhook" in worker_logs
    report.row(
        "Secrets",
        "secret, tokens, AES keys, webhook keys, access_token in logs, RQ jobs, error replies, Redis",
        len(places),
        0,
        len(found),
        f"{len(secrets)} secrets searched in {log_lines:,} log lines of {run.process_outputs} "
        f"process outputs (gunicorn, 2 workers, tick, failed, stats, check-config), "
        f"{sum(p.startswith('RQ job') for p in places)} RQ jobs, {len(run.answers)} HTTP answers "
        f"({len(run.rejected)} refusals and a 503), every Redis key but the token cache"
        + (f"; FOUND: {found[:5]}" if found else ""),
    )
    assert found == []
