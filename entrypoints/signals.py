"""Stop signals, handled without deadlocks: the handler only hands the signal on.

A Python signal handler runs in the main thread between two bytecodes, possibly while
that thread holds a lock the handler would take too (`Event.set`, a thread pool's
shutdown, logging): a plain lock taken twice by one thread never returns, and the
process hangs until something kills it. `SimpleQueue.put` is documented as safe to
call from a signal handler, so the handler only puts the signal there and a thread of
its own acts on it.
"""

from __future__ import annotations

import gc
import queue
import signal
import threading
from collections.abc import Callable, Iterable

# Ctrl-C, `kill` (systemd, Procfile runners) and a closed terminal all mean "stop".
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def relay_signals(signums: Iterable[int], act: Callable[[int], None]) -> None:
    """Call `act(signum)`, in a daemon thread, for each of `signums` received: stop signals,
    after which the process is about to exit."""
    received = signal_queue(signums)

    def relay() -> None:
        while True:
            signum = received.get()
            exiting_soon()
            act(signum)

    threading.Thread(target=relay, name="signals", daemon=True).start()


def exiting_soon() -> None:
    """Spare the exit its final garbage collection of the whole heap: a third of a second
    of CPU per process, seconds when several processes stop at once on a busy machine."""
    gc.freeze()


def ignore_stop_signals() -> None:
    """Once stopped: a late second Ctrl-C must not turn a clean exit into a death by signal
    (at exit Python resets its handlers to the default, which kills)."""
    for signum in (*STOP_SIGNALS, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)


def signal_queue(signums: Iterable[int]) -> queue.SimpleQueue:
    """Handlers for `signums` that only put the signal into the queue returned."""
    received: queue.SimpleQueue = queue.SimpleQueue()
    for signum in signums:
        signal.signal(signum, lambda signum, _frame: received.put(signum))
    return received
