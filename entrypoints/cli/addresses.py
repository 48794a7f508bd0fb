"""Whether this machine can listen where the API is to: checked before anything starts."""

from __future__ import annotations

import socket


def bind_problem(bind: str) -> str | None:
    """Why `serve --bind` could not listen on `bind`, or None when it can."""
    host, colon, port = bind.rpartition(":")
    if not colon or not port.isdigit():
        return f"the address must be HOST:PORT, such as 127.0.0.1:8000, not {bind!r}"
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host or "0.0.0.0", int(port), type=socket.SOCK_STREAM)[
            0
        ]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            probe.bind(address)
    except OSError as error:
        return f"cannot listen on {bind}: {error.strerror or error} (is the service already running?)"
    return None
