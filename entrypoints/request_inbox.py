"""When has a whole HTTP/1.1 request arrived? Read from bytes alone, with no socket.

The server's main loop collects a request's bytes here, without blocking, before any
thread sees it: a client that sends slowly, or not at all, then costs a buffer and
no thread. The reading is deliberately shallow. As soon as the bytes say anything
unusual (a malformed size, a header block too long, an unknown transfer coding) the
request counts as arrived, and gunicorn's own parser, which reads every rule, answers
it: from bytes already here, so it never waits on the client.
"""

from __future__ import annotations

import enum
import re

from attrs import define, field

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_CHUNK_LINE = 4096  # a size line longer than this is malformed, not incomplete


class Arrival(enum.Enum):
    WAITING_FOR_HEADERS = "waiting for headers"
    WAITING_FOR_BODY = "waiting for body"
    ARRIVED = "arrived"  # complete, or enough for the parser to answer it
    HEADERS_TOO_LARGE = "headers too large"


@define
class RequestInbox:
    """The bytes of one request as they come, and whether they make a whole request yet."""

    max_header_bytes: int
    max_body_bytes: int
    data: bytearray = field(factory=bytearray)
    header_end: int | None = None
    expects_continue: bool = False
    _content_length: int | None = None
    _chunked: bool = False
    _scanned: int = 0  # how far the chunk scan has read, from the body's start

    def feed(self, chunk: bytes) -> Arrival:
        self.data += chunk
        return self.state()

    def state(self) -> Arrival:
        if self.header_end is None:
            end = self.data.find(b"\r\n\r\n")
            if end < 0:
                first_line_end = self.data.find(b"\r\n")
                if len(self.data) > self.max_header_bytes:
                    return Arrival.HEADERS_TOO_LARGE
                if first_line_end < 0 and len(self.data) > _MAX_CHUNK_LINE * 2:
                    return Arrival.ARRIVED  # a request line over the parser's limit: its 414
                return Arrival.WAITING_FOR_HEADERS
            self.header_end = end + 4
            if not self._read_framing(bytes(self.data[:end])):
                return Arrival.ARRIVED
        return self._body_state()

    def _read_framing(self, head: bytes) -> bool:
        """Learn the body's framing; False when the parser should judge the head as it is."""
        lengths, codings = [], []
        for line in head.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                return False
            name = name.strip().lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                codings.extend(part.strip().lower() for part in value.split(b","))
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                self.expects_continue = True
        if codings:
            if lengths or codings[-1] != b"chunked":
                return False
            self._chunked = True
            return True
        if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
            return False
        length = int(lengths[0]) if lengths else 0
        if length > self.max_body_bytes:
            return False  # the application refuses it (413) before reading it
        self._content_length = length
        return True

    def _body_state(self) -> Arrival:
        assert self.header_end is not None
        body = len(self.data) - self.header_end
        if self._content_length is not None:
            return Arrival.ARRIVED if body >= self._content_length else Arrival.WAITING_FOR_BODY
        if not self._chunked:
            return Arrival.ARRIVED
        return self._scan_chunks()

    def _scan_chunks(self) -> Arrival:
        data, start = self.data, self.header_end or 0
        position = start + self._scanned
        while True:
            line_end = data.find(b"\r\n", position)
            if line_end < 0:
                if len(data) - position > _MAX_CHUNK_LINE:
                    return Arrival.ARRIVED  # malformed: the parser says so
                return Arrival.WAITING_FOR_BODY
            size_text = bytes(data[position:line_end]).partition(b";")[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                return Arrival.ARRIVED
            size = int(size_text, 16)
            if size == 0:
                # The last chunk, then trailer lines up to an empty one.
                trailers_end = data.find(b"\r\n\r\n", line_end)
                if trailers_end >= 0 or data[line_end : line_end + 4] == b"\r\n\r\n":
                    return Arrival.ARRIVED
                if len(data) - line_end > self.max_header_bytes:
                    return Arrival.ARRIVED
                return Arrival.WAITING_FOR_BODY
            chunk_end = line_end + 2 + size
            if chunk_end - start > self.max_body_bytes + _MAX_CHUNK_LINE:
                return Arrival.ARRIVED  # too large: the application says 413 after reading its limit
            if len(data) < chunk_end + 2:
                return Arrival.WAITING_FOR_BODY
            if data[chunk_end : chunk_end + 2] != b"\r\n":
                return Arrival.ARRIVED  # a chunk longer than announced: malformed
            position = chunk_end + 2
            self._scanned = position - start

    @property
    def received_anything(self) -> bool:
        return bool(self.data)
