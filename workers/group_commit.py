"""Group commit: the threads of one process that want to write at the same moment share one write.

A callback's durable write is one Redis round trip, and on a small machine the round trip itself
(two syscalls on each side, a wake-up of the server) costs more CPU than the script it runs. Under
load a web process has several threads in a callback at once; instead of each making its own round
trip, the first one in becomes the leader and writes everything queued so far in one call, while
the others wait. When the call returns, each waiter gets its own outcome (or the call's exception)
and only then answers: a callback still answers 200 only once its own message is stored.

There is no timer and no lingering: a lone request is written at once, in a batch of one. Batches
form only because requests arrive while a write is in flight, which is exactly when they help.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

Item = TypeVar("Item")
Result = TypeVar("Result")
Key = TypeVar("Key")


class _Slot:
    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item):
        self.item, self.done, self.result, self.error = item, False, None, None


class GroupCommit(Generic[Item, Result]):
    """`submit(item)` returns `flush([.., item, ..])`'s result for that item; `flush` gets the items
    of all threads waiting at the time (at most `max_batch`) and returns one result per item, in order.
    If `flush` raises, every item of that batch gets the exception; the next batch is tried anew."""

    def __init__(self, flush: Callable[[list[Item]], Sequence[Result]], max_batch: int = 128):
        self._flush, self._max = flush, max_batch
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False
        self._leader = 0  # thread id of the thread writing a batch, if any
        self.flushes = self.items = 0  # for tests and diagnostics

    @property
    def pending(self) -> int:
        """Items queued behind the write in flight."""
        return len(self._queue)

    def submit(self, item: Item) -> Result:
        if self._leader == threading.get_ident():  # re-entered from inside flush: write alone
            return self._flush([item])[0]
        slot = _Slot(item)
        cond = self._cond
        with cond:
            self._queue.append(slot)
            while not slot.done:
                if self._busy:  # a leader is writing; it or the next one takes this slot
                    cond.wait()
                    continue
                self._busy, self._leader = True, threading.get_ident()
                batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                cond.release()
                try:
                    self._write(batch)
                finally:
                    cond.acquire()
                    self._busy, self._leader = False, 0
                    cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return cast(Result, slot.result)

    def _write(self, batch: list[_Slot]) -> None:
        """Runs outside the lock; every slot of the batch is done when it returns."""
        try:
            results = self._flush([s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"group commit: {len(results)} results for {len(batch)} items")
            for s, res in zip(batch, results, strict=True):
                s.result = res
        except BaseException as exc:  # noqa: B036 - handed to every waiter, each re-raises it
            for s in batch:
                s.error = exc
        self.flushes += 1
        self.items += len(batch)
        for s in batch:
            s.done = True


class PerProcess(Generic[Key, Item, Result]):
    """One GroupCommit per process and key: a lock and its waiters must not cross a fork (a gunicorn
    worker forked from a master that already had one would inherit a lock in an unknown state)."""

    def __init__(self, make: Callable[[Key], GroupCommit[Item, Result]]):
        self._make, self._pid = make, os.getpid()
        self._by_key: dict[int, tuple[Key, GroupCommit[Item, Result]]] = {}
        self._lock = threading.Lock()

    def get(self, key: Key) -> GroupCommit[Item, Result]:
        if self._pid != os.getpid():
            self._pid, self._by_key, self._lock = os.getpid(), {}, threading.Lock()
        found = self._by_key.get(id(key))
        if found is None or found[0] is not key:
            with self._lock:
                found = self._by_key.get(id(key))
                if found is None or found[0] is not key:
                    found = self._by_key[id(key)] = (key, self._make(key))
        return found[1]
