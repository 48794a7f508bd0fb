"""A command's request as the command log keeps it, the way the original ET API kept it."""

from __future__ import annotations

import json

import falcon

from application.ports import Received
from entrypoints.http.auth import without_user_info

# Credentials never go into the database, where the admin and every reader can see them.
_SECRET = frozenset({"HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_COOKIE"})


def received(req: falcon.Request, raw: bytes) -> Received:
    """The raw body as text, and the request's CGI variables, as Rails logged them
    (`{"CONTENT_TYPE": "application/json", "REQUEST_METHOD": "POST", ...}`)."""
    # The body parsed as JSON, so its encoding is one JSON allows.
    body = raw.decode(json.detect_encoding(raw))
    headers = {
        name: value
        for name, value in req.env.items()
        if name.isupper() and isinstance(value, str) and name not in _SECRET
    }
    if "RAW_URI" in headers:  # an absolute request line may carry user:token@
        headers["RAW_URI"] = without_user_info(headers["RAW_URI"])
    return Received(body, headers)
