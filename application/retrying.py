"""The one way a use case runs a transaction again after a failure that a retry can mend."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retried(
    action: Callable[[], T],
    *,
    on: type[Exception],
    attempts: int,
    pause: Callable[[int], None] | None = None,
) -> T:
    """`action()`, run up to `attempts` times in all while it raises `on`; the last one's
    error is raised. `pause(n)` runs after the n-th failed attempt, before the next."""
    for attempt in range(1, attempts):
        try:
            return action()
        except on:
            if pause is not None:
                pause(attempt)
    return action()
