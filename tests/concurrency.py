"""Running one action on several threads at once, for the tests of concurrent callers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
WAIT_SECONDS = 60


def run_together(count: int, action: Callable[[], T]) -> list[T]:
    """`action` on `count` threads, released together by a barrier; their results in
    thread order. An exception in any thread is raised here, with its traceback."""
    barrier = threading.Barrier(count)

    def released() -> T:
        barrier.wait(timeout=WAIT_SECONDS)
        return action()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(released) for _ in range(count)]
        return [future.result(timeout=WAIT_SECONDS) for future in futures]
