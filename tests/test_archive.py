"""The message archive (会话内容存档) as a third source: the SDK simulator with real RSA, a real Redis,
the same inbox and register as the robot callbacks."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handlers import texts
from handlers.calendar import day_index
from wecom_bot import create_app
from wecom_bot.cli import main as cli
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.archive import ArchiveSimulator, generate_private_key, pem_of
from wecom_bot.sim.builders import robot_xml, sign
from workers import archive, ingest, jobs, keys, register
from workers.archive import puller as puller_module

TZ = ZoneInfo("Asia/Shanghai")
TOKEN, AES = "robotToken123", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ARCHIVE_SECRET = "archive-secret-0123456789abcdef"
crypto = CallbackCrypto(TOKEN, AES, "")
ROOM = "wrchat01"
NAMES = {"xiaolu": "小鹿", "aqing": "阿青", "dawei": "大伟", "leader1": "婷婷"}

_KEY = generate_private_key()  # one key pair for the module: RSA generation is slow
_OTHER_KEY = generate_private_key()


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp())


def day(text: str) -> int:
    return day_index(datetime.fromisoformat(text).date())


# The archive is first read on this morning: a missing cursor skips what is older than the day before
# (workers/archive/puller.py), and the tests' week (2026-11-23 to 30) lies after it, whatever today is.
FIRST_READ = "2026-11-23 00:00:00"


@pytest.fixture
def setup(sim, env, tmp_path, monkeypatch):
    """The sim camp (xhs01 in chat wrchat01 with a robot, xhs02 in wrchat02) plus the archive."""
    monkeypatch.setattr(puller_module, "wall_clock", lambda: float(at(FIRST_READ)))
    sdk_file = tmp_path / "libWeWorkFinanceSdk_C.so"
    sdk_file.write_bytes(b"")  # only has to exist: the simulator is installed in its place
    asim = ArchiveSimulator(private_key=_KEY)

    def configure(private_key_pem: str = asim.private_key_pem, **more):
        values = {
            "WECOM_ROBOT_TOKEN": TOKEN,
            "WECOM_ROBOT_ENCODING_AES_KEY": AES,
            "GROUP_XHS01_MEMBERS": "xiaolu,aqing,momo",
            "GROUP_XHS01_WEEKLY_GOAL": "3",
            "WECOM_ARCHIVE_SDK_PATH": str(sdk_file),
            "WECOM_ARCHIVE_SECRET": ARCHIVE_SECRET,
            "WECOM_ARCHIVE_PRIVATE_KEY": private_key_pem,
        }
        s = env(**{**values, **more})
        return s

    configure()
    archive.install_sdk(asim)
    asim.configure = configure
    yield asim
    archive.install_sdk(None)


@pytest.fixture
def robot(setup):
    client = create_app().test_client()

    def post(userid, name, text, when, msgid=None, msgtype="text", chat=ROOM):
        s = sign(crypto, "/wecom/robot", robot_xml(chat, userid, name, text, msgid=msgid, msgtype=msgtype), at(when))
        res = client.post(s.path, data=s.body)
        assert res.status_code == 200, res.data

    return post


@pytest.fixture
def accepted(monkeypatch):
    """Every ingest.accept of an archive post: msgid -> [results]."""
    seen: dict[str, list[bool]] = {}
    lock = threading.Lock()
    real = ingest.accept

    def spy(r, event, *args, **kw):
        result = real(r, event, *args, **kw)
        if event.get("source") == "archive":
            with lock:
                seen.setdefault(event["msgid"], []).append(result)
        return result

    monkeypatch.setattr(ingest, "accept", spy)
    return seen


def pull(r, asim, **kw) -> int:
    return archive.pull(r, asim, **kw)


def register_rows(r, settings, date: str) -> list[dict]:
    data = register.stats_json(r, settings.groups["xhs01"], day(date))
    return sorted(data["members"], key=lambda m: m["userid"])


def group_texts(sim) -> list[str]:
    return [m["content"] for m in sim.state.sent_messages() if m.get("channel") == "robot"]


def test_settings_and_check_config_name_the_archive(setup, env, capsys):
    s = setup.configure()
    assert not [p for p in s.problems if "ARCHIVE" in p], s.problems
    assert archive.sources_line(s) == "group robot callback, message archive"
    archive.install_sdk(None)  # what `wecom-bot check-config` sees in a process of its own
    capsys.readouterr()
    cli(["check-config"])
    assert "sources: group robot callback, message archive" in capsys.readouterr().out

    s = env(WECOM_ARCHIVE_SECRET="")
    assert any(p.startswith("WECOM_ARCHIVE_SECRET is missing") for p in s.problems)
    assert not archive.is_configured(s)
    assert archive.sources_line(s) == "group robot callback"

    s = env(
        WECOM_ARCHIVE_SECRET=ARCHIVE_SECRET,
        WECOM_ARCHIVE_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nnotakey\n-----END RSA PRIVATE KEY-----",
    )
    bad = [p for p in s.problems if "WECOM_ARCHIVE_PRIVATE_KEY" in p]
    assert bad and not any("notakey" in p for p in bad)
    s = env(WECOM_ARCHIVE_PRIVATE_KEY="/nonexistent/archive.pem", WECOM_ARCHIVE_SDK_PATH="/nonexistent/sdk.so")
    assert any(p.startswith("WECOM_ARCHIVE_PRIVATE_KEY:") for p in s.problems)
    assert any(p.startswith("WECOM_ARCHIVE_SDK_PATH=") for p in s.problems)


def test_private_key_from_a_pem_file(setup, tmp_path):
    pem = tmp_path / "archive.pem"
    pem.write_text(setup.private_key_pem)
    s = setup.configure(private_key_pem=str(pem))
    assert not [p for p in s.problems if "ARCHIVE" in p]
    assert archive.is_configured(s) and "PRIVATE KEY" in s.archive_private_key


def test_not_configured_does_nothing(sim, env, r):
    archive.install_sdk(None)
    s = env(WECOM_ROBOT_TOKEN=TOKEN, WECOM_ROBOT_ENCODING_AES_KEY=AES)
    assert not archive.is_configured(s)
    assert archive.pull_if_configured() == 0
    assert archive.pull_job() == 0
    assert archive.wake() is False
    assert not r.keys("wb:archive:*")


# --- the same week, through the robot and through the archive ---------------------------------------

CHAIN_LEADER = "#接龙\n11月25日 更文打卡\n例 名字 已更/未更 笔记链接\n\n1. 小鹿 已更\n2. 阿青 未更\n3. 大伟 已更"
CHAIN_AQING = (
    "#接龙\n11月25日 更文打卡\n例 名字 已更/未更 笔记链接\n\n1. 小鹿 已更\n"
    "2. 阿青 已更 http://xhslink.com/a/Zx34Cv\n3. 大伟 已更"
)
WEEK = [  # userid, kind, text, when
    ("xiaolu", "text", "打卡", "2026-11-23 09:00:00"),
    ("aqing", "text", "已更 http://xhslink.com/a/Qw12Er", "2026-11-23 10:00:00"),
    ("dawei", "image", "", "2026-11-23 21:00:00"),
    ("xiaolu", "mixed", "今日打卡", "2026-11-24 08:30:00"),
    ("aqing", "text", "日更完成✅", "2026-11-24 12:00:00"),
    ("leader1", "text", CHAIN_LEADER, "2026-11-25 09:00:00"),
    ("aqing", "text", CHAIN_AQING, "2026-11-25 10:00:00"),
    ("xiaolu", "text", "打卡", "2026-11-26 07:00:00"),
    ("xiaolu", "text", "今天打卡✅", "2026-11-26 20:00:00"),
    ("dawei", "text", "打卡", "2026-11-28 23:59:59"),
    ("dawei", "text", "日更", "2026-11-29 00:00:01"),
    ("xiaolu", "image", "", "2026-11-29 18:00:00"),
]
# what only the archive sees: members posting without @, the bot's own replies, other conversations
ARCHIVE_ONLY = [
    ("aqing", "text", "收到", "2026-11-23 10:05:00"),
    ("leader1", "text", "大家记得今晚12点前打卡哦", "2026-11-24 20:00:00"),
    ("dawei", "text", "今天没更，明天补", "2026-11-27 22:00:00"),
    ("wbRobot0123456789abcdefAA", "text", "✅ 小鹿 打卡成功｜连续 1 天", "2026-11-27 09:00:01"),
    ("aqing", "emotion", "", "2026-11-27 09:30:00"),
]
DATES = [f"2026-11-{d}" for d in range(23, 30)]


def test_a_week_without_mentions_gives_the_same_register_as_the_robot(setup, robot, sim, r, capsys):
    settings = setup.configure()

    # 1. the week posted through robot callbacks (members @ the robot)
    r.hset(keys.names("xhs01"), mapping=NAMES)
    for userid, kind, text, when in WEEK:
        robot(userid, NAMES[userid], f"@打卡助手 {text}" if text else "", when, msgtype=kind)
    through_robot = {d: register_rows(r, settings, d) for d in DATES}
    robot_replies = len(group_texts(sim))

    # 2. the same week through the archive, nobody @-ing anyone, with what only the archive sees
    r.flushall()
    settings = setup.configure()
    r.hset(keys.names("xhs01"), mapping=NAMES)  # display names learnt before (robot posts, commands)
    for userid, kind, text, when in sorted(WEEK + ARCHIVE_ONLY, key=lambda p: p[3]):
        ts = at(when)
        if kind == "text":
            setup.text(ROOM, userid, text, ts, tolist=list(NAMES))
        elif kind == "image":
            setup.image(ROOM, userid, ts)
        elif kind == "mixed":
            setup.mixed(ROOM, userid, text, ts)
        else:
            setup.other(ROOM, userid, kind, {"type": 1, "width": 100, "height": 100}, ts)
    setup.text("wrchat02", "leader2", "欢迎大家", at("2026-11-23 08:00:00"))  # another configured group
    assert pull(r, setup) == len(WEEK) + len(ARCHIVE_ONLY) + 1 - 1  # the robot's own post is skipped
    through_archive = {d: register_rows(r, settings, d) for d in DATES}

    assert through_archive == through_robot
    sunday = {m["userid"]: m for m in through_archive["2026-11-29"]}
    assert sunday["momo"]["total"] == 0 and sunday["momo"]["name"] == "momo"  # silence is visible too
    assert sunday["xiaolu"]["week_count"] == 5 and sunday["dawei"]["week_count"] == 4
    assert "wbRobot0123456789abcdefAA" not in sunday
    # archive posts never get a hint; counted ones are praised like robot ones
    sent = group_texts(sim)[robot_replies:]
    assert not any(t in sent for t in texts.HINTS)
    assert not any("没认出" in t or "想打卡的话" in t for t in sent)
    assert 0 < len(sent) <= robot_replies


def test_archive_only_members_are_listed_when_they_check_in(setup, r):
    settings = setup.configure()
    setup.text(ROOM, "dawei", "打卡", at("2026-11-23 09:00:00"))  # not configured, no name known
    setup.text(ROOM, "zhujiao", "收到", at("2026-11-23 09:01:00"))  # an assistant who only chats
    setup.text(ROOM, "zhujiao", "大家记得打卡", at("2026-11-23 09:02:00"))
    assert pull(r, setup) == 3
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert rows["dawei"]["checked_in"] and rows["dawei"]["name"] == "dawei"
    assert "zhujiao" not in rows
    r.hset(keys.names("xhs01"), "dawei", "大伟")  # learnt later, e.g. from the robot
    setup.text(ROOM, "dawei", "日更", at("2026-11-24 09:00:00"))
    pull(r, setup)
    assert r.hget(keys.names("xhs01"), "dawei").decode() == "大伟"
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-24")}["dawei"]["name"] == "大伟"


def test_a_post_seen_by_robot_and_archive_counts_once(setup, robot, sim, r, accepted):
    settings = setup.configure()
    robot("xiaolu", "小鹿", "@打卡助手 打卡", "2026-11-23 09:00:00", msgid="shared-1")
    setup.text(ROOM, "xiaolu", "@打卡助手 打卡", at("2026-11-23 09:00:00"), msgid="shared-1")
    robot("aqing", "阿青", "@打卡助手 打卡", "2026-11-23 09:10:00", msgid="robot-2")
    setup.text(ROOM, "aqing", "@打卡助手 打卡", at("2026-11-23 09:10:00"), msgid="archive-2")
    # a leader command seen by both runs once (commands come from the robot and the app only)
    robot("leader1", "婷婷", "@打卡助手 目标 小鹿 4", "2026-11-23 09:20:00", msgid="robot-cmd")
    setup.text(ROOM, "leader1", "@打卡助手 目标 小鹿 4", at("2026-11-23 09:20:00"), msgid="archive-cmd")
    sent_before = len(sim.state.sent_messages())

    assert pull(r, setup) == 2
    assert accepted == {"shared-1": [False], "archive-2": [True], "archive-cmd": [True]}
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert rows["xiaolu"]["total"] == 1 and rows["aqing"]["total"] == 1
    assert rows["xiaolu"]["week_goal"] == 4
    assert len(sim.state.sent_messages()) == sent_before  # the archive copies say nothing
    sent = group_texts(sim)
    assert sum("阿青 打卡成功" in t for t in sent) == 1 and not any("今天已经打过卡" in t for t in sent)
    assert len(r.lrange(keys.audit("xhs01"), 0, -1)) == 1


# --- the cursor: restarts, parallel pullers, crashes, lost locks --------------------------------------


def chatter(asim, n: int, start: str = "2026-11-23 09:00:00") -> list[str]:
    users = ["xiaolu", "aqing", "momo", "dawei"]
    return [asim.text(ROOM, users[i % 4], f"随便聊聊 {i}", at(start) + i) for i in range(n)]


def test_restart_reads_on_from_the_cursor(setup, r, accepted):
    ids = chatter(setup, 25)
    assert archive.Puller(r, setup).pull(limit=10, max_batches=1) == 10
    assert int(r.get(keys.ARCHIVE_SEQ)) == 10
    assert archive.Puller(r, setup).pull(limit=10) == 15  # a new puller: a restarted process
    assert archive.Puller(r, setup).pull(limit=10) == 0
    assert int(r.get(keys.ARCHIVE_SEQ)) == 25
    assert set(setup.decrypted) == set(ids) and set(setup.decrypted.values()) == {1}
    assert accepted == {i: [True] for i in ids}
    assert r.get(keys.ARCHIVE_LOCK) is None


def test_parallel_pullers_skip_and_double_nothing(setup, r, accepted):
    setup.delay = 0.005
    ids: list[str] = []
    done = threading.Event()

    def poster():
        for i in range(60):
            ids.append(setup.text(ROOM, ["xiaolu", "aqing"][i % 2], f"聊天 {i}", at("2026-11-23 09:00:00") + i))
            time.sleep(0.002)
        done.set()

    errors = []

    def puller():
        try:
            while not done.is_set():
                archive.Puller(r, setup).pull(limit=7)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poster)] + [threading.Thread(target=puller) for _ in range(4)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert not errors
    archive.Puller(r, setup).pull(limit=7)
    assert len(ids) == 60
    assert set(setup.decrypted) == set(ids) and set(setup.decrypted.values()) == {1}  # each read once
    assert accepted == {i: [True] for i in ids}
    assert int(r.get(keys.ARCHIVE_SEQ)) == 60


def test_a_crash_between_inbox_and_cursor_rereads_without_doubling(setup, r, monkeypatch, accepted):
    settings = setup.configure()
    ids = [
        setup.text(ROOM, u, "打卡", at("2026-11-23 09:00:00") + i) for i, u in enumerate(["xiaolu", "aqing", "dawei"])
    ]
    ids += [setup.text(ROOM, "xiaolu", "今天打卡✅", at("2026-11-24 09:00:00"))]
    spy = ingest.accept
    calls = {"n": 0}

    def crashing(r_, event, *args, **kw):
        result = spy(r_, event, *args, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")  # the post is in the inbox, the cursor not moved
        return result

    monkeypatch.setattr(ingest, "accept", crashing)
    with pytest.raises(RuntimeError):
        archive.Puller(r, setup).pull()
    assert r.get(keys.ARCHIVE_SEQ) is None and r.get(keys.ARCHIVE_LOCK) is None
    monkeypatch.setattr(ingest, "accept", spy)

    assert archive.Puller(r, setup).pull() == 2
    assert accepted == {ids[0]: [True, False], ids[1]: [True, False], ids[2]: [True], ids[3]: [True]}
    assert setup.decrypted[ids[0]] == 2 and setup.decrypted[ids[3]] == 1
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-24")}
    assert rows["xiaolu"]["total"] == 2 and rows["aqing"]["total"] == 1 and rows["dawei"]["total"] == 1
    assert r.hget(keys.METRICS, "checkins") == b"4"


def test_a_puller_that_lost_its_lock_cannot_move_the_cursor(setup, r, accepted):
    ids = chatter(setup, 5)
    stale = archive.Puller(r, setup, lock_ttl_ms=60_000)
    real_get = setup.get_chat_data
    state = {"first": True}

    class Slow:
        """The stale puller stalls past its lock TTL; meanwhile another puller does the work."""

        def get_chat_data(self, seq, limit):
            answer = real_get(seq, limit)
            if state["first"]:
                state["first"] = False
                r.delete(keys.ARCHIVE_LOCK)  # the TTL ran out
                assert archive.Puller(r, setup).pull() == 5
                more = chatter(setup, 2, "2026-11-23 10:00:00")
                ids.extend(more)
                r.set(keys.ARCHIVE_LOCK, "someone-else", px=60_000)  # and a third one holds it now
            return answer

        def decrypt_data(self, key, msg):
            return setup.decrypt_data(key, msg)

    stale.sdk = Slow()
    assert stale.pull() == 0
    assert int(r.get(keys.ARCHIVE_SEQ)) == 5  # not moved by the stale puller
    assert r.get(keys.ARCHIVE_LOCK) == b"someone-else"  # and its release did not free another's lock
    assert all(v[0] is True and not any(v[1:]) for v in accepted.values())
    r.delete(keys.ARCHIVE_LOCK)
    assert archive.Puller(r, setup).pull() == 2
    assert accepted == {i: [True] if i in ids[5:] else [True, False] for i in ids}


def test_a_busy_pull_is_asked_to_go_round_again(setup, r, accepted):
    chatter(setup, 3)
    real_get = setup.get_chat_data
    state = {"first": True}

    class Busy:
        """While the holder works on its first batch, another pull comes and new posts arrive."""

        def get_chat_data(self, seq, limit):
            answer = real_get(seq, limit)
            if state["first"]:
                state["first"] = False
                assert archive.Puller(r, setup).pull() == 0  # finds the lock taken: leaves the flag
                chatter(setup, 2, "2026-11-23 11:00:00")
            return answer

        def decrypt_data(self, key, msg):
            return setup.decrypt_data(key, msg)

    assert archive.Puller(r, Busy()).pull() == 5  # the holder went round once more
    assert len(accepted) == 5 and r.get(keys.ARCHIVE_AGAIN) is None


def test_a_failing_get_chat_data_moves_nothing(setup, r, caplog):
    ids = chatter(setup, 3)
    setup.fail_next(10001)
    with caplog.at_level(logging.ERROR, logger="workers.archive"):
        assert pull(r, setup) == 0
    assert r.get(keys.ARCHIVE_SEQ) is None and "errcode 10001" in caplog.text
    assert pull(r, setup) == 3 and set(setup.decrypted) == set(ids)


# --- recalls ----------------------------------------------------------------------------------------------


def test_a_recall_uncounts_the_same_day_only(setup, r):
    settings = setup.configure()
    a1 = setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))
    b1 = setup.text(ROOM, "aqing", "打卡", at("2026-11-23 10:00:00"))
    d1 = setup.text(ROOM, "dawei", "打卡", at("2026-11-23 11:00:00"))
    d2 = setup.image(ROOM, "dawei", at("2026-11-23 11:05:00"))
    pull(r, setup)
    mon = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert mon["xiaolu"]["checked_in"] and mon["aqing"]["checked_in"] and mon["dawei"]["checked_in"]

    setup.recall(ROOM, "xiaolu", a1, at("2026-11-23 09:01:00"))  # same day: un-counted
    setup.recall(ROOM, "dawei", d1, at("2026-11-23 11:06:00"))  # the image still counts the day
    setup.recall(ROOM, "leader1", b1, at("2026-11-24 08:00:00"))  # an admin, the next day: stays
    pull(r, setup)
    mon = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert not mon["xiaolu"]["checked_in"] and mon["xiaolu"]["total"] == 0
    assert mon["aqing"]["checked_in"] and mon["dawei"]["checked_in"]

    setup.recall(ROOM, "dawei", d2, at("2026-11-23 11:07:00"))  # now nothing carries the day
    pull(r, setup)
    mon = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert not mon["dawei"]["checked_in"]
    # replaying a recall (a crash re-read) changes nothing, nor does an unknown message
    assert archive.unrecord(r, "xhs01", "xiaolu", a1, now=at("2026-11-23 09:02:00")) == 0
    assert archive.unrecord(r, "xhs01", "xiaolu", "no-such-msgid", now=at("2026-11-23 09:02:00")) == 0
    # the member posts again the same day: counts again
    setup.text(ROOM, "xiaolu", "重新打卡✅", at("2026-11-23 12:00:00"))
    pull(r, setup)
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]["checked_in"]


def test_a_recall_before_the_worker_saw_the_post_counts_nothing(setup, r):
    settings = setup.configure()
    e1 = setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))
    setup.recall(ROOM, "xiaolu", e1, at("2026-11-23 09:00:30"))
    jobs.set_inline(True, defer=("inbox",))  # no worker running: the post waits in the inbox
    try:
        pull(r, setup)
    finally:
        jobs.set_inline(True)
    assert r.xlen("wb:inbox") == 1
    ingest.drain_inbox()
    row = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]
    assert not row["checked_in"] and row["total"] == 0


# --- privacy ----------------------------------------------------------------------------------------------


def _dump(r, leave_out: tuple[str, ...] = ()) -> str:
    out = []
    for key in r.scan_iter(count=1000):
        if key.decode() in leave_out:
            continue
        kind = r.type(key).decode()
        out.append(key.decode("utf-8", "replace"))
        if kind == "string":
            out.append(repr(r.get(key)))
        elif kind == "hash":
            out.append(repr(r.hgetall(key)))
        elif kind == "list":
            out.append(repr(r.lrange(key, 0, -1)))
        elif kind == "set":
            out.append(repr(r.smembers(key)))
        elif kind == "zset":
            out.append(repr(r.zrange(key, 0, -1, withscores=True)))
        elif kind == "stream":
            out.append(repr(r.xrange(key)))
    text = "\n".join(out)
    return text + "\n" + text.encode().decode("unicode_escape", "ignore")


def test_unconfigured_conversations_are_never_stored(setup, r, caplog):
    """Nothing of another conversation is kept, except, for a room where configured members posted,
    its id with a count and a time (`wecom-bot archive --rooms`, to map a room id that differs)."""
    settings = setup.configure()
    jobs.set_inline(True, defer=("inbox",))  # keep the inbox entries, to look into them too
    secret_ids = [
        setup.text(
            "wrOTHERROOM", "xiaolu", "SECRET-other-room 打卡 http://xhslink.com/a/Secret1", at("2026-11-23 09:00:00")
        ),
        setup.image("wrOTHERROOM", "aqing", at("2026-11-23 09:01:00")),
        setup.mixed("wrOTHERROOM", "aqing", "SECRET-mixed 打卡", at("2026-11-23 09:02:00")),
        setup.text("", "xiaolu", "SECRET-private 打卡", at("2026-11-23 09:03:00"), tolist=["aqing"]),
        setup.agree("xiaolu", "wmExternal0123456789", at("2026-11-23 09:04:00")),
    ]
    secret_ids.append(setup.recall("wrOTHERROOM", "xiaolu", secret_ids[0], at("2026-11-23 09:05:00")))
    secret_ids.append(setup.text("wrSTRANGERS", "outsider", "SECRET-strangers", at("2026-11-23 09:05:30")))
    ours = setup.text(ROOM, "aqing", "打卡", at("2026-11-23 09:06:00"))
    tally = (keys.ARCHIVE_ROOMS, keys.ARCHIVE_ROOMS_LAST)
    with caplog.at_level(logging.DEBUG):
        assert pull(r, setup) == 1
        dump_with_inbox = _dump(r, leave_out=tally)
        ingest.drain_inbox()
    jobs.set_inline(True)
    dump = dump_with_inbox + _dump(r, leave_out=tally)
    assert ours in dump_with_inbox  # the configured group's post is there
    for needle in ["SECRET", "wrOTHERROOM", "wrSTRANGERS", "Secret1", "wmExternal0123456789", *secret_ids]:
        assert needle not in dump, needle
        assert needle not in caplog.text, needle
    # the tally: room ids with the number of configured members' posts and the latest one's time, no more
    assert r.hgetall(keys.ARCHIVE_ROOMS) == {b"wrOTHERROOM": b"3", ROOM.encode(): b"1"}
    assert r.hgetall(keys.ARCHIVE_ROOMS_LAST) == {
        b"wrOTHERROOM": str(at("2026-11-23 09:02:00")).encode(),
        ROOM.encode(): str(at("2026-11-23 09:06:00")).encode(),
    }
    assert 0 < r.ttl(keys.ARCHIVE_ROOMS) <= keys.ARCHIVE_ROOMS_TTL
    assert r.hlen(keys.ARCHIVE_PARKED) == 0 and int(r.get(keys.ARCHIVE_SEQ)) == 8
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]["total"] == 0
    assert not r.smembers(keys.UNKNOWN_CHATS)


# --- keys that do not fit ---------------------------------------------------------------------------------


def test_a_wrong_private_key_parks_records_cleanly(setup, r, caplog, accepted, capsys):
    wrong = pem_of(_OTHER_KEY)
    settings = setup.configure(private_key_pem=wrong)
    ids = [setup.text(ROOM, "xiaolu", f"SECRET-CONTENT 打卡 {i}", at("2026-11-23 09:00:00") + i) for i in range(3)]
    with caplog.at_level(logging.DEBUG):
        assert pull(r, setup) == 0
    assert int(r.get(keys.ARCHIVE_SEQ)) == 3  # not stuck: the cursor moved past them
    parked = archive.parked(r)
    assert [p["seq"] for p in parked] == [1, 2, 3] and [p["msgid"] for p in parked] == ids
    assert all("WECOM_ARCHIVE_PRIVATE_KEY" in p["error"] and p["publickey_ver"] == 1 for p in parked)
    assert caplog.text.count("parked") == 3
    for needle in [
        "PRIVATE KEY",
        wrong.splitlines()[1][:20],
        setup.private_key_pem.splitlines()[1][:20],
        ARCHIVE_SECRET,
        "SECRET-CONTENT",
    ]:
        assert needle not in caplog.text and needle not in json.dumps(parked)
    assert not accepted and not setup.decrypted
    metrics = create_app().test_client().get("/metrics").get_data(as_text=True)
    assert "wecom_bot_archive_parked_total 3" in metrics and "wecom_bot_archive_records_total 3" in metrics
    calls = len(setup.get_calls)
    assert pull(r, setup) == 0 and setup.get_calls[calls:] == [(3, 1000)]  # not read again

    # the operator looks, fixes the key, and has the parked records fetched again and counted
    from wecom_bot import cli

    capsys.readouterr()
    assert cli.main(["archive"]) == 0
    listed = capsys.readouterr().out
    assert "cursor: seq 3" in listed and listed.count("parked: seq") == 3 and "PRIVATE KEY" not in listed
    setup.configure()
    assert cli.main(["archive", "--retry-parked"]) == 0
    assert "retried: 3 record(s)" in capsys.readouterr().out
    assert archive.parked(r) == []
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]["checked_in"]


def test_one_record_under_a_foreign_key_is_parked_and_the_rest_go_on(setup, r, accepted):
    a = setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))
    b = setup.text(
        ROOM, "aqing", "打卡", at("2026-11-23 09:01:00"), public_key=_OTHER_KEY.public_key(), publickey_ver=2
    )
    c = setup.text(ROOM, "dawei", "打卡", at("2026-11-23 09:02:00"))
    assert pull(r, setup) == 2
    assert set(accepted) == {a, c}
    assert [(p["seq"], p["msgid"], p["publickey_ver"]) for p in archive.parked(r)] == [(2, b, 2)]
    # a key rotation: both keys configured, the parked record opens now
    setup.configure(private_key_pem=setup.private_key_pem + "\n" + pem_of(_OTHER_KEY))
    assert archive.retry_parked(r, setup) == 1 and set(accepted) == {a, b, c}


def test_a_key_the_sdk_refuses_is_parked(setup, r):
    class Refusing:
        get_chat_data = staticmethod(setup.get_chat_data)

        @staticmethod
        def decrypt_data(key, msg):
            raise archive.ArchiveSdkError("DecryptData", 10006)

    chatter(setup, 2)
    assert archive.Puller(r, Refusing()).pull() == 0
    assert all(p["error"].startswith("DecryptData failed with code 10006") for p in archive.parked(r))
    assert len(archive.parked(r)) == 2
    assert int(r.get(keys.ARCHIVE_SEQ)) == 2


# --- the entry points ---------------------------------------------------------------------------------------


def test_pull_if_configured_and_the_wake_up(setup, r, accepted):
    chatter(setup, 2)
    assert archive.pull_if_configured() == 2
    chatter(setup, 3, "2026-11-23 12:00:00")
    assert archive.wake() is True  # jobs run inline in the tests: the pull job ran at once
    assert len(accepted) == 5
    assert archive.pull_job() == 0


def test_msgaudit_notify_on_the_app_callback_wakes_the_puller(setup, r, accepted):
    from tests.conftest import SIM_CORP_ID
    from wecom_bot.sim.builders import app_xml

    app_token, app_aes = "appToken456", "kWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2D"
    setup.configure(WECOM_TOKEN=app_token, WECOM_ENCODING_AES_KEY=app_aes)
    ids = chatter(setup, 3)
    xml = app_xml(SIM_CORP_ID, "sys", msgtype="event", event="msgaudit_notify", create_time=at("2026-11-23 09:00:00"))
    signed = sign(CallbackCrypto(app_token, app_aes, SIM_CORP_ID), "/wecom/callback", xml, at("2026-11-23 09:00:00"))
    assert create_app().test_client().post(signed.path, data=signed.body).status_code == 200
    assert accepted == {i: [True] for i in ids}  # jobs run inline: the pull ran at once


# --- the native loader, against a stand-in library built from WeWorkFinanceSdk_C.h's signatures -----------

FAKE_SDK_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef struct { int ready; } WeWorkFinanceSdk_t;
typedef struct Slice_t { char* buf; int len; } Slice_t;
int live_sdks = 0; /* NewSdk minus DestroySdk: handles not destroyed */
static void put(Slice_t* s, const char* text) {
    s->len = (int)strlen(text); s->buf = malloc(s->len + 1); memcpy(s->buf, text, s->len + 1);
}
WeWorkFinanceSdk_t* NewSdk() { live_sdks++; return calloc(1, sizeof(WeWorkFinanceSdk_t)); }
int Init(WeWorkFinanceSdk_t* sdk, const char* corpid, const char* secret) {
    /* what the real SDK is reported to do: print its gettoken response to stdout */
    printf("{\"errcode\":0,\"access_token\":\"LEAKED-ACCESS-TOKEN-1\",\"expires_in\":7200}\n");
    fflush(stdout);
    if (strcmp(secret, "right-secret") != 0) return 10011;
    sdk->ready = 1; return 0;
}
int GetChatData(WeWorkFinanceSdk_t* sdk, unsigned long long seq, unsigned int limit, const char* proxy,
                const char* passwd, int timeout, Slice_t* out) {
    char text[512];
    if (!sdk->ready) return 10003;
    printf("gettoken {\"access_token\":\"LEAKED-ACCESS-TOKEN-2\"}\n"); /* left in C's stdio buffer */
    if (limit > 1000) return 10000;
    snprintf(text, sizeof text, "{\"errcode\":0,\"errmsg\":\"ok\",\"chatdata\":[{\"seq\":%llu,\"msgid\":\"m\","
             "\"publickey_ver\":%d,\"encrypt_random_key\":\"%s\",\"encrypt_chat_msg\":\"%s\"}]}",
             seq + 1, timeout, proxy, passwd);
    put(out, text); return 0;
}
int DecryptData(const char* key, const char* msg, Slice_t* out) {
    char text[512];
    if (strcmp(key, "k") != 0) return 10006;
    snprintf(text, sizeof text, "{\"msgid\":\"%s\",\"text\":{\"content\":\"line1\nline2\"}}", msg);
    put(out, text); return 0;
}
Slice_t* NewSlice() { return calloc(1, sizeof(Slice_t)); }
void FreeSlice(Slice_t* s) { if (s) { free(s->buf); free(s); } }
char* GetContentFromSlice(Slice_t* s) { return s->buf; }
int GetSliceLen(Slice_t* s) { return s->len; }
void DestroySdk(WeWorkFinanceSdk_t* sdk) { live_sdks--; free(sdk); }
"""

# a library that is not the SDK: two of its functions only
PARTIAL_SDK_C = r"""
void* NewSdk() { return 0; }
int Init(void* sdk, const char* corpid, const char* secret) { return 0; }
"""


def _compile(tmp_path, source: str, name: str = "libWeWorkFinanceSdk_C.so"):
    """The stand-in library built with the C compiler (skips the test without one)."""
    import shutil
    import subprocess

    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        pytest.skip("no C compiler to build the stand-in SDK")
    folder = tmp_path / f"lib{abs(hash(source)) % 10**8}"
    folder.mkdir(exist_ok=True)
    src, lib = folder / "sdk.c", folder / name
    src.write_text(source)
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    return lib


def test_the_native_loader_follows_the_c_api(tmp_path):
    lib = _compile(tmp_path, FAKE_SDK_C)
    with pytest.raises(archive.ArchiveSdkError) as err:
        archive.NativeSdk(str(lib), "wwcorp", "wrong-secret")
    assert err.value.code == 10011 and "wrong-secret" not in str(err.value)
    sdk = archive.NativeSdk(
        str(lib), "wwcorp", "right-secret", proxy="http://proxy:3128", proxy_password="u:p", timeout=7
    )
    assert isinstance(sdk, archive.ArchiveSdk)
    data = sdk.get_chat_data(2**40, 1000)
    assert data["chatdata"] == [
        {
            "seq": 2**40 + 1,
            "msgid": "m",
            "publickey_ver": 7,
            "encrypt_random_key": "http://proxy:3128",
            "encrypt_chat_msg": "u:p",
        }
    ]
    with pytest.raises(archive.ArchiveSdkError) as err:
        sdk.get_chat_data(0, 1001)
    assert err.value.code == 10000
    text = sdk.decrypt_data("k", "abc")
    assert json.loads(text, strict=False) == {"msgid": "abc", "text": {"content": "line1\nline2"}}
    with pytest.raises(archive.ArchiveSdkError):
        sdk.decrypt_data("other", "abc")
    sdk.close()


# --- the tick and msgaudit_notify queue the pull through the one enqueue seam -------------------------------


def _pull_jobs(r) -> list:
    from rq import Queue

    return [j for j in Queue("default", connection=r).get_jobs() if j.func_name == "workers.archive.pull_job"]


def test_the_minute_tick_queues_one_pull_through_the_job_seam(setup, r, monkeypatch, accepted):
    from workers import schedule

    seam = []
    real_enqueue = jobs.enqueue
    monkeypatch.setattr(
        jobs, "enqueue", lambda q, func, *a, **kw: seam.append((q, func)) or real_enqueue(q, func, *a, **kw)
    )
    ids = chatter(setup, 3)
    jobs.set_inline(True, defer=("default",))  # a real queue: the job waits for a worker
    try:
        first = schedule.tick(at("2026-11-23 09:00:30"))
        schedule.tick(at("2026-11-23 09:01:30"))  # the job has not started yet: not queued twice
        assert first["archive"] == "pull queued"
        assert seam.count(("default", "workers.archive.pull_job")) == 1 and len(_pull_jobs(r)) == 1
        assert not accepted  # nothing pulled inside the tick itself
        from rq import SimpleWorker

        SimpleWorker(["default"], connection=r).work(burst=True)  # a worker runs it
        assert accepted == {i: [True] for i in ids} and r.get(keys.ARCHIVE_QUEUED) is None
        schedule.tick(at("2026-11-23 09:02:30"))  # the next minute queues the next pull
        assert seam.count(("default", "workers.archive.pull_job")) == 2
    finally:
        jobs.set_inline(True)


def test_the_tick_pulls_at_once_when_jobs_run_inline(setup, r, accepted):
    from workers import schedule

    settings = setup.configure()
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))
    assert schedule.tick(at("2026-11-23 09:00:30"))["archive"] == "pull queued"
    assert len(accepted) == 1
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]["checked_in"]


def test_without_the_archive_the_tick_and_notify_queue_nothing(sim, env, r, monkeypatch):
    from workers import schedule

    archive.install_sdk(None)
    env(WECOM_ROBOT_TOKEN=TOKEN, WECOM_ROBOT_ENCODING_AES_KEY=AES)
    seam = []
    real_enqueue = jobs.enqueue
    monkeypatch.setattr(jobs, "enqueue", lambda q, func, *a, **kw: seam.append(func) or real_enqueue(q, func, *a, **kw))
    result = schedule.tick(at("2026-11-23 09:00:30"))
    assert "archive" not in result
    assert archive.schedule_pull() is False and archive.wake() is False
    assert "workers.archive.pull_job" not in seam and not r.keys("wb:archive:*")


def test_msgaudit_notify_queues_the_pull_job_in_a_real_queue(setup, r, accepted):
    from tests.conftest import SIM_CORP_ID
    from wecom_bot.sim.builders import app_xml

    app_token, app_aes = "appToken456", "kWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2D"
    setup.configure(WECOM_TOKEN=app_token, WECOM_ENCODING_AES_KEY=app_aes)
    ids = chatter(setup, 2)
    client = create_app().test_client()
    jobs.set_inline(True, defer=("default",))
    try:
        for i in range(3):  # a burst of notifications: one job waiting is enough
            xml = app_xml(
                SIM_CORP_ID,
                "sys",
                msgtype="event",
                event="msgaudit_notify",
                agent_id="2000004",
                create_time=at("2026-11-23 09:00:00") + i,
            )
            signed = sign(
                CallbackCrypto(app_token, app_aes, SIM_CORP_ID), "/wecom/callback", xml, at("2026-11-23 09:00:00") + i
            )
            assert client.post(signed.path, data=signed.body).status_code == 200
        assert len(_pull_jobs(r)) == 1 and not accepted
        from rq import SimpleWorker

        SimpleWorker(["default"], connection=r).work(burst=True)
        assert accepted == {i: [True] for i in ids}
    finally:
        jobs.set_inline(True)


def test_check_config_names_the_sources_without_the_archive(sim, env, capsys):
    archive.install_sdk(None)
    env(
        WECOM_ROBOT_TOKEN=TOKEN,
        WECOM_ROBOT_ENCODING_AES_KEY=AES,
        WECOM_TOKEN="appToken456",
        WECOM_ENCODING_AES_KEY="kWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2D",
    )
    capsys.readouterr()
    cli(["check-config"])
    assert "sources: group robot callback, app callback\n" in capsys.readouterr().out


# --- the robot-path week of tests/test_checkin_flow.py, replayed through the archive without any @ ----------


def _stats(capsys, date: str) -> dict:
    capsys.readouterr()
    assert cli(["stats", "xhs01", "--date", date, "--json"]) == 0
    return {m["userid"]: m for m in json.loads(capsys.readouterr().out)["members"]}


def test_the_robot_path_week_through_the_archive_gives_the_same_stats(setup, r, capsys):
    """tests/test_checkin_flow.py::test_a_week_of_checkins_through_encrypted_callbacks, without @ and
    with the archive's own quirks: a re-read batch instead of WeCom's retries, chatter in between."""
    setup.configure()
    r.hset(keys.names("xhs01"), mapping={"xiaolu": "小鹿", "aqing": "阿青", "momo": "Momo"})
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))
    setup.text(ROOM, "aqing", "已更 http://xhslink.com/a/Qw12Er", at("2026-11-23 10:00:00"))
    setup.text(ROOM, "aqing", "收到", at("2026-11-23 10:01:00"))
    setup.text(ROOM, "momo", "打卡", at("2026-11-23 23:59:59"))
    setup.text(ROOM, "momo", "日更完成", at("2026-11-24 00:00:01"))
    setup.text(ROOM, "xiaolu", "今日打卡✅", at("2026-11-24 08:00:00"))
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-24 20:00:00"))
    assert pull(r, setup) == 7
    r.delete(keys.ARCHIVE_SEQ)  # the cursor lost (say a restore): everything is read again
    assert pull(r, setup) == 0

    day1 = _stats(capsys, "2026-11-23")
    assert {u: (m["checked_in"], m["total"]) for u, m in day1.items()} == {
        "xiaolu": (True, 1),
        "aqing": (True, 1),
        "momo": (True, 1),
    }
    day2 = _stats(capsys, "2026-11-24")
    assert day2["momo"]["streak"] == 2 and day2["momo"]["week_count"] == 2
    assert day2["xiaolu"]["streak"] == 2 and day2["xiaolu"]["total"] == 2
    assert day2["aqing"]["streak"] == 1 and not day2["aqing"]["checked_in"]
    assert _stats(capsys, "2026-11-25")["aqing"]["streak"] == 0

    for d in range(25, 31):
        setup.text(ROOM, "xiaolu", "打卡", at(f"2026-11-{d:02d} 21:00:00"))
    pull(r, setup)
    sunday, monday = _stats(capsys, "2026-11-29"), _stats(capsys, "2026-11-30")
    assert sunday["xiaolu"]["week_count"] == 7 and sunday["xiaolu"]["week_goal"] == 3
    assert monday["xiaolu"]["week_count"] == 1 and monday["xiaolu"]["streak"] == 8
    assert monday["xiaolu"]["longest_streak"] == 8 and monday["xiaolu"]["total"] == 8


def test_the_export_is_the_same_through_robot_and_archive(setup, robot, r, tmp_path):
    settings = setup.configure()
    r.hset(keys.names("xhs01"), mapping=NAMES)
    for userid, kind, text, when in WEEK:
        robot(userid, NAMES[userid], f"@打卡助手 {text}" if text else "", when, msgtype=kind)
    assert cli(["export", "xhs01", "--format", "csv", "--output", str(tmp_path / "robot.csv")]) == 0

    r.flushall()
    setup.configure()
    r.hset(keys.names("xhs01"), mapping=NAMES)
    for userid, kind, text, when in sorted(WEEK + ARCHIVE_ONLY, key=lambda p: p[3]):
        ts = at(when)
        if kind == "text":
            setup.text(ROOM, userid, text, ts)
        elif kind == "image":
            setup.image(ROOM, userid, ts)
        elif kind == "mixed":
            setup.mixed(ROOM, userid, text, ts)
        else:
            setup.other(ROOM, userid, kind, {"type": 1}, ts)
    pull(r, setup)
    assert cli(["export", "xhs01", "--format", "csv", "--output", str(tmp_path / "archive.csv")]) == 0
    robot_csv = (tmp_path / "robot.csv").read_text("utf-8-sig")
    assert (tmp_path / "archive.csv").read_text("utf-8-sig") == robot_csv
    assert "小鹿" in robot_csv and settings.groups["xhs01"]


# --- archive posts never run commands ------------------------------------------------------------------------


def test_archive_posts_never_run_leader_or_member_commands(setup, sim, r):
    settings = setup.configure(BOT_ADMINS="admin1,leader1")
    r.hset(keys.names("xhs01"), mapping=NAMES)
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))
    pull(r, setup)
    before_rows = register_rows(r, settings, "2026-11-23")
    before_keys = {k for k in r.keys("wb:g:*")}
    sent = len(sim.state.sent_messages())
    commands = [
        ("leader1", "目标 小鹿 5"),
        ("leader1", "@打卡助手 退阶 小鹿 1"),
        ("leader1", "档案 小鹿 很努力"),
        ("leader1", "补卡 阿青 2026-11-22"),
        ("leader1", "请假 小鹿 2"),
        ("leader1", "本周"),
        ("leader1", "导出"),
        ("leader1", "暂停"),
        ("leader1", "移除 小鹿"),
        ("leader1", "加入 zhangsan"),
        ("admin1", "goal xiaolu 6"),
        ("xiaolu", "撤销"),
        ("xiaolu", "请假 3"),
        ("xiaolu", "我的"),
        ("xiaolu", "免打扰"),
        ("aqing", "帮助"),
        ("aqing", "不公开"),
    ]
    for i, (userid, text) in enumerate(commands):
        setup.text(ROOM, userid, text, at("2026-11-23 10:00:00") + i)
    assert pull(r, setup) == len(commands)
    assert register_rows(r, settings, "2026-11-23") == before_rows
    assert {k for k in r.keys("wb:g:*")} == before_keys  # no goal, note, leave, pause, roster
    assert not r.lrange(keys.audit("xhs01"), 0, -1) and not r.keys("wb:cmd:*")
    assert len(sim.state.sent_messages()) == sent  # no answer, no refusal, no export


# --- recalls of 接龙 and re-reads ---------------------------------------------------------------------------

LEADER_CHAIN = "#接龙\n11月23日 更文打卡\n例 名字 已更/未更 笔记链接\n\n1. 小鹿 已更\n2. 阿青 已更\n3. 大伟 未更"


def test_a_recalled_leader_chain_uncounts_everyone_it_credited(setup, r):
    settings = setup.configure()
    r.hset(keys.names("xhs01"), mapping=NAMES)
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 08:00:00"))  # her own post carries her day
    chain = setup.text(ROOM, "leader1", LEADER_CHAIN, at("2026-11-23 09:00:00"))
    pull(r, setup)
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert rows["xiaolu"]["checked_in"] and rows["aqing"]["checked_in"] and not rows["dawei"]["checked_in"]

    setup.recall(ROOM, "leader1", chain, at("2026-11-23 09:02:00"))
    pull(r, setup)
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert rows["xiaolu"]["checked_in"] and not rows["aqing"]["checked_in"] and rows["aqing"]["total"] == 0


def test_a_chain_carries_the_day_when_the_own_post_is_recalled(setup, r):
    settings = setup.configure()
    r.hset(keys.names("xhs01"), mapping=NAMES)
    own = setup.text(ROOM, "aqing", "打卡", at("2026-11-23 08:00:00"))
    setup.text(ROOM, "leader1", LEADER_CHAIN, at("2026-11-23 09:00:00"))  # credits her once more
    pull(r, setup)
    setup.recall(ROOM, "aqing", own, at("2026-11-23 09:30:00"))
    pull(r, setup)
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["aqing"]["checked_in"]


def test_a_chain_recalled_before_the_worker_saw_it_credits_nobody(setup, r):
    settings = setup.configure()
    r.hset(keys.names("xhs01"), mapping=NAMES)
    chain = setup.text(ROOM, "leader1", LEADER_CHAIN, at("2026-11-23 09:00:00"))
    setup.recall(ROOM, "leader1", chain, at("2026-11-23 09:00:20"))
    jobs.set_inline(True, defer=("inbox",))
    try:
        pull(r, setup)
    finally:
        jobs.set_inline(True)
    ingest.drain_inbox()
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert not any(m["checked_in"] for m in rows.values())


def test_a_recalled_post_read_again_after_a_crash_never_carries_the_day(setup, r):
    settings = setup.configure()
    first = setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))
    setup.recall(ROOM, "xiaolu", first, at("2026-11-23 09:01:00"))
    second = setup.image(ROOM, "xiaolu", at("2026-11-23 10:00:00"))
    pull(r, setup)
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]["checked_in"]
    r.delete(keys.ARCHIVE_SEQ)  # a crash before the cursor moved: the whole batch again
    pull(r, setup)
    setup.recall(ROOM, "xiaolu", second, at("2026-11-23 10:01:00"))
    pull(r, setup)
    row = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]
    assert not row["checked_in"] and row["total"] == 0


def test_a_parked_post_recalled_meanwhile_does_not_count_when_fetched_again(setup, r):
    settings = setup.configure()
    foreign = _OTHER_KEY.public_key()
    same = setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"), public_key=foreign, publickey_ver=2)
    setup.recall(ROOM, "xiaolu", same, at("2026-11-23 09:01:00"))  # the recall opens
    later = setup.text(ROOM, "aqing", "打卡", at("2026-11-23 09:00:00"), public_key=foreign, publickey_ver=2)
    setup.recall(ROOM, "aqing", later, at("2026-11-24 08:00:00"))  # recalled the next day
    assert pull(r, setup) == 0 and len(archive.parked(r)) == 2
    setup.configure(private_key_pem=setup.private_key_pem + pem_of(_OTHER_KEY))  # the key is fixed
    assert archive.retry_parked(r, setup) == 1 and archive.parked(r) == []
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert not rows["xiaolu"]["checked_in"] and rows["aqing"]["checked_in"]


# --- acknowledgements of announcements, seen only by the archive --------------------------------------------


def test_acknowledgements_without_mentions_answer_an_announcement(setup, sim, r):
    from workers import schedule

    setup.configure(BOT_NOTICE_ACK_HOURS="4")
    r.hset(keys.names("xhs01"), mapping=NAMES)
    setup.text(ROOM, "leader1", "#通知 周六晚 8 点直播，看到回复收到", at("2026-11-25 10:00:00"))
    setup.text(ROOM, "xiaolu", "收到", at("2026-11-25 10:05:00"))
    setup.text(ROOM, "aqing", "👌", at("2026-11-25 10:06:00"))
    setup.text(ROOM, "dawei", "今天没空", at("2026-11-25 11:00:00"))  # any reply is an answer
    pull(r, setup)
    sent_before = len(sim.state.sent_messages())
    schedule.tick(at("2026-11-25 14:00:30"))
    follow = [m for m in sim.state.sent_messages()[sent_before:] if "通知" in m.get("content", "")]
    assert len(follow) == 1 and follow[0].get("touser") == ["leader1"], follow
    assert "momo" in follow[0]["content"]  # the silent one, by name
    assert not any(n in follow[0]["content"] for n in ("小鹿", "阿青", "大伟"))


# --- the archive's room id, mapped to a group ----------------------------------------------------------------


def test_a_room_id_that_differs_from_the_chat_id_is_found_and_mapped(setup, r, capsys):
    settings = setup.configure()
    assert settings.groups["xhs01"].room_id == ROOM  # by default the robot callback's ChatId
    setup.text("wrARCHIVEROOM1", "xiaolu", "SECRET-TEXT 打卡", at("2026-11-23 09:00:00"))
    setup.image("wrARCHIVEROOM1", "aqing", at("2026-11-23 09:05:00"))
    setup.text("wrARCHIVEROOM1", "outsider", "SECRET-hello", at("2026-11-23 09:06:00"))  # not configured
    setup.text("wrCOMPANYROOM", "leader1", "SECRET-周会改到三点", at("2026-11-23 10:00:00"))
    setup.text("", "xiaolu", "SECRET-private", at("2026-11-23 10:01:00"), tolist=["aqing"])  # no room
    assert pull(r, setup) == 0  # the archive's room id is not the ChatId: nothing maps, nothing counts

    capsys.readouterr()
    assert cli(["archive", "--rooms"]) == 0
    out = capsys.readouterr().out
    assert "  wrARCHIVEROOM1  2 post(s), latest 2026-11-23 09:05  unmapped\n" in out
    assert "  wrCOMPANYROOM  1 post(s), latest 2026-11-23 10:00  unmapped\n" in out
    assert out.index("wrARCHIVEROOM1") < out.index("wrCOMPANYROOM")  # most posts first
    for needle in ("SECRET", "周会", "打卡", "xiaolu", "aqing", "leader1", "outsider"):
        assert needle not in out, needle
    assert cli(["archive"]) == 0
    assert "rooms: 0 mapped, 2 unmapped (`wecom-bot archive --rooms` lists them)" in capsys.readouterr().out

    settings = setup.configure(GROUP_XHS01_ROOM_ID="wrARCHIVEROOM1")  # the admin maps it
    assert settings.groups["xhs01"].room_id == "wrARCHIVEROOM1" and settings.groups["xhs02"].room_id == "wrchat02"
    assert not [p for p in settings.problems if "ROOM_ID" in p]
    setup.text("wrARCHIVEROOM1", "xiaolu", "打卡", at("2026-11-24 09:00:00"))
    setup.text(ROOM, "aqing", "打卡", at("2026-11-24 09:01:00"))  # the ChatId is no longer the room
    assert pull(r, setup) == 1
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-24")}
    assert rows["xiaolu"]["checked_in"] and not rows["aqing"]["checked_in"]
    assert cli(["archive", "--rooms"]) == 0
    out = capsys.readouterr().out
    assert "  wrARCHIVEROOM1  3 post(s), latest 2026-11-24 09:00  group xhs01 (小红书01)\n" in out
    assert f"  {ROOM}  1 post(s), latest 2026-11-24 09:01  unmapped\n" in out


def test_room_id_settings_are_checked(setup):
    s = setup.configure(GROUP_XHS02_ROOM_ID=ROOM)  # xhs01's room by default
    assert any(p.startswith("GROUP_XHS02_ROOM_ID: group 'xhs01' has the same archive room") for p in s.problems)
    s = setup.configure(GROUP_XHS02_ROOM_ID="", GROUP_XHS09_ROOM_ID="wrX")
    assert any(p.startswith("GROUP_XHS09_ROOM_ID: group 'xhs09' is not listed") for p in s.problems)


def test_archive_rooms_without_any_yet(setup, r, capsys):
    capsys.readouterr()
    assert cli(["archive", "--rooms"]) == 0
    assert "rooms: none seen yet" in capsys.readouterr().out


# --- a library that is not the SDK --------------------------------------------------------------------------


def test_a_library_without_the_sdk_functions_is_one_clear_error(setup, tmp_path, caplog, capsys, monkeypatch):
    from workers.archive import triggers

    lib = _compile(tmp_path, PARTIAL_SDK_C)
    setup.configure(WECOM_ARCHIVE_SDK_PATH=str(lib))
    archive.install_sdk(None)  # the native loader, as in production
    monkeypatch.setattr(triggers, "_reported", set())
    with pytest.raises(archive.SdkLoadError) as err:
        archive.NativeSdk(str(lib), "wwcorp", "right-secret")
    assert isinstance(err.value, archive.ArchiveSdkError)
    assert "WECOM_ARCHIVE_SDK_PATH=" in str(err.value) and "GetChatData, DecryptData" in str(err.value)

    with caplog.at_level(logging.DEBUG, logger="workers.archive"):
        for _ in range(3):  # the minute job, minute after minute: no crash, one error
            assert archive.pull_job() == 0
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and "lacks" in errors[0] and "GetChatData" in errors[0], errors

    capsys.readouterr()
    assert cli(["check-config"]) == 1
    printed = capsys.readouterr().err
    assert "error: WECOM_ARCHIVE_SDK_PATH=" in printed and "lacks" in printed and "GetChatData" in printed

    not_a_library = tmp_path / "notes.so"
    not_a_library.write_text("not an ELF file")
    setup.configure(WECOM_ARCHIVE_SDK_PATH=str(not_a_library))
    assert cli(["check-config"]) == 1
    assert "cannot be loaded" in capsys.readouterr().err
    assert archive.pull_job() == 0


def test_check_config_loads_the_real_sdk_without_complaint(setup, tmp_path, capsys):
    lib = _compile(tmp_path, FAKE_SDK_C)
    setup.configure(WECOM_ARCHIVE_SDK_PATH=str(lib))
    archive.install_sdk(None)
    capsys.readouterr()
    cli(["check-config"])
    assert "WECOM_ARCHIVE_SDK_PATH" not in capsys.readouterr().err


# --- the native handle: destroyed on a settings change; the timeout within the pull lock ------------------------


def _live_handles(lib) -> int:
    import ctypes

    return ctypes.c_int.in_dll(ctypes.CDLL(str(lib)), "live_sdks").value


def test_a_settings_change_destroys_the_previous_handle(tmp_path):
    import dataclasses

    from config.settings import Settings

    lib = _compile(tmp_path, FAKE_SDK_C)
    archive.install_sdk(None)
    base = Settings(
        archive_sdk_path=str(lib),
        corp_id="wwcorp",
        archive_secret="right-secret",
        archive_private_key="-",
        archive_timeout=7,
    )
    try:
        first = archive.get_sdk(base)
        assert archive.get_sdk(base) is first and _live_handles(lib) == 1
        second = archive.get_sdk(dataclasses.replace(base, archive_timeout=9))  # the settings changed
        assert second is not first and _live_handles(lib) == 1  # DestroySdk on the old one
        with pytest.raises(archive.ArchiveSdkError):
            first.get_chat_data(0, 1)  # a destroyed handle is never used again
        assert second.get_chat_data(0, 1)["chatdata"][0]["publickey_ver"] == 9
        with pytest.raises(archive.ArchiveSdkError):  # Init refuses: the old one is destroyed all the same
            archive.get_sdk(dataclasses.replace(base, archive_secret="wrong-secret"))
        assert _live_handles(lib) == 0
        archive.get_sdk(base)
    finally:
        archive.close_sdk()
    assert _live_handles(lib) == 0


def test_the_timeout_is_capped_below_the_pull_lock(setup, tmp_path):
    from config.archive import TIMEOUT_CAP

    # one GetChatData (perhaps with a token fetch inside) and the batch's processing fit in the lock
    assert 2 * TIMEOUT_CAP * 1000 < keys.ARCHIVE_LOCK_TTL_MS
    s = setup.configure(WECOM_ARCHIVE_TIMEOUT="120")
    assert s.archive_timeout == TIMEOUT_CAP
    assert any(n.startswith(f"WECOM_ARCHIVE_TIMEOUT=120: capped at {TIMEOUT_CAP} s") for n in s.notes)
    assert not [p for p in s.problems if "TIMEOUT" in p]
    assert setup.configure(WECOM_ARCHIVE_TIMEOUT="20").archive_timeout == 20

    lib = _compile(tmp_path, FAKE_SDK_C)  # the stand-in echoes its timeout as publickey_ver
    s = setup.configure(
        WECOM_ARCHIVE_SDK_PATH=str(lib), WECOM_ARCHIVE_SECRET="right-secret", WECOM_ARCHIVE_TIMEOUT="300"
    )
    archive.install_sdk(None)
    try:
        assert archive.get_sdk(s).get_chat_data(0, 1)["chatdata"][0]["publickey_ver"] == TIMEOUT_CAP
    finally:
        archive.close_sdk()


# --- the C library's stdout -----------------------------------------------------------------------------------


def test_the_sdks_own_stdout_stays_out_of_the_logs(tmp_path, capfd):
    import ctypes
    import os

    lib = _compile(tmp_path, FAKE_SDK_C)
    sdks = [archive.NativeSdk(str(lib), "wwcorp", "right-secret") for _ in range(2)]
    errors: list[BaseException] = []

    def work(sdk):
        try:
            for _ in range(30):
                assert sdk.get_chat_data(1, 1)["chatdata"]
                assert sdk.decrypt_data("k", "m")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(sdks[i % 2],)) for i in range(4)]  # redirects overlap
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    for sdk in sdks:
        sdk.close()
    assert not errors
    os.write(1, b"fd 1 is back\n")  # the process's stdout is where it was
    ctypes.CDLL(None).fflush(None)  # anything the library left in C's buffers would come out now
    out = capfd.readouterr().out
    assert "LEAKED-ACCESS-TOKEN" not in out and out == "fd 1 is back\n", out


# --- a wrong private key, named as such ------------------------------------------------------------------------

WRONG_KEY = "the private key does not decrypt this record (check WECOM_ARCHIVE_PRIVATE_KEY / its version)"


class _ImplicitRejection:
    """A wrong RSA key under PKCS#1 v1.5 implicit rejection (OpenSSL 3.2+): no error, pseudo-random bytes."""

    def __init__(self):
        import random

        self.rng = random.Random(14)

    def decrypt(self, blob, pad):
        return bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randrange(17, 240)))


class _Refusing:
    """A wrong RSA key where decryption raises (older OpenSSL)."""

    def decrypt(self, blob, pad):
        raise ValueError("Decryption failed")


@pytest.mark.parametrize("wrong", ["implicit rejection", "raises", "another real key"])
def test_a_wrong_private_key_is_reported_as_such(setup, r, caplog, wrong):
    chatter(setup, 2)
    private_keys = {
        "implicit rejection": [_ImplicitRejection()],
        "raises": [_Refusing()],
        "another real key": archive.load_private_keys(pem_of(_OTHER_KEY)),
    }[wrong]
    with caplog.at_level(logging.ERROR, logger="workers.archive"):
        assert archive.Puller(r, setup, private_keys=private_keys).pull() == 0
    errors = [p["error"] for p in archive.parked(r)]
    assert len(errors) == 2 and all(e.startswith(WRONG_KEY) and "publickey_ver is 1" in e for e in errors), errors
    assert caplog.text.count(WRONG_KEY) == 2
    assert not setup.decrypted


# --- retrying parked records: an errcode is a failure, not "gone" -----------------------------------------------


def test_retry_parked_stops_on_an_errcode_and_keeps_the_records(setup, r, caplog, capsys):
    from wecom_bot.sim.archive import ERR_IP_NOT_ALLOWED

    settings = setup.configure()
    foreign = _OTHER_KEY.public_key()
    for i, uid in enumerate(["xiaolu", "aqing"]):
        setup.text(ROOM, uid, "打卡", at("2026-11-23 09:00:00") + i, public_key=foreign, publickey_ver=2)
    assert pull(r, setup) == 0 and len(archive.parked(r)) == 2
    setup.configure(private_key_pem=setup.private_key_pem + pem_of(_OTHER_KEY))  # the key is fixed

    setup.fail_next(ERR_IP_NOT_ALLOWED)  # but the server's IP is not (or no longer) trusted
    calls = len(setup.get_calls)
    with caplog.at_level(logging.ERROR, logger="workers.archive"):
        assert archive.retry_parked(r, setup) == 0
    assert len(setup.get_calls) == calls + 1  # stopped at the first failure
    assert [p["seq"] for p in archive.parked(r)] == [1, 2]  # nothing taken for "gone"
    assert f"errcode {ERR_IP_NOT_ALLOWED}" in caplog.text

    setup.fail_next(ERR_IP_NOT_ALLOWED)
    capsys.readouterr()
    assert cli(["archive", "--retry-parked"]) == 1
    out = capsys.readouterr().out
    assert f"retry stopped: fetching seq 1 again: GetChatData answered errcode {ERR_IP_NOT_ALLOWED}" in out
    assert "retried: 0 record(s)" in out and len(archive.parked(r)) == 2

    assert cli(["archive", "--retry-parked"]) == 0  # the IP trusted again: both open
    assert "retried: 2 record(s) fetched again, 2 post(s) queued" in capsys.readouterr().out
    assert archive.parked(r) == []
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}
    assert rows["xiaolu"]["checked_in"] and rows["aqing"]["checked_in"]


def test_retry_parked_says_which_records_are_gone_or_still_closed(setup, r):
    foreign = _OTHER_KEY.public_key()
    for i in range(3):
        setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00") + i, public_key=foreign, publickey_ver=2)
    assert pull(r, setup) == 0
    del setup.records[0]  # WeCom no longer keeps the first
    report = archive.retry_parked_report(r, setup)
    assert report.gone == [1] and [seq for seq, _ in report.closed] == [2, 3] and not report.failed
    assert all(error.startswith(WRONG_KEY) for _, error in report.closed)
    assert [p["seq"] for p in archive.parked(r)] == [1, 2, 3]


# --- a missing cursor: from the camp's start, or the last 24 hours ----------------------------------------------


def test_the_first_pull_skips_what_is_older_than_the_last_24_hours(setup, r, monkeypatch, caplog):
    settings = setup.configure()
    monkeypatch.setattr(puller_module, "wall_clock", lambda: float(at("2026-11-25 12:00:00")))
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 09:00:00"))  # kept by WeCom, but days ago
    setup.text(ROOM, "aqing", "打卡", at("2026-11-24 11:59:00"))  # just over 24 hours ago
    setup.text(ROOM, "momo", "打卡", at("2026-11-24 12:00:01"))
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-25 11:00:00"))
    with caplog.at_level(logging.INFO, logger="workers.archive"):
        assert archive.Puller(r, setup).pull(limit=2, max_batches=1) == 0  # the cursor moves past the old
        assert int(r.get(keys.ARCHIVE_SEQ)) == 2 and r.get(keys.ARCHIVE_FROM) is not None
        assert archive.Puller(r, setup).pull(limit=2) == 2
    assert int(r.get(keys.ARCHIVE_SEQ)) == 4 and r.get(keys.ARCHIVE_FROM) is None  # caught up
    assert "no cursor" in caplog.text and "2 record(s) from before the start skipped" in caplog.text
    assert not {m["userid"]: m for m in register_rows(r, settings, "2026-11-23")}["xiaolu"]["checked_in"]
    assert not {m["userid"]: m for m in register_rows(r, settings, "2026-11-24")}["aqing"]["checked_in"]
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-24")}["momo"]["checked_in"]
    assert {m["userid"]: m for m in register_rows(r, settings, "2026-11-25")}["xiaolu"]["checked_in"]

    setup.text(ROOM, "aqing", "打卡", at("2026-11-20 09:00:00"))  # an old post with a new seq, caught up:
    assert pull(r, setup) == 1  # counts as any other (the catch-up is over)


def test_a_lost_cursor_starts_again_from_the_camps_start(setup, r, monkeypatch):
    settings = setup.configure(GROUP_XHS01_CAMP_START="2026-11-24")
    monkeypatch.setattr(puller_module, "wall_clock", lambda: float(at("2026-11-27 12:00:00")))
    setup.text(ROOM, "xiaolu", "打卡", at("2026-11-23 23:59:59"))  # before the camp
    setup.text(ROOM, "aqing", "打卡", at("2026-11-24 00:00:01"))  # its first day, three days ago
    setup.text("wrchat02", "leader2", "打卡", at("2026-11-25 09:00:00"))  # xhs02: no camp dates, > 24 h
    setup.text(ROOM, "momo", "打卡", at("2026-11-27 09:00:00"))
    assert pull(r, setup) == 2
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-24")}
    assert rows["aqing"]["checked_in"] and rows["aqing"]["total"] == 1
    assert rows["xiaolu"]["total"] == 0

    r.delete(keys.ARCHIVE_SEQ)  # the cursor lost (say a restore): read again from the camp's start
    assert pull(r, setup) == 0  # the same posts, counted once
    assert r.get(keys.ARCHIVE_FROM) is None and int(r.get(keys.ARCHIVE_SEQ)) == 4
    rows = {m["userid"]: m for m in register_rows(r, settings, "2026-11-27")}
    assert rows["aqing"]["total"] == 1 and rows["momo"]["total"] == 1 and rows["xiaolu"]["total"] == 0


def test_a_command_is_never_an_archive_check_in():
    # the archive learns a new member from their first check-in; a command posted there (where commands
    # do not run) is none, whatever the detector would read into "goal xiaolu 6"
    from config.model import Group
    from workers.archive import posts

    group = Group("xhs01", name="小红书01", leaders=("leader1",))
    for text in ("goal xiaolu 6", "档案 @小鹿 今天已打卡✅", "@打卡助手 目标 小鹿 5", "补卡 阿青 2026-11-22", "本周"):
        assert not posts.checks_in(group, "admin1", posts.Body("text", text, False)), text
    assert posts.checks_in(group, "xiaolu", posts.Body("text", "打卡 今天读了两章", False))
    assert posts.checks_in(group, "xiaolu", posts.Body("image", "", True))
