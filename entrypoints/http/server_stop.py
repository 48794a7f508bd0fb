"""How a gunicorn worker of `serve` stops: within seconds, finishing the requests in hand.

gunicorn's own handlers do not stop it promptly every time:
- Ctrl-C in a terminal signals the whole process group, so each worker gets SIGINT from
  the terminal and, a moment later, SIGQUIT from the arbiter. The gthread worker's
  handler shuts its thread pool down under the pool's lock, which is not reentrant:
  when the second signal lands while the first handler holds it, the worker deadlocks
  until the arbiter kills it after graceful_timeout, 30 s later ("was sent SIGKILL!
  Perhaps out of memory?").
- A worker only exits once every pool thread has returned, and a thread holding a
  connection that has sent nothing yet waits up to 5 s for its first byte.
- SIGHUP (a closed terminal) is not handled by workers at all: it kills them outright.

So every stop signal is only queued (see entrypoints.signals); a thread of the worker
then starts gunicorn's graceful stop (no new connections; kept-alive ones answered
with `Connection: close` for a moment) and ends the process once no request is in hand.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time

from entrypoints.signals import exiting_soon, signal_queue

# Ctrl-C and SIGQUIT mean "now": requests in hand get this long, then the worker exits.
QUIT_SECONDS = 2.0
# After SIGTERM or SIGHUP a request arriving on a kept-alive connection is still
# answered for this long (gunicorn's own linger), however idle the worker is.
KEEPALIVE_LINGER_SECONDS = 2.0
_HURRY = (signal.SIGINT, signal.SIGQUIT)
_POLL_SECONDS = 0.05


class RequestsInHand:
    """How many requests a worker's threads are handling, from headers read to reply sent."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count = 0

    def started(self) -> None:
        with self._lock:
            self._count += 1

    def finished(self) -> None:
        with self._lock:
            self._count -= 1

    def none(self) -> bool:
        with self._lock:
            return self._count == 0


def stop_promptly(worker, graceful_seconds: float) -> None:
    """gunicorn's post_worker_init: take over the worker's stop signals."""
    worker.requests_in_hand = RequestsInHand()
    stops = signal_queue((signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP))
    threading.Thread(
        target=_stop_when_signalled, args=(worker, stops, graceful_seconds), name="stop", daemon=True
    ).start()


def request_started(worker, _request) -> None:
    worker.requests_in_hand.started()


def request_finished(worker, _request, _environ, _response) -> None:
    worker.requests_in_hand.finished()


def _stop_when_signalled(worker, stops: queue.SimpleQueue, graceful_seconds: float) -> None:
    signum = stops.get()
    exiting_soon()
    worker.handle_exit(signum, None)  # gunicorn's graceful stop, outside any signal handler
    hurry = signum in _HURRY
    started = time.monotonic()
    while True:
        linger, limit = (0.0, QUIT_SECONDS) if hurry else (KEEPALIVE_LINGER_SECONDS, graceful_seconds)
        elapsed = time.monotonic() - started
        if elapsed >= limit or (elapsed >= linger and worker.requests_in_hand.none()):
            break
        try:
            hurry = stops.get(timeout=_POLL_SECONDS) in _HURRY or hurry  # Ctrl-C after SIGTERM hurries
        except queue.Empty:
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: interpreter exit would join the threads still waiting on idle clients.
    os._exit(0)
