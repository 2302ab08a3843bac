"""Instant praise: milestones in the check-in reply (first check-in, streaks of 3/7/...,
the weekly goal, a personal best), never the same sentence twice in a row to one member, the same
words when a message is processed again, and replies gathered into one message when a group's robot
is near its 20 messages a minute: every member acknowledged, the robot never over its limit."""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from events import text_event

from handlers import praise
from handlers.calendar import day_index
from handlers.streaks import DayBits
from workers import ingest, keys, outbound, replies, schedule, streams

from schedule_helpers import capture_outbound, group_env, local_ts

SH = "Asia/Shanghai"
CHAT = "chat-xhs01"
NAMES = {"xiaolu": "小鹿", "aqing": "阿青", "momo": "Momo"}
MON = date(2026, 11, 23)
_ids = itertools.count(1)


@pytest.fixture
def sent(env, r, monkeypatch):
    return capture_outbound(monkeypatch)


@pytest.fixture
def group(env, r):
    s = env(**group_env(chat=CHAT, members=NAMES))
    r.hset(keys.names("xhs01"), mapping=NAMES)
    return s


def ev(uid, d: date, hour=12, msgid=None, chat=CHAT, text="@打卡助手 打卡"):
    ts = local_ts(SH, d.year, d.month, d.day, hour)
    return text_event(text, uid, chat=chat, ts=ts, msgid=msgid or f"p{next(_ids)}", name=NAMES.get(uid, uid))


def reply_to(r, sent, event) -> str:
    assert ingest.process_batch(r, [("1-0", event)]) == ["1-0"]
    [msg] = [m for m in sent.msgs if m["id"] == f"reply:{event['msgid']}"][-1:]
    return msg["content"]


def praise_line(text: str) -> str:
    return text.split("\n")[1]


def formatted(kind, **kw):
    return {t.format(n=kw.get("n", 0), prev=kw.get("prev", 0), goal=kw.get("goal", 0)) for t in praise.TEMPLATES[kind]}


def test_milestones_in_the_instant_reply(r, group, sent):
    lines = {}
    for i in range(12):  # Mon .. next Fri, but not Friday the 27th
        d = MON + timedelta(days=i)
        if i == 4:
            continue
        lines[i] = reply_to(r, sent, ev("xiaolu", d))
    assert lines[0].startswith("✅ 小鹿 打卡成功｜连续 1 天") and "本周 1/3" in lines[0]
    assert praise_line(lines[0]) in formatted(praise.FIRST)
    assert praise_line(lines[1]) in formatted(praise.DAILY)
    assert praise_line(lines[2]) in formatted(praise.STREAK, n=3)  # 3 days, and 3/3 this week
    assert "｜本周目标达成🎉" in lines[2]
    assert praise_line(lines[3]) in formatted(praise.DAILY)  # 4 in a row: the record
    assert praise_line(lines[7]) in formatted(praise.STREAK, n=3)  # a new run: 3 again
    assert praise_line(lines[9]) in formatted(praise.BEST, n=5, prev=4)  # beats the 4 of last week
    assert praise_line(lines[10]) in formatted(praise.DAILY)  # 6: a record, not news twice
    assert praise_line(lines[11]) in formatted(praise.STREAK, n=7)
    # the weekly goal on its own: Mon, Wed, Fri
    for d in (MON, MON + timedelta(days=2)):
        reply_to(r, sent, ev("aqing", d))
    text = reply_to(r, sent, ev("aqing", MON + timedelta(days=4)))
    assert praise_line(text) in formatted(praise.GOAL, goal=3) and "｜本周目标达成" not in text
    print("\n" + "\n".join(lines[i] for i in (0, 2, 9, 11)) + "\n" + text)


def test_never_the_same_sentence_twice_in_a_row_and_the_same_words_on_a_retry(r, group, sent):
    texts = []
    events = []
    r.hset(keys.goals("xhs01", "momo"), str(day_index(MON)), 7)  # a goal every other day never reaches
    for i in range(0, 60, 2):  # every other day: ordinary days, never a streak
        event = ev("momo", MON + timedelta(days=i))
        events.append(event)
        texts.append(praise_line(reply_to(r, sent, event)))
        r.delete(keys.replies_recent("xhs01"))  # days apart: the robot's minute is long past
    daily = [t for t in texts[1:]]
    assert all(t in formatted(praise.DAILY) for t in daily)
    assert all(a != b for a, b in zip(texts, texts[1:], strict=False))
    assert len(set(daily)) >= 4  # varied, not two sentences taking turns
    # the last message processed again (a reclaimed inbox entry): same words, posted once
    last = events[-1]
    again = reply_to(r, sent, dict(last))
    assert praise_line(again) == texts[-1]
    assert r.hget(keys.praise_last("xhs01"), "momo").decode().startswith(last["msgid"] + "|")
    ids = [m["id"] for _, f in r.xrange(streams.OUTBOX.key) for m in [json.loads(f[b"p"])]]
    assert ids.count(f"reply:{last['msgid']}") == 1


def test_the_group_never_reads_the_same_praise_twice_in_a_row(r, group, sent):
    """Different members checking in one after another (one batch, or one message each): each reply's
    praise differs from the one just before it in the group, and a retry keeps its words."""
    r.hset(keys.names("xhs01"), mapping={f"m{i}": f"成员{i}" for i in range(12)})
    days = [MON + timedelta(days=n) for n in (0, 2, 4)]  # no streak milestones
    events = []
    for d in days:
        for i in range(12):
            events.append(ev(f"m{i}", d, msgid=f"g{d.day}-{i}"))
    # half of them message by message, half in batches of four
    texts = []
    for e in events[:12]:
        texts.append(reply_to(r, sent, e))
        r.delete(keys.replies_recent("xhs01"))
    for i in range(12, len(events), 4):
        batch = events[i : i + 4]
        ingest.process_batch(r, [(f"{i + j}-0", e) for j, e in enumerate(batch)])
        for e in batch:
            [msg] = [m for m in sent.msgs if m["id"] == f"reply:{e['msgid']}"]
            texts.append(msg["content"])
        r.delete(keys.replies_recent("xhs01"))
    lines = [praise_line(t) for t in texts]
    repeats = [(i, a) for i, (a, b) in enumerate(zip(lines, lines[1:], strict=False)) if a == b]
    assert not repeats, repeats
    assert r.ttl(keys.praise_group_last("xhs01")) > 0
    again = reply_to(r, sent, dict(events[5]))  # an earlier message processed again: its own words
    assert praise_line(again) == lines[5]


def test_choose_steps_past_the_members_and_the_groups_last():
    for kind in praise.TEMPLATES:
        n = len(praise.TEMPLATES[kind])
        for seed in (f"s{i}" for i in range(100)):
            first = praise.choose(kind, seed, None)
            second = (first + 1) % n
            got = praise.choose(kind, seed, f"{kind}:{first}", f"{kind}:{second}")
            assert got not in (first, second)
            assert praise.choose(kind, seed, f"{kind}:{second}", f"{kind}:{first}") not in (first, second)


def test_choose_never_repeats_the_last_template():
    for kind in praise.TEMPLATES:
        for seed in (f"m{i}" for i in range(200)):
            first = praise.choose(kind, seed, None)
            assert praise.choose(kind, seed, f"{kind}:{first}") != first
            assert praise.choose(kind, seed, None) == first  # deterministic


def test_personal_best_needs_a_record_worth_beating():
    base = 0
    days = DayBits(bytes([0b11011100]), base)  # days 0,1 then 3,4,5
    m = praise.milestone(days, DayBits(b"", base), 5, streak=3, total=5, week_count=5, goal=7)
    assert m.kind == praise.STREAK  # beating a 2-day record is not news yet
    days = DayBits(bytes([0b11101111, 0]), base)  # 0,1,2 then 4,5,6,7
    m = praise.milestone(days, DayBits(b"", base), 7, streak=4, total=7, week_count=4, goal=7)
    assert (m.kind, m.n, m.prev) == (praise.BEST, 4, 3)


# --- the robot's minute --------------------------------------------------------------------------------

TOKEN, AES = "robotToken123", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CROWD = {f"m{i:02d}": f"学员{i:02d}" for i in range(1, 31)}


def test_thirty_checkins_in_one_minute_stay_under_the_robot_limit_and_all_are_acknowledged(sim, env, r):
    from wecom_bot import create_app
    from wecom_bot.crypto import CallbackCrypto
    from wecom_bot.sim.builders import robot_xml, sign

    s = env(WECOM_ROBOT_TOKEN=TOKEN, WECOM_ROBOT_ENCODING_AES_KEY=AES, GROUP_XHS01_MEMBERS=",".join(CROWD))
    crypto = CallbackCrypto(TOKEN, AES, "")
    client = create_app().test_client()
    when = int(datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo(SH)).timestamp())
    for i, (uid, name) in enumerate(CROWD.items()):
        signed = sign(
            crypto, "/wecom/robot", robot_xml("wrchat01", uid, name, "@打卡助手 打卡", msgid=f"burst{i}"), when + i
        )
        assert client.post(signed.path, data=signed.body).status_code == 200

    def robot():
        return [m for m in sim.state.sent_messages() if m.get("channel") == "robot"]

    direct = robot()
    assert 0 < len(direct) <= 20 - s.reply_reserve
    gathered = r.llen(keys.reply_buffer("xhs01"))
    assert gathered == len(CROWD) - len(direct)
    assert r.zcard(keys.OUT_DELAYED) == 0  # nobody's reply waits for a later minute

    # the next minute tick posts the gathered replies as one message
    res = schedule.tick(local_ts(SH, 2026, 11, 24, 3, 0))
    assert res["weekly"]["gathered"] == gathered
    sent = robot()
    assert len(sent) == len(direct) + 1 <= 20
    combined = sent[-1]["content"]
    assert combined.startswith("✅ 打卡成功：")
    for name in CROWD.values():
        holders = [m for m in sent if name in m["content"]]
        assert len(holders) == 1, name  # each member acknowledged exactly once
    assert "第一次打卡🎉" in combined
    # a flush retried after a crash (the batch was taken, maybe posted) posts nothing twice
    items = [
        {"id": f"reply:burst{i}", "name": name, "words": "x", "at": 0}
        for i, name in list(enumerate(CROWD.values()))[len(direct) :]
    ]
    r.set(keys.reply_flushing("xhs01"), json.dumps(items, ensure_ascii=False, separators=(",", ":")))
    assert replies.flush_replies(r, s, "xhs01") == gathered
    outbound.process_outbox(r)
    assert len(robot()) == len(sent)
    assert not r.exists(keys.reply_flushing("xhs01")) and not r.sismember(keys.REPLY_GROUPS, "xhs01")
    print(f"\n{len(direct)} replies on their own, then one gathered message:\n{combined}")
