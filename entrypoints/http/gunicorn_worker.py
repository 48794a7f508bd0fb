"""gunicorn's gthread worker, but a request reaches a thread only once it has arrived.

Plain gthread hands a connection to a thread as soon as it is readable, and the thread
then blocks until the client has sent the whole request: eight clients that send a
header line every two seconds hold every thread of a 4 x 2 server. Here the worker's
main loop collects each request's bytes without blocking (see `request_inbox`), with a
deadline for the headers and another for the body, and only then gives it to a thread,
which parses it from memory. A slow or idle client costs a buffer, not a thread; one
that misses its deadline gets a 408 in the service's envelope and is closed.

gunicorn's own refusals (a malformed request line, a header block too large, a
request line too long) are answered in the same envelope instead of its HTML page.
"""

from __future__ import annotations

import io
import json
import logging
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import TConn, ThreadWorker

from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.errors import raw_error_reply
from entrypoints.http.request_inbox import Arrival, RequestInbox

LOG = logging.getLogger("export_responses.server")
# How long a stopping worker lets a half-sent request finish arriving.
STOP_READING_LINGER = 2.0
MAX_HEADER_BYTES = 64 * 1024
LINGER_SECONDS = 2.0
_RECV_BYTES = 65536


class BufferedThreadWorker(ThreadWorker):
    """Set `header_read_seconds`, `body_read_seconds` and `max_body_bytes` on the class
    (see `configured`) before gunicorn starts it."""

    header_read_seconds = 10.0
    body_read_seconds = 30.0
    max_body_bytes = 1024 * 1024

    @classmethod
    def configured(cls, *, header_read_seconds: float, body_read_seconds: float, max_body_bytes: int) -> type:
        """A subclass with these limits, for gunicorn's `worker_class` setting."""
        limits = {
            "header_read_seconds": header_read_seconds,
            "body_read_seconds": body_read_seconds,
            "max_body_bytes": max_body_bytes,
        }
        return type(cls.__name__, (cls,), limits)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: dict[TConn, _Reading] = {}
        self.lingering: dict[TConn, float] = {}  # refused, closing: until when we read what comes
        cfg = self.cfg
        # gunicorn's parser would take up to ~800 KB of headers (100 of 8190 bytes); no
        # client of this API sends more than a few kB, and each slow connection may hold
        # this much in memory.
        gunicorn_limit = cfg.limit_request_line + cfg.limit_request_fields * (cfg.limit_request_field_size + 2)
        self.max_header_bytes = min(gunicorn_limit, MAX_HEADER_BYTES)

    # ---- every way into a thread goes through here --------------------------------

    def enqueue_req(self, conn: TConn) -> None:
        arrived = getattr(conn, "arrived_bytes", None)
        if arrived is not None:
            super().enqueue_req(conn)
            return
        leftover = b""
        if conn.parser is not None:
            # A request pipelined behind the last one, already read from the socket.
            leftover = conn.parser.unreader.buf.getvalue()
            conn.parser.unreader.buf = io.BytesIO()
        conn.sock.setblocking(False)
        reading = _Reading(RequestInbox(self.max_header_bytes, self.max_body_bytes), self._deadline_for_headers())
        self.reading[conn] = reading
        if leftover and self._take(conn, reading, leftover):
            return
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def handle(self, conn: TConn):
        """In a thread: parse the request from the bytes that arrived, then serve it."""
        arrived = getattr(conn, "arrived_bytes", None)
        conn.arrived_bytes = None
        if arrived is not None:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(arrived))
        return super().handle(conn)

    # ---- the main loop's side ----------------------------------------------------

    def _on_readable(self, conn: TConn, client) -> None:
        reading = self.reading.get(conn)
        if reading is None:
            return
        try:
            chunk = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not chunk:
            # The client closed its side. Headers with part of a body: say so (it may
            # still read); anything less: nothing to answer.
            if reading.inbox.header_end is not None:
                self._answer(conn, "incomplete_body", reason="The connection closed before the request body arrived")
            else:
                self._close(conn)
            return
        self._take(conn, reading, chunk, registered=True)

    def _take(self, conn: TConn, reading: _Reading, chunk: bytes, registered: bool = False) -> bool:
        """Add `chunk`; True when the connection left the reading state."""
        had_headers = reading.inbox.header_end is not None
        arrival = reading.inbox.feed(chunk)
        refusal = self._refusal_of(arrival, reading.inbox)
        if refusal is not None:
            code, facts = refusal
            self._answer(conn, code, **facts)
            return True
        if not had_headers and reading.inbox.header_end is not None:
            reading.deadline = time.monotonic() + self.body_read_seconds
            if reading.inbox.expects_continue and arrival is Arrival.WAITING_FOR_BODY:
                _send_quietly(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
        if arrival is not Arrival.ARRIVED:
            return False
        if registered:
            self.poller.unregister(conn.sock)
        del self.reading[conn]
        conn.arrived_bytes = reading.inbox.data
        super().enqueue_req(conn)
        return True

    def _refusal_of(self, arrival: Arrival, inbox: RequestInbox) -> tuple[str, dict[str, Any]] | None:
        """What to answer (a code and its facts), here and now, a request whose end cannot be awaited safely."""
        if arrival is Arrival.HEADERS_TOO_LARGE:
            return "headers_too_large", {"reason": f"longer than {self.max_header_bytes} bytes"}
        if arrival is Arrival.BODY_TOO_LARGE:
            return "payload_too_large", {"limit": self.max_body_bytes}
        if arrival is Arrival.UNSUPPORTED_CODING:
            return "unsupported_transfer_coding", {}
        if arrival is Arrival.MALFORMED:
            return "bad_request", {"reason": f"The request is not valid HTTP/1.1: {inbox.problem}"}
        return None

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self.lingering.items()):
            if now >= deadline or not self.alive:
                self._end_lingering(conn)
        for conn, reading in list(self.reading.items()):
            if not self.alive and not reading.inbox.received_anything:
                self._close(conn)  # stopping: an idle connection has nothing to finish
            elif not self.alive and reading.stop_deadline is None:
                reading.stop_deadline = now + STOP_READING_LINGER
            elif now >= reading.deadline or (reading.stop_deadline is not None and now >= reading.stop_deadline):
                self._time_out(conn, reading)

    def murder_keepalived(self, force: bool = False) -> None:
        super().murder_keepalived(force)
        if force:
            for conn in list(self.reading):
                self._close(conn)
            for conn in list(self.lingering):
                self._end_lingering(conn)

    def _time_out(self, conn: TConn, reading: _Reading) -> None:
        if not reading.inbox.received_anything:
            self._close(conn)
            return
        waited = "headers" if reading.inbox.header_end is None else "body"
        limit = self.header_read_seconds if waited == "headers" else self.body_read_seconds
        LOG.info(json.dumps({"event": "request_timeout", "waiting_for": waited, "client": _client(conn)}))
        self._answer(conn, "request_timeout", waited=waited, limit=limit)

    def _answer(self, conn: TConn, code: str, **facts: Any) -> None:
        """Send a refusal and close, reading what the client still sends for a moment:
        closing on unread bytes would make the kernel reset the connection, and the
        client might lose the reply (RFC 9112, 9.6)."""
        _send_quietly(conn, raw_error_reply(code, **facts))
        if self.reading.pop(conn, None) is not None:
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_lingering, conn))
        except (OSError, ValueError):
            self.nr_conns -= 1
            conn.close()
            return
        self.lingering[conn] = time.monotonic() + LINGER_SECONDS

    def _on_lingering(self, conn: TConn, client) -> None:
        try:
            if conn.sock.recv(_RECV_BYTES):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._end_lingering(conn)

    def _end_lingering(self, conn: TConn) -> None:
        if self.lingering.pop(conn, None) is None:
            return
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        conn.close()

    def _close(self, conn: TConn) -> None:
        if self.reading.pop(conn, None) is not None:
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass  # not registered (the bytes came from a pipelined leftover)
        self.nr_conns -= 1
        conn.close()

    def _deadline_for_headers(self) -> float:
        return time.monotonic() + self.header_read_seconds

    # ---- gunicorn's own refusals, in the envelope --------------------------------

    def handle_error(self, req, client, addr, exc) -> None:
        code, facts = _refusal(exc)
        status = CATALOGUE.reply_status(code)
        if status == 500:
            LOG.exception("error handling a request (no response from the application)")
        else:
            LOG.warning(json.dumps({"event": "invalid_request", "status": status, "code": code, "error": str(exc)}))
        try:
            client.setblocking(True)
            client.sendall(raw_error_reply(code, **facts))
        except OSError:
            pass  # the client is gone


class _Reading:
    __slots__ = ("inbox", "deadline", "stop_deadline")

    def __init__(self, inbox: RequestInbox, deadline: float):
        self.inbox = inbox
        self.deadline = deadline
        self.stop_deadline: float | None = None


def _refusal(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """The code (and its facts) that answers one of gunicorn's parse errors."""
    if isinstance(exc, http_errors.LimitRequestLine):
        return "uri_too_long", {}
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return "headers_too_large", {"reason": f"too large: {exc}"}
    if isinstance(exc, http_errors.UnsupportedTransferCoding):
        return "unsupported_transfer_coding", {}
    if isinstance(exc, http_errors.ExpectationFailed):
        return "expectation_failed", {}
    if isinstance(exc, http_errors.ParseException):
        return "bad_request", {"reason": f"The request is not valid HTTP/1.1: {type(exc).__name__}"}
    return "internal_error", {"reason": "Something went wrong on our side before the request reached the service"}


def _send_quietly(conn: TConn, data: bytes) -> None:
    try:
        conn.sock.send(data)  # small, into an empty send buffer: all of it, at once
    except OSError:
        pass


def _client(conn: TConn) -> str:
    try:
        return f"{conn.client[0]}:{conn.client[1]}"
    except (TypeError, IndexError):
        return str(conn.client)
