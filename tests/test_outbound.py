"""The outbox and the sender, against a real Redis and the real WeCom simulator over loopback."""

from __future__ import annotations

import json
import logging
import re
import threading
import time

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from config.settings import get_settings
from workers import keys, outbound, streams
from workers.sender import Sender, redact_url


def out(mid, **kw):
    msg = {"id": mid, "to": "group", "group": "xhs01", "msgtype": "text", "content": f"hello {mid}"}
    msg.update(kw)
    return msg


def dm(mid, users=("u1",), **kw):
    msg = {"id": mid, "to": "user", "users": list(users), "msgtype": "text", "content": f"hi {mid}"}
    msg.update(kw)
    return msg


def robot_key():
    return get_settings().group("xhs01").webhook_key


def sent(sim, path=None):
    return sim.state.sent_messages(path)


def run_forward(r, seconds, start=None):
    """Run the outbox as if `seconds` had passed (simulator clock too)."""
    sim_now = (start or time.time()) + seconds
    return outbound.process_outbox(r, now=sim_now)


# -- routing -----------------------------------------------------------------------------------------
def test_group_with_robot_text_mentions(sim, r):
    assert outbound.post(r, out("m1", mentions=[["u1", "张三"], ["u2", "李四"]]))
    [m] = sent(sim)
    assert m["path"] == "webhook/send" and m["key"] == robot_key()
    assert m["msgtype"] == "text" and m["content"] == "hello m1"
    assert m["mentioned_list"] == ["u1", "u2"]
    assert outbound.state_of(r, "m1")["status"] == "sent"
    assert outbound.metrics(r)["sends_ok"] == 1


def test_group_with_robot_markdown_mentions(sim, r):
    outbound.post(r, out("m2", msgtype="markdown", content="**打卡** 今天", mentions=[["u1", "张三"]]))
    [m] = sent(sim)
    assert m["path"] == "webhook/send" and m["msgtype"] == "markdown"
    assert m["content"] == "<@u1>\n**打卡** 今天"


def test_group_without_robot_goes_through_appchat_with_plain_names(sim, r):
    outbound.post(r, out("m3", group="xhs02", content="早上好", mentions=[["u1", "张三"], ["u2", ""]]))
    [m] = sent(sim)
    assert m["path"] == "appchat/send" and m["chatid"] == "wrchat02"
    assert m["content"] == "@张三 @u2 早上好"
    assert m["mentioned_list"] == []


def test_private_message_through_the_app(sim, r):
    outbound.post(r, dm("d1", users=["u1", "u2", "u1"], msgtype="markdown", content="# 本周"))
    [m] = sent(sim)
    assert m["path"] == "message/send" and m["touser"] == ["u1", "u2"]
    assert m["msgtype"] == "markdown" and m["content"] == "# 本周" and m["duplicate_check"]


def test_files_through_robot_and_app(sim, r, tmp_path):
    f = tmp_path / "register.csv"
    f.write_text("userid,streak\nu1,3\n", encoding="utf-8")
    outbound.post(r, out("f1", msgtype="file", content="", file={"path": str(f), "name": "登记.csv"}))
    outbound.post(r, dm("f2", msgtype="file", content="", file={"path": str(f), "name": "登记.csv"}))
    a, b = sent(sim)
    assert (a["path"], a["msgtype"], a["content"]) == ("webhook/send", "file", "登记.csv")
    assert (b["path"], b["msgtype"], b["content"]) == ("message/send", "file", "登记.csv")
    assert sim.state.call_count("webhook/upload_media") == 1 and sim.state.call_count("media/upload") == 1


def test_unknown_group_is_failed_not_dropped(sim, r):
    outbound.post(r, out("x1", group="nosuch"))
    assert sent(sim) == []
    [f] = outbound.failed_list(r)
    assert f["id"] == "x1" and "unknown group" in f["error"]


# -- size ----------------------------------------------------------------------------------------------
def _long_text(lines, width=30):
    return "\n".join(f"{i:03d} " + "打卡接龙" * (width // 4) for i in range(lines))


@pytest.mark.parametrize(
    "group,msgtype,limit,path",
    [
        ("xhs01", "text", 2048, "webhook/send"),
        ("xhs01", "markdown", 4096, "webhook/send"),
        ("xhs02", "text", 2048, "appchat/send"),
    ],
)
def test_long_content_split_on_lines_in_order(sim, r, group, msgtype, limit, path):
    text = _long_text(400)
    assert len(text.encode()) > 3 * limit
    mentions = [["u1", "张三"], ["u2", "李四"]]
    outbound.post(r, out("long", group=group, msgtype=msgtype, content=text, mentions=mentions))
    msgs = sent(sim)
    assert len(msgs) >= 4 and all(m["path"] == path for m in msgs)
    assert all(len(m["content"].encode()) <= limit for m in msgs)
    assert not any(m.get("truncated") for m in msgs)
    first, rest = msgs[0]["content"], [m["content"] for m in msgs[1:]]
    if path == "appchat/send":
        assert first.startswith("@张三 @李四 ")
        first = first[len("@张三 @李四 ") :]
    elif msgtype == "markdown":
        assert first.startswith("<@u1> <@u2>\n")
        first = first[len("<@u1> <@u2>\n") :]
    else:
        assert msgs[0]["mentioned_list"] == ["u1", "u2"]
    assert all(m["mentioned_list"] == [] for m in msgs[1:])
    assert "\n".join([first] + rest) == text  # cut on line boundaries, order kept
    n = len(msgs)
    assert [outbound.state_of(r, f"long#{i}")["status"] for i in range(1, n + 1)] == ["sent"] * n


def test_private_message_split(sim, r):
    text = _long_text(200)
    outbound.post(r, dm("longdm", content=text))
    msgs = sent(sim)
    assert len(msgs) > 1 and all(len(m["content"].encode()) <= 2048 for m in msgs)
    assert "\n".join(m["content"] for m in msgs) == text


@given(st.text(alphabet=st.sampled_from(list("ab 打卡\n😀")), max_size=600), st.integers(8, 200))
@hsettings(max_examples=200, deadline=None)
def test_split_text_properties(text, limit):
    chunks = outbound.split_text(text, limit, max(4, limit - 5))
    assert all(len(c.encode()) <= limit for c in chunks)
    assert len(chunks[0].encode()) <= max(4, limit - 5) or len(chunks) == 1 and len(text.encode()) <= max(4, limit - 5)
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)


# -- the access token ----------------------------------------------------------------------------------
def test_token_cached_in_redis_and_shared(sim, r):
    for i in range(10):
        outbound.post(r, dm(f"t{i}", users=[f"u{i}"]))
    assert len(sent(sim)) == 10
    assert sim.state.token_fetches == 1
    key = f"wb:token:{get_settings().corp_id}:{get_settings().agent_id}"
    assert 7200 - 300 - 5 <= r.ttl(key) <= 7200 - 300
    # Two more clients (think: two processes) use the same token.
    a, b = Sender(get_settings()), Sender(get_settings())
    assert a.send_once(dm("ta", users=["x1"])).ok and b.send_once(dm("tb", users=["x2"])).ok
    assert sim.state.token_fetches == 1


def test_concurrent_clients_fetch_the_token_once(sim, r):
    senders = [Sender(get_settings()) for _ in range(8)]
    tokens, barrier = [], threading.Barrier(8)

    def go(s):
        barrier.wait()
        tokens.append(s.access_token())

    threads = [threading.Thread(target=go, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1 and sim.state.token_fetches == 1


@pytest.mark.parametrize("how", ["invalid", "expired"])
def test_rejected_token_refetched_once_and_call_repeated_once(sim, r, how):
    outbound.post(r, dm("warm"))
    if how == "invalid":
        sim.state.add_fault({"path": "message/send", "errcode": 40014})
    else:
        sim.state.expire_tokens()
    outbound.post(r, dm("after"))
    assert [m["content"] for m in sent(sim)] == ["hi warm", "hi after"]
    assert sim.state.token_fetches == 2
    assert sim.state.call_count("message/send") == 3
    assert outbound.state_of(r, "after")["attempts"] == "1"


def test_persistently_bad_token_is_bounded_and_ends_failed(sim, r):
    sim.state.add_fault({"path": "message/send", "errcode": 40014, "times": 1000})
    outbound.post(r, dm("bad"))
    t = time.time()
    for step in range(1, 8):
        run_forward(r, 200 * step, t)
    assert sent(sim) == []
    # 5 attempts, each: the call, one refetch, one repeat. Never more.
    assert sim.state.call_count("message/send") == 2 * outbound.MAX_ATTEMPTS
    assert sim.state.token_fetches == 1 + outbound.MAX_ATTEMPTS
    [f] = outbound.failed_list(r)
    assert f["id"] == "bad" and f["errcode"] == 40014 and f["attempts"] == outbound.MAX_ATTEMPTS
    assert outbound.state_of(r, "bad")["status"] == "failed"


def test_wrong_secret_is_fatal(sim, r):
    sim.state.secret = "another-secret-entirely"
    outbound.post(r, dm("nosecret"))
    failed = {f["id"]: f for f in outbound.failed_list(r)}
    assert failed["nosecret"]["errcode"] == 40001 and failed["nosecret"]["attempts"] == 1
    # The admins' alert goes through the same app and fails too: it is kept, not lost.
    assert [k for k in failed if k.startswith("alert:40001:app:")]


# -- retries -------------------------------------------------------------------------------------------
def test_retry_with_backoff_then_delivered_exactly_once(sim, r):
    sim.state.add_fault(
        {"path": "webhook/send", "errcode": 45009},
        {"path": "webhook/send", "errcode": -1},
        {"path": "webhook/send", "http": 502},
    )
    t = time.time()
    outbound.post(r, out("rb"))
    assert sent(sim) == []
    waits = []
    clock = t
    for _ in range(3):
        due = outbound.next_due(r)
        waits.append(round(due - clock))
        clock = due + 0.5
        outbound.process_outbox(r, now=clock)
    assert waits == [2, 8, 30]
    assert [m["content"] for m in sent(sim)] == ["hello rb"]
    run_forward(r, 1000, t)
    assert len(sent(sim)) == 1 and outbound.next_due(r) is None
    m = outbound.metrics(r)
    assert m["sends_retry"] == 3 and m["sends_ok"] == 1 and "sends_failed" not in m
    assert outbound.state_of(r, "rb")["attempts"] == "4"


def test_retries_exhausted_go_to_the_failed_registry(sim, r):
    sim.state.add_fault({"path": "webhook/send", "http": 503, "times": 50})
    outbound.post(r, out("ex"))
    t = time.time()
    for step in range(1, 8):
        run_forward(r, 200 * step, t)
    [f] = outbound.failed_list(r)
    assert f["id"] == "ex" and f["http_status"] == 503 and f["attempts"] == 5
    assert sim.state.call_count("webhook/send") == 5


def test_connection_refused_is_retried(sim, r, env):
    sim.stop()
    outbound.post(r, out("down"))
    st_ = outbound.state_of(r, "down")
    assert st_["status"] == "retry" and "connection failed" in st_["last_error"]
    assert outbound.failed_list(r) == []


def test_timeout_retried_once_and_counted(sim, r):
    sim.state.add_fault({"path": "webhook/send", "timeout": True, "delivered": True})
    t = time.time()
    outbound.post(r, out("to"))
    assert outbound.state_of(r, "to")["status"] == "retry"
    run_forward(r, 5, t)
    # The first attempt did arrive (its answer did not): the one retry duplicates it, as documented.
    assert [m["content"] for m in sent(sim)] == ["hello to", "hello to"]
    assert outbound.metrics(r)["sends_unknown"] == 1
    assert outbound.state_of(r, "to")["status"] == "sent"


def test_second_timeout_is_not_retried_again(sim, r):
    sim.state.add_fault({"path": "webhook/send", "timeout": True, "delivered": False, "times": 5})
    t = time.time()
    outbound.post(r, out("to2"))
    for step in range(1, 6):
        run_forward(r, 200 * step, t)
    assert sim.state.call_count("webhook/send") == 2
    [f] = outbound.failed_list(r)
    assert f["kind"] == "unknown" and f["attempts"] == 2
    assert outbound.metrics(r)["sends_unknown"] == 2


def test_fatal_goes_to_failed_and_resend_delivers_once(sim, r):
    sim.state.add_fault({"path": "webhook/send", "errcode": 40058})
    outbound.post(r, out("fa", mentions=[["u1", "张三"]]))
    assert sent(sim) == []
    [f] = outbound.failed_list(r)
    assert f["id"] == "fa" and f["errcode"] == 40058 and f["msg"]["content"] == "hello fa"
    assert outbound.resend_failed(r) == 1
    [m] = sent(sim)
    assert m["content"] == "hello fa" and m["mentioned_list"] == ["u1"]
    assert outbound.failed_list(r) == [] and outbound.resend_failed(r) == 0
    run_forward(r, 1000)
    assert len(sent(sim)) == 1


def test_resend_only_selected_ids(sim, r):
    sim.state.add_fault({"path": "webhook/send", "errcode": 40058, "times": 2})
    outbound.post(r, out("s1"))
    outbound.post(r, out("s2"))
    assert outbound.resend_failed(r, ["s2"]) == 1
    assert [m["content"] for m in sent(sim)] == ["hello s2"]
    assert [f["id"] for f in outbound.failed_list(r)] == ["s1"]


# -- exactly once --------------------------------------------------------------------------------------
def test_same_id_posted_twice_goes_out_once(sim, r):
    assert outbound.post(r, out("once")) is True
    assert outbound.post(r, out("once", content="changed")) is False
    run_forward(r, 100)
    assert [m["content"] for m in sent(sim)] == ["hello once"]


def test_redelivered_stream_entry_already_sent_is_not_resent(sim, r):
    outbound.post(r, out("rd"))
    payload = json.dumps(dict(out("rd"), _seq=1), ensure_ascii=False)
    r.xadd(streams.OUTBOX.key, {"p": payload})
    r.xadd(streams.OUTBOX.key, {"p": payload})
    outbound.process_outbox(r)
    assert len(sent(sim)) == 1
    assert r.xlen(streams.OUTBOX.key) == 0


def test_worker_killed_mid_send_counts_as_unknown(sim, r):
    """A state left at 'sending' by a dead worker: its entry comes back through reclaim; the
    outcome is unknown, so it is sent once more, and counted."""
    outbound.post(r, out("dead", not_before=time.time() + 3600))
    r.hset(keys.out_state("dead"), mapping={"status": "sending", "updated": time.time() - 100, "attempts": 1})
    run_forward(r, 3601)
    assert outbound.state_of(r, "dead")["status"] == "retry"
    assert outbound.metrics(r)["sends_unknown"] == 1
    run_forward(r, 3700)
    assert len(sent(sim)) == 1 and outbound.state_of(r, "dead")["status"] == "sent"


def test_two_reclaimers_of_a_dead_send_let_one_through(sim, r):
    """A dead worker's 'sending' state found by two reclaimers at once (the minute tick and a live
    sender): the first takes the claim and retries once, the second finds it busy and leaves it, so
    the retry cannot overwrite a send that finished meanwhile (the double send of issue 18)."""
    msg = out("dead2")
    r.hset(keys.out_state("dead2"), mapping={"status": "sending", "updated": time.time() - 100, "attempts": 1})
    settings = get_settings()
    ch = outbound.channel_of(msg, settings)
    now = time.time()
    first = outbound._take(r, settings, ch, msg, now)
    second = outbound._take(r, settings, ch, msg, now + 0.01)
    assert (first[0], second[0]) == ("stale", "busy")
    assert outbound._handle_one(r, settings, outbound.default_sender(), msg, time.time) is None  # busy: left
    assert sent(sim) == [] and outbound.state_of(r, "dead2")["status"] == "sending"


def test_sends_cut_off_by_a_crash_are_no_failure_run(sim, r):
    """A worker killed mid-send leaves many 'sending' states on one channel; retrying them once is not
    a run of failures of that channel, so admins get no "failed in a row" alert for a crash."""
    t = time.time()
    for i in range(outbound.FAILURE_RUN + 2):
        outbound.post(r, out(f"cut{i}", not_before=t + 3600))
        r.hset(keys.out_state(f"cut{i}"), mapping={"status": "sending", "updated": t - 100, "attempts": 1})
    for step in range(60):  # each one found stale, retried 2 s later, the channel's others held behind it
        run_forward(r, 3601 + 3 * step, start=t)
    assert outbound.metrics(r)["sends_unknown"] == outbound.FAILURE_RUN + 2
    assert r.get(keys.out_streak("robot:xhs01")) is None
    assert [m["path"] for m in sent(sim)] == ["webhook/send"] * (outbound.FAILURE_RUN + 2)  # no admin alert


def test_not_before_waits(sim, r):
    t = time.time()
    outbound.post(r, out("later", not_before=t + 0.5))
    assert sent(sim) == [] and abs(outbound.next_due(r) - (t + 0.5)) < 0.01
    assert outbound.pump_delayed(r) == 0
    time.sleep(0.6)
    assert outbound.pump_delayed(r) == 1  # inline: the woken drain sends it at once
    assert len(sent(sim)) == 1 and outbound.next_due(r) is None


# -- rate limits ---------------------------------------------------------------------------------------
def test_25_messages_to_one_robot_20_now_5_delayed(sim, r):
    t = time.time()
    for i in range(25):
        outbound.post(r, out(f"burst{i:02d}", content=f"n={i:02d}"))
    assert len(sent(sim)) == 20
    assert r.zcard(keys.OUT_DELAYED) == 5
    assert outbound.failed_list(r) == []
    assert outbound.robot_capacity(r, "xhs01") == 0
    assert outbound.robot_capacity(r, "xhs02") == 20
    due = outbound.next_due(r)
    assert t + 55 < due < t + 70
    # A minute later (simulator's clock too) the five go out, in order, without a 45009.
    sim.state.advance(65)
    outbound.process_outbox(r, now=t + 65)
    assert [m["content"] for m in sent(sim)] == [f"n={i:02d}" for i in range(25)]
    assert r.zcard(keys.OUT_DELAYED) == 0 and outbound.failed_list(r) == []
    assert outbound.metrics(r).get("sends_retry", 0) == 0


def test_app_messages_limited_per_user(sim, r):
    for i in range(32):
        outbound.post(r, dm(f"pu{i}", users=["busy"]))
    outbound.post(r, dm("other", users=["calm"]))
    assert len(sent(sim)) == 31
    assert r.zcard(keys.OUT_DELAYED) == 2 and outbound.failed_list(r) == []


def test_batch_for_many_robots_sent_concurrently(sim, r, env):
    """Many groups' posts drained in one batch: the sends overlap (latency 0.2 s each)."""
    sim.state.latency = 0.2
    sim.state.valid_keys = None
    groups = [f"g{i}" for i in range(10)]
    env_vars = {"BOT_GROUPS": ",".join(["xhs01", "xhs02"] + groups)}
    for i, g in enumerate(groups):
        env_vars[f"GROUP_{g.upper()}_WEBHOOK_KEY"] = f"{i:08d}-aaaa-bbbb"
        env_vars[f"GROUP_{g.upper()}_CHAT_ID"] = f"chat{g}"
        env_vars[f"GROUP_{g.upper()}_LEADERS"] = "leader1"
    env(**env_vars)
    for g in groups:
        for j in range(2):
            outbound._post(r, out(f"{g}-{j}", group=g, content=f"{g}-{j}"), wake=False)
    started = time.monotonic()
    outbound.process_outbox(r)
    elapsed = time.monotonic() - started
    msgs = sent(sim)
    assert len(msgs) == 20
    assert elapsed < 2.0  # one after the other: 20 x 0.2 s = 4 s
    for g in groups:  # per robot, order kept
        assert [m["content"] for m in msgs if m["content"].startswith(g + "-")] == [f"{g}-0", f"{g}-1"]


# -- alerts --------------------------------------------------------------------------------------------
def test_revoked_robot_key_alerts_admins_once(sim, r):
    sim.state.revoke_key(robot_key())
    for i in range(6):
        outbound.post(r, out(f"rv{i}"))
    failed = outbound.failed_list(r)
    assert len(failed) == 6 and {f["errcode"] for f in failed} == {93000}
    alerts = sent(sim, "message/send")
    assert len(alerts) == 1 and alerts[0]["touser"] == ["admin1"]
    assert "robot:xhs01" in alerts[0]["content"] and "93000" in alerts[0]["content"]
    for i in range(6, 20):
        outbound.post(r, out(f"rv{i}"))
    assert len(sent(sim, "message/send")) == 1


def test_a_run_of_failures_alerts_once(sim, r):
    sim.state.add_fault({"path": "appchat/send", "errcode": 40058, "times": 30})
    for i in range(25):
        outbound.post(r, out(f"run{i}", group="xhs02"))
    # Failed calls count against the chat's 20 a minute too: the last 5 wait for the next minute.
    assert len(outbound.failed_list(r)) == 20 and r.zcard(keys.OUT_DELAYED) == 5
    alerts = sent(sim, "message/send")
    assert len(alerts) == 1 and "appchat:xhs02" in alerts[0]["content"]


# -- dry run and secrets -------------------------------------------------------------------------------
def test_dry_run_sends_nothing(sim, r, env, caplog):
    env(BOT_DRY_RUN="1")
    caplog.set_level(logging.INFO)
    outbound.post(r, out("dry1", mentions=[["u1", "张三"]]))
    outbound.post(r, dm("dry2"))
    assert sent(sim) == [] and sim.state.call_count() == 0
    assert outbound.state_of(r, "dry1")["status"] == "sent" and outbound.state_of(r, "dry1")["dry_run"] == "1"
    lines = [rec.getMessage() for rec in caplog.records]
    assert any("dry run" in line and "dry1" in line for line in lines)
    assert not any(robot_key() in line for line in lines)


def test_no_secret_in_logs_or_registry(sim, r, env, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    f = tmp_path / "a.txt"
    f.write_text("x")
    t = time.time()
    outbound.post(r, out("s-robot", mentions=[["u1", "张三"]]))
    outbound.post(r, out("s-file", msgtype="file", content="", file={"path": str(f), "name": "a.txt"}))
    outbound.post(r, out("s-chat", group="xhs02"))
    outbound.post(r, dm("s-dm"))
    sim.state.add_fault({"path": "message/send", "errcode": 40014})
    outbound.post(r, dm("s-refetch"))
    sim.state.add_fault(
        {"path": "webhook/send", "http": 502},
        {"path": "webhook/send", "timeout": True},
        {"path": "webhook/send", "errcode": 40058},
    )
    outbound.post(r, out("s-502"))
    run_forward(r, 10, t)
    outbound.post(r, out("s-fatal"))
    sim.state.revoke_key(robot_key())
    outbound.post(r, out("s-revoked"))
    sim.state.secret = "changed-secret-0000"
    r.delete(f"wb:token:{get_settings().corp_id}:{get_settings().agent_id}")
    outbound.post(r, dm("s-badsecret"))
    sim.stop()
    outbound.post(r, out("s-down"))
    outbound.post(r, dm("s-down-dm"))

    secrets_ = [get_settings().secret, robot_key(), *sim.state.tokens]
    assert len(secrets_) >= 4
    texts = []
    for rec in caplog.records:
        texts.append(rec.getMessage())
        if rec.exc_info:
            texts.append(logging.Formatter().formatException(rec.exc_info))
    texts += [raw.decode() for raw in r.hvals(keys.OUT_FAILED)]
    for key in r.scan_iter("wb:out:*"):
        kind = r.type(key)
        if kind == b"hash":
            texts += [v.decode() for v in r.hvals(key)]
        elif kind == b"zset":
            texts += [m.decode() for m in r.zrange(key, 0, -1)]
        elif kind == b"string":
            texts.append(r.get(key).decode())
    texts += [str(e) for _id, e in r.xrange(streams.OUTBOX.key)]
    assert any("webhook/send?key=***" in t_ for t_ in texts)  # the URLs were logged, redacted
    assert any("access_token=***" in t_ for t_ in texts)
    assert any("corpsecret=***" in t_ for t_ in texts)
    assert len(outbound.failed_list(r)) >= 3
    for secret in secrets_:
        leaks = [t_ for t_ in texts if secret in t_]
        assert not leaks, leaks[:3]


def test_redact_url():
    assert (
        redact_url("http://h/cgi-bin/webhook/send?key=abc-123&type=file")
        == "http://h/cgi-bin/webhook/send?key=***&type=file"
    )
    assert "s3cret" not in redact_url("gettoken?corpid=ww1&corpsecret=s3cret")


def test_drain_job_waits_for_a_retry_due_soon(sim, r):
    """Outside inline mode the drain job sleeps until a retry due within 15 s, then sends it."""
    from workers import jobs

    jobs.set_inline(False)  # post() enqueues a job nobody runs; we run it
    sim.state.add_fault({"path": "webhook/send", "errcode": 45009})
    outbound.post(r, out("soon"))
    started = time.monotonic()
    outbound.drain_outbox()
    assert 1.5 < time.monotonic() - started < 6
    assert [m["content"] for m in sent(sim)] == ["hello soon"]
    assert outbound.next_due(r) is None


def test_simulator_control_endpoints(sim, r):
    import requests

    base = sim.base_url
    assert requests.post(base + "_control/faults", json={"path": "webhook/send", "errcode": 45009}).ok
    key = robot_key()

    def post_text(webhook_key: str, content: str) -> int:
        body = {"msgtype": "text", "text": {"content": content}}
        return requests.post(base + f"webhook/send?key={webhook_key}", json=body).json()["errcode"]

    assert post_text(key, "a") == 45009
    assert post_text(key, "b") == 0
    assert post_text("nope", "c") == 93000
    big = {"msgtype": "text", "text": {"content": "x" * 2049}}
    assert requests.post(base + f"webhook/send?key={key}", json=big).json()["errcode"] == 40058
    assert [m["content"] for m in requests.get(base + "_control/sent").json()] == ["b"]
    tok = requests.get(
        base + "gettoken", params={"corpid": get_settings().corp_id, "corpsecret": get_settings().secret}
    ).json()["access_token"]
    body = {"touser": "u1", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}}
    assert requests.post(base + "message/send", params={"access_token": tok}, json=body).json()["errcode"] == 0
    assert requests.post(base + "_control/expire_tokens").ok
    assert requests.post(base + "message/send", params={"access_token": tok}, json=body).json()["errcode"] == 42001
    assert requests.post(base + "message/send", params={"access_token": "x"}, json=body).json()["errcode"] == 40014
    bad = requests.get(base + "gettoken", params={"corpid": get_settings().corp_id, "corpsecret": "wrong"}).json()
    assert bad["errcode"] == 40001 and "access_token" not in bad
    assert requests.post(base + "_control/reset").ok
    assert requests.get(base + "_control/sent").json() == []


def test_simulator_blueprint_mounts_anywhere():
    from flask import Flask

    from wecom_bot.sim import simulator

    app = Flask("x")
    app.register_blueprint(simulator.bp, url_prefix="/_sim/cgi-bin")
    client = app.test_client()
    simulator.DEFAULT_STATE.reset()
    tok = client.get("/_sim/cgi-bin/gettoken?corpid=wwsimulator&corpsecret=simsecret").get_json()
    assert tok["errcode"] == 0
    res = client.post(
        "/_sim/cgi-bin/appchat/send?access_token=" + tok["access_token"],
        json={"chatid": "c1", "msgtype": "text", "text": {"content": "hi"}},
    ).get_json()
    assert res["errcode"] == 0
    assert [m["chatid"] for m in client.get("/_sim/cgi-bin/_control/sent").get_json()] == ["c1"]
    simulator.DEFAULT_STATE.reset()


def test_post_many_in_order_and_once(sim, r):
    msgs = [out(f"pm{i}", content=f"pm{i}") for i in range(5)]
    assert outbound.post_many(r, msgs + msgs[:2]) == 5
    assert [m["content"] for m in sent(sim)] == [f"pm{i}" for i in range(5)]


def test_entries_left_by_a_dead_worker_are_reclaimed(sim, r):
    for i in range(3):
        outbound._post(r, out(f"dw{i}", content=f"dw{i}"), wake=False)
    streams.ensure_group(r, streams.OUTBOX)
    r.xreadgroup(streams.GROUP, "dead-worker", {streams.OUTBOX.key: ">"}, count=10)  # taken, never acked
    assert outbound.process_outbox(r) == 0 and sent(sim) == []
    assert streams.reclaim(r, streams.OUTBOX, outbound.handle_entries, min_idle_ms=0) == 3
    assert [m["content"] for m in sent(sim)] == ["dw0", "dw1", "dw2"]
    assert streams.depth(r, streams.OUTBOX)["pending"] == 0
