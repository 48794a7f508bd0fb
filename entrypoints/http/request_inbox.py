"""When has a whole HTTP/1.1 request arrived? Read from bytes alone, with no socket.

The server's main loop collects a request's bytes here, without blocking, before any
thread sees it: a client that sends slowly, or not at all, then costs a buffer and
no thread. A request goes to a thread only once all of it is here (ARRIVED), so that
gunicorn's parser, which then reads every rule, never waits on the client. Anything
whose end cannot be told from its bytes (ambiguous framing, a malformed chunk, a body
over the limit) is refused here instead, and the connection closed.
"""

from __future__ import annotations

import enum
import re

from attrs import define, field

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_CHUNK_LINE = 4096  # a size line longer than this is malformed, not incomplete
# A chunk extension: `;name` or `;name=value`, tokens or quoted strings (RFC 9112 7.1.1).
_EXTENSION = re.compile(
    rb'(;[ \t]*[!#$%&\'*+.^_`|~0-9A-Za-z-]+([ \t]*=[ \t]*([!#$%&\'*+.^_`|~0-9A-Za-z-]+|"[^"\\\x00-\x08\x0a-\x1f]*"))?[ \t]*)*'
)


class Arrival(enum.Enum):
    WAITING_FOR_HEADERS = "waiting for headers"
    WAITING_FOR_BODY = "waiting for body"
    ARRIVED = "arrived"  # all of it is here (a request line over the limit: enough for the parser's 414)
    HEADERS_TOO_LARGE = "headers too large"
    BODY_TOO_LARGE = "body too large"
    MALFORMED = "malformed"  # its end cannot be told: see `problem`
    UNSUPPORTED_CODING = "unsupported transfer coding"


@define
class RequestInbox:
    """The bytes of one request as they come, and whether they make a whole request yet."""

    max_header_bytes: int
    max_body_bytes: int
    data: bytearray = field(factory=bytearray)
    header_end: int | None = None
    expects_continue: bool = False
    problem: str = ""
    _content_length: int | None = None
    _chunked: bool = False
    _scanned: int = 0  # how far the chunk scan has read, from the body's start
    _body_bytes: int = 0  # the chunks' sizes, up to where the scan has read

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
            refusal = self._read_framing(bytes(self.data[:end]))
            if refusal is not None:
                return refusal
        return self._body_state()

    def _read_framing(self, head: bytes) -> Arrival | None:
        """Learn the body's framing; a refusal when it cannot be told or is too large."""
        lengths, codings = [], []
        for line in head.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                return self._malformed("a header line has no colon")
            name = name.strip().lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                codings.extend(part.strip().lower() for part in value.split(b","))
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                self.expects_continue = True
        if codings:
            if lengths:
                return self._malformed("it has both Content-Length and Transfer-Encoding")
            if any(coding != b"chunked" for coding in codings) or len(codings) > 1:
                return Arrival.UNSUPPORTED_CODING
            self._chunked = True
            return None
        if len(lengths) > 1:
            return self._malformed("it has more than one Content-Length")
        if lengths and not (lengths[0].isdigit() and len(lengths[0]) <= 18):
            return self._malformed("its Content-Length is not a number of bytes")
        length = int(lengths[0]) if lengths else 0
        if length > self.max_body_bytes:
            return Arrival.BODY_TOO_LARGE
        self._content_length = length
        return None

    def _malformed(self, problem: str) -> Arrival:
        self.problem = problem
        return Arrival.MALFORMED

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
                    return self._malformed("a chunk size line is too long")
                return Arrival.WAITING_FOR_BODY
            line = bytes(data[position:line_end])
            size_text, extension = line[: len(line) - len(line.lstrip(b"0123456789abcdefABCDEF"))], b""
            extension = line[len(size_text) :].lstrip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_text) or not _EXTENSION.fullmatch(extension):
                return self._malformed("a chunk size is not hexadecimal digits")
            size = int(size_text, 16)
            if size == 0:
                # The last chunk, then trailer lines up to an empty one.
                trailers_end = data.find(b"\r\n\r\n", line_end)
                if trailers_end >= 0 or data[line_end : line_end + 4] == b"\r\n\r\n":
                    return Arrival.ARRIVED
                if len(data) - line_end > self.max_header_bytes:
                    return Arrival.HEADERS_TOO_LARGE  # endless trailers
                return Arrival.WAITING_FOR_BODY
            self._body_bytes += size
            if self._body_bytes > self.max_body_bytes:
                return Arrival.BODY_TOO_LARGE
            chunk_end = line_end + 2 + size
            if len(data) < chunk_end + 2:
                self._body_bytes -= size  # counted again when the chunk is read anew
                return Arrival.WAITING_FOR_BODY
            if data[chunk_end : chunk_end + 2] != b"\r\n":
                return self._malformed("a chunk is longer than its size says")
            position = chunk_end + 2
            self._scanned = position - start

    @property
    def received_anything(self) -> bool:
        return bool(self.data)
