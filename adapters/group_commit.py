"""Group commit: threads that end their work together record it in one transaction.

Each caller of `record` waits for its own item. One of the waiting callers at a time
leads: it takes every item waiting (up to `most`), records them with one call of
`record_all`, hands each caller its result, and gives the lead to the next. While it
records, the items of the threads that finish meanwhile gather for the next call. On
SQLite, where one writer at a time holds the database, and a commit waits for its
flush, that is one lock and one flush for many attempts instead of one each.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("item", "result", "error", "done", "turn")

    def __init__(self, item: T, lock: threading.Lock):
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False
        # Notified when the slot is done, or when it is first in line as a leader ends:
        # a leader wakes only those, not every waiting caller.
        self.turn = threading.Condition(lock)


class GroupCommit(Generic[T, R]):
    """`record(item)` is `record_all([item])[0]`, with the items of concurrent callers
    recorded together. When a group fails, each item is recorded alone, so that one
    item's fault is its caller's only; but a failure of one of `shared` types (the
    store is down) is every caller's in the group, given to each without more tries."""

    def __init__(
        self,
        record_all: Callable[[Sequence[T]], Sequence[R]],
        most: int,
        shared: tuple[type[BaseException], ...] = (),
    ):
        self._record_all = record_all
        self._most = most
        self._shared = shared
        self._lock = threading.Lock()
        self._waiting: deque[_Slot[T, R]] = deque()
        self._leading = False

    def record(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item, self._lock)
        with self._lock:
            self._waiting.append(slot)
            while not slot.done:
                if self._leading:
                    # Bounded by the leader's one call of record_all, which is bounded.
                    slot.turn.wait()
                    continue
                self._leading = True
                group = [self._waiting.popleft() for _ in range(min(self._most, len(self._waiting)))]
                self._lock.release()
                try:
                    self._run(group)
                finally:
                    self._lock.acquire()
                    self._leading = False
                    for member in group:
                        member.turn.notify()
                    if self._waiting:
                        self._waiting[0].turn.notify()  # the lead, to the first in line
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _run(self, group: list[_Slot[T, R]]) -> None:
        try:
            self._finish(group, self._record_all([slot.item for slot in group]))
        except BaseException as error:  # noqa: BLE001 - given to the callers, who raise it
            if len(group) == 1 or isinstance(error, self._shared):
                for slot in group:
                    slot.error, slot.done = error, True
                return
            for slot in group:
                self._run([slot])

    @staticmethod
    def _finish(group: list[_Slot[T, R]], results: Sequence[R]) -> None:
        if len(results) != len(group):
            raise RuntimeError(f"record_all gave {len(results)} results for {len(group)} items")
        for slot, result in zip(group, results, strict=True):
            slot.result, slot.done = result, True
