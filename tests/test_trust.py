"""Trust: what is private stays private, old callbacks cannot replay, one member cannot flood a group,
files are safe. Each test reproduces one way the camp's trust was lost (docs/RELIABILITY.md, "Privacy
and abuse") against the real Redis, the real app and the real scripts."""

from __future__ import annotations

import csv
import http.server
import itertools
import json
import os
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from events import text_event
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bench.common import free_port
from handlers import daily, texts
from handlers.calendar import day_index
from handlers.checkin import _trim_url, detect, find_note_links
from handlers.router import AskIfCheckin, Checkin, ConfirmCheckin, group_post
from handlers.sanitize import NAME_MAX, clean_name, clean_text
from tests.schedule_helpers import capture_outbound
from wecom_bot import create_app
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import robot_xml, sign
from workers import backup, commands, export, ingest, keys, outbound, prompts, schedule, streams
from workers.register import MemberRow

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 8, 10, 0, tzinfo=TZ)  # a Wednesday
TS = NOW.timestamp()
TODAY = day_index(NOW.date())
BASE = TODAY - 35
TOKEN = "robotToken123"
AES = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
HOOK = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
_ids = itertools.count(1)


@pytest.fixture
def s(env, r, tmp_path):
    settings = env(
        BOT_DATA_DIR=str(tmp_path / "var"),
        BOT_GROUPS="xhs01",
        GROUP_XHS01_CHAT_ID="wrchat01",
        GROUP_XHS01_NAME="小红书01",
        GROUP_XHS01_LEADERS="leader1",
        GROUP_XHS01_MEMBERS="lulu:小鹿,qing:阿青,wang1:小王,wang2:小王",
        GROUP_XHS01_WEBHOOK_KEY=HOOK,
        WECOM_API_BASE_URL="http://127.0.0.1:9/cgi-bin/",
        WECOM_CORP_ID="wwcorp",
        WECOM_AGENT_ID="1000002",
        WECOM_SECRET="s" * 43,
        WECOM_ROBOT_TOKEN=TOKEN,
        WECOM_ROBOT_ENCODING_AES_KEY=AES,
    )
    r.set(keys.base("xhs01"), BASE)
    return settings


def ev(text, uid="leader1", chat="", name=None, ts=TS, msgid=None):
    return text_event(text, uid, chat=chat, ts=ts, msgid=msgid or f"t{next(_ids)}", name=name)


def run(r, s, text, **kw):
    from handlers.chain import strip_mentions

    return commands.execute(r, s, ev(text, **kw), strip_mentions(text))


def process(r, events):
    entries = [(f"{i + 1}-0", e) for i, e in enumerate(events)]
    assert ingest.process_batch(r, entries) == [e for e, _ in entries]


# --- 1. nothing a leader says privately reaches the group through an undo --------------------------


def _leader_commands(secret: str) -> list[str]:
    return [
        f"档案 小鹿 {secret}",
        "删除档案 小鹿",
        f"档案 阿青 {secret}",
        "目标 小鹿 4",
        "退阶 小鹿 2",
        "补卡 小鹿 2024-05-06",
        "请假 阿青 2",
        "加入 newbie 新同学",
        "移除 阿青",
        "暂停",
        "恢复",
    ]


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(st.sampled_from("抑郁复诊离婚孩子住院债务失业怀孕秘密不要外传"), min_size=6, max_size=20))
def test_no_private_command_text_reaches_the_group_through_undo(r, s, secret):
    r.flushall()
    r.set(keys.base("xhs01"), BASE)
    group_msgs = []
    commands_sent = _leader_commands(secret)
    for i, text in enumerate(commands_sent):
        out = run(r, s, text, ts=TS + i)
        assert all(m["to"] == "user" for m in out)
    # every change undone from the group, one by one, newest first
    for i in range(len(commands_sent) + 1):
        out = run(r, s, "@打卡助手 撤销", chat="wrchat01", name="组长", ts=TS + 100 + i)
        group_msgs += [m["content"] for m in out if m["to"] == "group"]
    assert group_msgs, "some undos are answered in the group"
    for content in group_msgs:
        assert secret not in content
        for text in commands_sent:
            if len(text.split()) > 1:
                assert text not in content, content
        assert "档案" not in content, content  # anything about profiles is answered privately


def test_undo_of_a_profile_note_answers_privately_and_names_only_kind_and_member(r, s):
    run(r, s, "档案 小鹿 在职妈妈，正在做抑郁症复诊，别在群里提")
    out = run(r, s, "@打卡助手 撤销", chat="wrchat01", name="组长")
    assert [(m["to"], m["content"]) for m in out] == [("user", "↩️ 已撤销：给 小鹿 的一条档案")]
    out = run(r, s, "@打卡助手 删除档案 小鹿", chat="wrchat01", name="组长")
    assert [m["to"] for m in out] == ["user"]


# --- 2. 不公开 holds in every public list ------------------------------------------------------------

_names = st.lists(st.sampled_from([f"甲{i}号" for i in range(12)]), min_size=1, max_size=12, unique=True)


@hsettings(max_examples=60, deadline=None)
@given(names=_names, data=st.data())
def test_private_members_are_never_named_in_the_chain_or_the_reminder(names, data):
    rows = [
        MemberRow(f"u{i}", n, data.draw(st.integers(0, 5)), 5, 9, 1, 3, data.draw(st.booleans()))
        for i, n in enumerate(names)
    ]
    hidden = {row.userid for row in rows if data.draw(st.booleans())}
    links = {row.userid: f"http://xhslink.com/a/{row.userid}x" for row in rows}
    chain = daily.chain_text(TODAY, None, daily.chain_entries(rows, links, hidden))
    rem = daily.remind(rows, hidden=hidden)
    public = [chain, rem.content if rem else ""]
    mentioned = {uid for uid, _ in (rem.mentions if rem else [])}
    for row in rows:
        if row.userid in hidden:
            assert all(row.name not in text and links[row.userid] not in text for text in public)
            assert row.userid not in mentioned
    done = [row for row in rows if row.checked_in]
    if rem and done and len(done) < len(rows):
        assert f"今天已有 {len(done)} 位伙伴打卡" in rem.content  # still counted, just not named


def test_private_member_in_the_real_morning_chain_and_evening_reminder(r, s):
    run(r, s, "@打卡助手 不公开", uid="lulu", chat="wrchat01", name="小鹿")
    for uid in ("lulu", "qing"):
        r.setbit(keys.days("xhs01", uid), TODAY - BASE, 1)
    r.hset(keys.links("xhs01", TODAY), "lulu", "http://xhslink.com/a/LULU1")
    chain = schedule.daily_chain(r, s.groups["xhs01"], TODAY)[0]["content"]
    assert "小鹿" not in chain and "LULU1" not in chain and "一位同学 已更" in chain and "阿青 已更" in chain
    r.setbit(keys.days("xhs01", "lulu"), TODAY - BASE, 0)
    msgs = schedule.daily_remind(r, s.groups["xhs01"], TODAY, TS + 11 * 3600)
    group = [m for m in msgs if m["to"] == "group"]
    assert "小鹿" not in group[0]["content"] and "lulu" not in {u for u, _ in group[0]["mentions"]}
    assert [m["users"] for m in msgs if m["to"] == "user"] == [["lulu"]]  # reminded privately instead


def test_a_private_member_is_not_named_in_a_gathered_reply(r, s, monkeypatch):
    from workers import replies

    cap = capture_outbound(monkeypatch)
    run(r, s, "@打卡助手 不公开", uid="lulu", chat="wrchat01", name="小鹿")
    ch = outbound.channel_of({"to": "group", "group": "xhs01"}, s)
    r.zadd(ch.rate_keys[0], {f"busy{i}": time.time() for i in range(ch.limit)})  # the robot is at its limit
    process(r, [ev("@打卡助手 打卡", uid=u, chat="wrchat01", name=n) for u, n in (("lulu", "小鹿"), ("qing", "阿青"))])
    assert r.llen(keys.reply_buffer("xhs01")) == 2
    replies.flush_replies(r, s, "xhs01")
    gathered = [m["content"] for m in cap.msgs if m["id"].startswith("replies:")]
    assert len(gathered) == 1 and "小鹿" not in gathered[0] and "一位同学" in gathered[0] and "阿青" in gathered[0]


# --- 3. a signed callback is fresh or refused ------------------------------------------------------


@pytest.fixture
def client(s, env):
    from workers import jobs

    jobs.set_inline(False)
    return create_app().test_client()


def _post(client, ts, text="@打卡助手 移除 小鹿", msgid=None):
    xml = robot_xml("wrchat01", "leader1", "组长", text, msgid=msgid or f"fresh{next(_ids)}")
    signed = sign(CallbackCrypto(TOKEN, AES, ""), "/wecom/robot", xml, int(ts))
    return client.post(signed.path, data=signed.body)


def test_an_old_callback_is_refused_before_anything_is_stored(env, client, r):
    env(BOT_CALLBACK_MAX_AGE="3600")
    now = time.time()
    assert _post(client, now - 40 * 86400).status_code == 403  # signed 40 days ago
    assert _post(client, now - 3700).status_code == 403
    assert _post(client, now + 400).status_code == 403  # too far ahead
    assert r.xlen(streams.INBOX.key) == 0
    assert _post(client, now - 5).status_code == 200 and _post(client, now + 200).status_code == 200
    assert r.xlen(streams.INBOX.key) == 2


def test_the_window_is_off_at_zero_and_an_impossible_timestamp_is_400(env, client, r):
    env(BOT_CALLBACK_MAX_AGE="0")
    assert _post(client, time.time() - 40 * 86400).status_code == 200
    xml = robot_xml("wrchat01", "u1", "小鹿", "打卡", msgid="ts12")
    signed = sign(CallbackCrypto(TOKEN, AES, ""), "/wecom/robot", xml, 100000000000)  # 12 digits
    assert client.post(signed.path, data=signed.body).status_code == 400


def test_callback_max_age_is_checked_in_config(env):
    assert env(BOT_CALLBACK_MAX_AGE="-5").problems
    assert env(BOT_CALLBACK_MAX_AGE="600").callback_max_age == 600


# --- 4. links per member and day: deduped, a few ------------------------------------------------------


def test_links_are_deduped_and_capped_per_member_and_day(r, s, monkeypatch):
    capture_outbound(monkeypatch)
    links = " ".join(f"http://xhslink.com/a/L{i:04d}" for i in range(1170))
    process(r, [ev(f"@打卡助手 已更 {links}", uid="lulu", chat="wrchat01", name="小鹿") for _ in range(10)])
    process(
        r,
        [
            ev(
                "@打卡助手 已更 http://xhslink.com/a/L0001 http://xhslink.com/a/L0001",
                uid="qing",
                chat="wrchat01",
                name="阿青",
            )
        ],
    )
    kept = r.hget(keys.links("xhs01", TODAY), "lulu").decode().split()
    assert kept == ["http://xhslink.com/a/L0000", "http://xhslink.com/a/L0001", "http://xhslink.com/a/L0002"]
    assert r.hget(keys.links("xhs01", TODAY), "qing").decode().split() == ["http://xhslink.com/a/L0001"]
    digest = schedule.daily_digest(r, s.groups["xhs01"], TODAY)
    assert len(digest) == 1 and len(digest[0]["content"]) < 2000


# --- 5. hints: one per member per 10 minutes, never from the capacity check-ins need ------------------


def test_one_member_cannot_flood_the_group_with_hints(r, s, monkeypatch):
    cap = capture_outbound(monkeypatch)
    process(r, [ev("@打卡助手 哈哈", uid="qing", chat="wrchat01", name="阿青") for _ in range(100)])
    process(r, [ev("@打卡助手 嘿嘿", uid="lulu", chat="wrchat01", name="小鹿")])
    hints = [m for m in cap.msgs if m["id"].startswith("hint:")]
    assert [m["mentions"][0][0] for m in hints] == ["qing", "lulu"]


def test_no_hint_when_the_robot_is_near_its_limit(r, s, monkeypatch):
    cap = capture_outbound(monkeypatch)
    ch = outbound.channel_of({"to": "group", "group": "xhs01"}, s)
    now = time.time()
    r.zadd(ch.rate_keys[0], {f"busy{i}": now for i in range(ch.limit - 5)})  # 5 left: the reserve's
    process(r, [ev("@打卡助手 哈哈", uid="qing", chat="wrchat01", name="阿青")])
    assert [m for m in cap.msgs if m["id"].startswith("hint:")] == []


# --- 6. two members called 小王: nobody credited by guess -------------------------------------------


def test_a_shared_name_in_a_leaders_chain_credits_nobody_and_asks_the_leader(r, s, monkeypatch):
    cap = capture_outbound(monkeypatch)
    chain = "#接龙\n5月8日 更文打卡\n例 名字 已更 笔记链接\n\n1. 小王 已更\n2. 阿青 已更"
    process(r, [ev(chain, uid="leader1", chat="wrchat01", name="组长")])
    assert not r.getbit(keys.days("xhs01", "wang1"), TODAY - BASE)
    assert not r.getbit(keys.days("xhs01", "wang2"), TODAY - BASE)
    assert r.getbit(keys.days("xhs01", "qing"), TODAY - BASE)
    asked = [m for m in cap.private("leader1") if m["id"].startswith("unclear:")]
    assert len(asked) == 1 and "wang1" in asked[0]["content"] and "wang2" in asked[0]["content"]


def test_a_name_learnt_from_a_post_never_takes_over_a_configured_name(r, s, monkeypatch):
    capture_outbound(monkeypatch)
    process(r, [ev("@打卡助手 大家好", uid="stranger", chat="wrchat01", name="小鹿")])  # a newcomer also called 小鹿
    process(r, [ev("#接龙\n例 名字 已更\n\n1. 小鹿 已更", uid="leader1", chat="wrchat01", name="组长")])
    assert r.getbit(keys.days("xhs01", "lulu"), TODAY - BASE)
    assert not r.exists(keys.days("xhs01", "stranger"))


# --- 7. detection is linear on the worst inputs -------------------------------------------------------


@pytest.mark.parametrize("tail", [")" * 20_000, "]" * 20_000, ")]" * 10_000, "." * 20_000, "()" * 10_000])
def test_url_trimming_on_brackets_and_punctuation(tail):
    url = "http://xhslink.com/a/Ab3(x)" + tail
    trimmed = _trim_url(url)
    assert trimmed.startswith("http://xhslink.com/a/Ab3(x)") and len(trimmed) <= len(url)
    assert trimmed.count(")") <= trimmed.count("(") or not trimmed.endswith(")")
    assert find_note_links("已更 " + url)
    assert detect("已更 " + url).kind == "checkin"


# --- 8. backups and exports: owner-only, no credentials, no formulas ---------------------------------


def test_backup_is_owner_only_and_holds_no_cache_or_token(r, s, tmp_path):
    r.set(keys.TOKEN_PREFIX + "wwcorp:1000002", "LIVE-ACCESS-TOKEN-123456")
    r.set(keys.seen("m1"), 1)
    r.set(keys.notes("xhs01", "lulu"), "x")
    path = tmp_path / "state.backup"
    path.write_text("old")
    os.chmod(path, 0o644)
    backup.dump(r, str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert "LIVE-ACCESS-TOKEN" not in text and len(text.splitlines()) == 3  # header, base, notes


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_are_owner_only_and_formulas_are_text(r, s, tmp_path, fmt):
    r.hset(keys.names("xhs01"), "lulu", '=HYPERLINK("http://evil","点我")')
    r.rpush(keys.notes("xhs01", "qing"), json.dumps({"text": "+1+cmd|' /C calc'!A0", "by": "leader1", "at": 1}))
    path = tmp_path / f"out.{fmt}"
    export.write(r, s.groups["xhs01"], fmt, path, today=TODAY)
    assert path.stat().st_mode & 0o777 == 0o600
    if fmt == "csv":
        cells = [c for row in csv.reader(path.open(encoding="utf-8-sig")) for c in row]
    else:
        from openpyxl import load_workbook

        wb = load_workbook(path)
        cells = [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
        assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)
    risky = [c for c in cells if isinstance(c, str) and c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert risky == []
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    if fmt == "xlsx":  # the notes sheet has the note's own cell
        assert any(c.startswith("'+1+cmd") for c in cells)


def test_as_text_leaves_numbers_and_plain_text():
    assert export.as_text(-3) == -3 and export.as_text("小鹿") == "小鹿" and export.as_text("@x") == "'@x"


# --- 9. names clipped and cleaned ------------------------------------------------------------------


def test_names_are_clipped_and_bidi_controls_removed(r, s, monkeypatch):
    capture_outbound(monkeypatch)
    evil = "\u202e" + "鹿" * 3000
    process(r, [ev("@打卡助手 打卡", uid="lulu", chat="wrchat01", name=evil)])
    stored = r.hget(keys.names("xhs01"), "lulu").decode()
    assert stored == "鹿" * NAME_MAX


@given(st.text(max_size=200))
def test_clean_text_and_name_remove_every_bidi_and_control_character(text):
    for out in (clean_text(text), clean_name(text)):
        assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in out)
        assert not any(ord(c) < 0x20 and c not in "\n\t" for c in out)
    assert len(clean_name(text)) <= NAME_MAX and "\n" not in clean_name(text)


# --- 10. the simulator page posts to its own server, whatever the Host header says --------------------


def test_simulator_page_posts_to_its_own_address(env, r, monkeypatch):
    got = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env(PORT=str(port), BOT_ENV_FILE=str(__import__("pathlib").Path("config/demo.env").resolve()))
        client = create_app().test_client()
        res = client.post(
            "/_sim/",
            data={"group": "demo", "userid": "u", "name": "小鹿", "text": "打卡"},
            headers={"Host": "169.254.169.254:80"},
        )
        assert res.status_code == 302 and len(got) == 1 and got[0].startswith("/wecom/robot?")
    finally:
        server.shutdown()


# --- 11. leftovers with an owner: dead entries, bounded lists, every secret redacted ------------------


def test_dead_entries_are_listed_bounded_and_requeued(r, s, monkeypatch):
    monkeypatch.setattr(streams, "DEAD_MAX", 3)
    for i in range(5):
        r.rpush(streams.INBOX.dead_key, json.dumps(ev("打卡", uid="lulu", chat="wrchat01", msgid=f"d{i}")))
    with r.pipeline() as p:  # as _park_poison bounds it
        p.ltrim(streams.INBOX.dead_key, -streams.DEAD_MAX, -1)
        p.execute()
    assert [e["msgid"] for e in streams.dead_entries(r, streams.INBOX)] == ["d2", "d3", "d4"]
    monkeypatch.setattr(streams, "wake_drain", lambda stream: None)
    assert streams.requeue_dead(r, streams.INBOX) == 3
    assert r.llen(streams.INBOX.dead_key) == 0 and r.xlen(streams.INBOX.key) == 3


def test_the_failed_registry_is_bounded(r, s, monkeypatch):
    monkeypatch.setattr(outbound, "FAILED_MAX", 20)
    for i in range(30):
        outbound._register_failed(
            r, {"id": f"f{i:02d}", "to": "user", "users": ["u"]}, outbound.Outcome("failed", error="x"), 5, 1000 + i
        )
    ids = [e["id"] for e in outbound.failed_list(r)]
    assert len(ids) <= 20 and ids[-1] == "f29" and "f00" not in ids


def test_every_secret_is_redacted(env):
    s = env(WECOM_ARCHIVE_SECRET="archive-secret-123", WECOM_ARCHIVE_PROXY_PASSWORD="proxy-pass-456")
    assert {"archive-secret-123", "proxy-pass-456"} <= set(s.secrets())


# --- 12. an invalid configuration shows on /healthz and /metrics -------------------------------------


def test_health_and_metrics_say_the_configuration_is_invalid(env, r):
    env(BOT_GROUPS="xhs01", GROUP_XHS01_LEADERS="leader1", BOT_WEEKLY_GOAL="9")  # no chat id, goal out of range
    client = create_app().test_client()
    body = client.get("/healthz").get_json()
    assert body["ok"] is False and body["config"]["valid"] is False and "BOT_WEEKLY_GOAL" in body["config"]["variables"]
    assert "wecom_bot_config_valid 0" in client.get("/metrics").get_data(as_text=True)


def test_health_says_a_valid_configuration_is_valid(s):
    assert s.problems == []
    client = create_app().test_client()
    assert client.get("/healthz").get_json()["config"] == {"valid": True, "problems": 0, "variables": []}
    assert "wecom_bot_config_valid 1" in client.get("/metrics").get_data(as_text=True)


# --- a post detection is unsure of is asked about, and a 「是」 counts it ---------------------------


def _ask_action(uid="lulu", day=TODAY, links=("http://xhslink.com/a/ASK1",), msgid="q1"):
    msg = group_post(f"ask:{msgid}", "xhs01", texts.ASK_CHECKIN, [[uid, "小鹿"]]).msg
    return AskIfCheckin("xhs01", uid, day, links, msg)


def test_a_yes_counts_the_post_that_was_asked_about_once(r, s, monkeypatch):
    cap = capture_outbound(monkeypatch)
    asked = ev("今天的任务交了", uid="lulu", chat="wrchat01", name="小鹿", msgid="q1")
    ingest._other_effects(r, s, asked, [_ask_action()], [])  # what process_batch does with the question
    assert json.loads(r.get(keys.ask("xhs01", "lulu")))["day"] == TODAY
    # a day later the member answers 是: the asked-about day is counted, with its link
    process(r, [ev("@打卡助手 是", uid="lulu", chat="wrchat01", name="小鹿", ts=TS + 3600)])
    assert r.getbit(keys.days("xhs01", "lulu"), TODAY - BASE)
    assert r.hget(keys.links("xhs01", TODAY), "lulu") == b"http://xhslink.com/a/ASK1"
    assert not r.exists(keys.ask("xhs01", "lulu"))
    replies = [m for m in cap.msgs if m["id"].startswith("reply:")]
    assert len(replies) == 1 and "小鹿" in replies[0]["content"]
    # a second 是 has nothing waiting: nothing changes, nothing is said
    before = len(cap.msgs)
    process(r, [ev("@打卡助手 是的", uid="lulu", chat="wrchat01", name="小鹿", ts=TS + 3700)])
    assert len(cap.msgs) == before


def test_a_yes_without_a_question_counts_nothing(r, s, monkeypatch):
    capture_outbound(monkeypatch)
    process(r, [ev("@打卡助手 是", uid="qing", chat="wrchat01", name="阿青")])
    assert not r.exists(keys.days("xhs01", "qing"))


def test_a_question_answered_in_the_same_batch_counts_and_is_not_asked(r, s, monkeypatch):
    cap = capture_outbound(monkeypatch)
    asked = ev("今天的任务交了", uid="lulu", chat="wrchat01", name="小鹿", msgid="q2")
    yes = ev("@打卡助手 是", uid="lulu", chat="wrchat01", name="小鹿", msgid="y2")
    planned = [("1-0", asked, [_ask_action(msgid="q2")]), ("2-0", yes, [ConfirmCheckin(("xhs01",), "lulu", "小鹿")])]
    used = prompts.resolve_confirms(r, planned)
    assert used == [keys.ask("xhs01", "lulu")]
    assert planned[0][2] == [] and isinstance(planned[1][2][0], Checkin)
    assert planned[1][2][0].links == ("http://xhslink.com/a/ASK1",)
    assert cap.msgs == []


def test_dead_command_lists_and_requeues(r, s, capsys, monkeypatch):
    from wecom_bot.cli import main as cli

    monkeypatch.setattr(streams, "wake_drain", lambda stream: None)
    assert cli(["dead"]) == 0 and "no dead entries" in capsys.readouterr().out
    r.rpush(streams.INBOX.dead_key, json.dumps(ev(f"打卡 {HOOK}", uid="lulu", chat="wrchat01", msgid="dead1")))
    assert cli(["dead", "--requeue"]) == 0
    out = capsys.readouterr().out
    assert "dead1" in out and HOOK not in out and "re-queued 1" in out
    assert r.xlen(streams.INBOX.key) == 1 and r.llen(streams.INBOX.dead_key) == 0


def test_an_unsure_post_is_asked_about_and_a_yes_counts_it(r, s, monkeypatch):
    cap = capture_outbound(monkeypatch)
    process(r, [ev("@打卡助手 看完了", uid="lulu", chat="wrchat01", name="小鹿", msgid="unsure1")])
    asked = [m for m in cap.msgs if m["id"] == "ask:unsure1"]
    assert len(asked) == 1 and asked[0]["content"] == texts.ASK_CHECKIN and asked[0]["mentions"][0][0] == "lulu"
    assert not r.exists(keys.days("xhs01", "lulu"))  # not counted by guess
    process(r, [ev("@打卡助手 是～", uid="lulu", chat="wrchat01", name="小鹿")])
    assert r.getbit(keys.days("xhs01", "lulu"), TODAY - BASE)


def test_an_unsure_private_post_is_asked_privately(r, s, monkeypatch):
    cap = capture_outbound(monkeypatch)
    r.hset(keys.names("xhs01"), "lulu", "小鹿")
    process(r, [ev("看完了", uid="lulu", name="小鹿", msgid="unsure2")])
    assert [m["users"] for m in cap.msgs if m["id"] == "ask:unsure2"] == [["lulu"]]
    process(r, [ev("是", uid="lulu", name="小鹿")])
    assert r.getbit(keys.days("xhs01", "lulu"), TODAY - BASE)
