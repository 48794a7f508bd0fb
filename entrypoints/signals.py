"""Stop signals, handled without deadlocks: the handler only hands the signal on.

A Python signal handler runs in the main thread between two bytecodes, possibly while
that thread holds a lock the handler would take too (`Event.set`, a thread pool's
shutdown, logging): a plain lock taken twice by one thread never returns, and the
process hangs until something kills it. `SimpleQueue.put` is documented as safe to
call from a signal handler, so the handler only puts the signal there and a thread of
its own acts on it.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterable

# Ctrl-C, `kill` (systemd, Procfile runners) and a closed terminal all mean "stop".
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def relay_signals(signums: Iterable[int], act: Callable[[int], None]) -> None:
    """Call `act(signum)`, in a daemon thread, for each of `signums` received."""
    received = signal_queue(signums)

    def relay() -> None:
        while True:
            act(received.get())

    threading.Thread(target=relay, name="signals", daemon=True).start()


def signal_queue(signums: Iterable[int]) -> queue.SimpleQueue:
    """Handlers for `signums` that only put the signal into the queue returned."""
    received: queue.SimpleQueue = queue.SimpleQueue()
    for signum in signums:
        signal.signal(signum, lambda signum, _frame: received.put(signum))
    return received
