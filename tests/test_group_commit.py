"""Group commit (workers/group_commit.py): threads of one process share a write and each gets its own
outcome; and through `ingest.accept` on a real Redis, concurrent callbacks store every message once."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from workers import ingest, jobs, keys, streams
from workers.group_commit import GroupCommit, PerProcess

JOIN = 30  # seconds: a bound for a deadlock, never reached when things work


def _start(fn, *args) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def _wait_until(cond, what):
    done = threading.Event()
    for _ in range(3000):
        if cond():
            return
        done.wait(0.01)
    raise AssertionError(f"never happened: {what}")


class GatedFlush:
    """A flush that records its batches and holds the first one until `release()`."""

    def __init__(self, fail_on=None):
        self.batches: list[list] = []
        self.entered, self.gate = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.gate.wait(JOIN)
        if self.fail_on in items:
            raise ConnectionError("redis went away")
        return [i * 10 for i in items]


def test_threads_arriving_during_a_write_share_the_next_one_and_each_gets_its_own_result():
    flush = GatedFlush()
    gc = GroupCommit(flush)
    results: dict[int, int] = {}

    def submit(i):
        results[i] = gc.submit(i)

    threads = [_start(submit, 1)]
    assert flush.entered.wait(JOIN)  # 1 is being written, alone
    threads += [_start(submit, i) for i in (2, 3, 4)]
    _wait_until(lambda: gc.pending == 3, "three waiters queued behind the write")
    flush.gate.set()
    for t in threads:
        t.join(JOIN)
        assert not t.is_alive()
    assert flush.batches[0] == [1]
    assert sorted(flush.batches[1]) == [2, 3, 4] and len(flush.batches) == 2
    assert results == {1: 10, 2: 20, 3: 30, 4: 40}
    assert (gc.flushes, gc.items) == (2, 4)


def test_a_failed_write_fails_each_of_its_waiters_and_not_the_next_write():
    flush = GatedFlush(fail_on=3)
    gc = GroupCommit(flush)
    outcome: dict[int, object] = {}

    def submit(i):
        try:
            outcome[i] = gc.submit(i)
        except ConnectionError as exc:
            outcome[i] = exc

    threads = [_start(submit, 1)]
    assert flush.entered.wait(JOIN)
    threads += [_start(submit, i) for i in (2, 3)]
    _wait_until(lambda: gc.pending == 2, "two waiters")
    flush.gate.set()
    for t in threads:
        t.join(JOIN)
    assert outcome[1] == 10
    assert isinstance(outcome[2], ConnectionError) and isinstance(outcome[3], ConnectionError)
    assert gc.submit(5) == 50  # the next write is tried anew


def test_a_batch_never_exceeds_max_batch():
    flush = GatedFlush()
    gc = GroupCommit(flush, max_batch=2)
    threads = [_start(gc.submit, 0)]
    assert flush.entered.wait(JOIN)
    threads += [_start(gc.submit, i) for i in range(1, 6)]
    _wait_until(lambda: gc.pending == 5, "five waiters")
    flush.gate.set()
    for t in threads:
        t.join(JOIN)
        assert not t.is_alive()
    assert [len(b) for b in flush.batches] == [1, 2, 2, 1]
    assert sorted(i for b in flush.batches for i in b) == list(range(6))


def test_a_flush_that_submits_again_does_not_deadlock():
    gc: GroupCommit

    def flush(items):
        return [gc.submit(-i) if i > 0 else i for i in items]

    gc = GroupCommit(flush)
    out = []
    t = _start(lambda: out.append(gc.submit(7)))
    t.join(JOIN)
    assert not t.is_alive() and out == [-7]


def test_one_group_commit_per_process_and_key():
    made = []
    pp = PerProcess(lambda key: made.append(key) or GroupCommit(lambda items: items))
    a, b = object(), object()
    assert pp.get(a) is pp.get(a) and pp.get(a) is not pp.get(b)
    first = pp.get(a)
    pp._pid = -1  # as in a forked child: nothing inherited is reused
    assert pp.get(a) is not first and made == [a, b, a]


@pytest.fixture
def web(env, r):
    """As in the web process: accepted messages stay in the inbox (the drain job waits for a worker)."""
    jobs.set_inline(False)
    return r


def _event(msgid: str) -> dict:
    return {
        "source": "robot",
        "msgid": msgid,
        "chat_id": "wrkGC",
        "chat_type": "group",
        "userid": "u1",
        "name": "小鹿",
        "alias": "",
        "msgtype": "text",
        "text": "@打卡助手 打卡",
        "has_image": False,
        "event": "",
        "ts": 1_700_000_000,
    }


def test_concurrent_callbacks_and_retries_store_each_message_once(web):
    r = web
    """16 threads of one process accept 4,800 callbacks, each MsgId twice from two threads at about the same
    moment (WeCom's retries): every MsgId is stored once, answered 'added' exactly once, counted per call."""
    threads_n, per_thread = 16, 300
    calls: dict[str, list[bool]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n)

    def client(t):
        pair = t // 2  # threads 2k and 2k+1 send the same MsgIds
        barrier.wait()
        for i in range(per_thread):
            mid = f"gc-{pair}-{i}"
            added = ingest.accept(r, _event(mid), count_as="callbacks:robot:200")
            with lock:
                calls.setdefault(mid, []).append(added)

    workers = [_start(client, t) for t in range(threads_n)]
    for t in workers:
        t.join(JOIN * 4)
        assert not t.is_alive()
    stored = Counter(json.loads(f[b"p"])["msgid"] for _id, f in r.xrange(streams.INBOX.key))
    assert len(calls) == threads_n // 2 * per_thread
    assert stored == Counter({mid: 1 for mid in calls})
    assert all(sorted(v) == [False, True] for v in calls.values())
    assert all(r.exists(keys.seen(mid)) for mid in calls)
    m = r.hgetall(keys.METRICS)
    assert int(m[b"callbacks:robot:200"]) == threads_n * per_thread
    writes = int(m[streams.INBOX.key.encode() + b":writes"])
    assert 0 < writes <= threads_n * per_thread


def test_a_write_that_fails_in_redis_loses_nothing(web):
    """A script error half-way (here XADD on a key that is not a stream) reaches the caller as a Redis error,
    so the callback answers 503, and leaves no dedupe key behind: WeCom's retry is stored, not taken for a
    duplicate. (Redis keeps what a failing script wrote before the error; the entry goes first for that.)"""
    r = web
    r.set(streams.INBOX.key, "not a stream")
    with pytest.raises(Exception) as err:
        ingest.accept(r, _event("gc-broken"))
    assert "WRONGTYPE" in str(err.value)
    assert not r.exists(keys.seen("gc-broken"))
    r.delete(streams.INBOX.key)
    assert ingest.accept(r, _event("gc-broken")) is True
    assert ingest.accept(r, _event("gc-broken")) is False
    assert r.xlen(streams.INBOX.key) == 1
