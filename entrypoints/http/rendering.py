"""CommandResults to HTTP: the reply's status (from the error catalogue) and its bytes."""

from __future__ import annotations

import json

import falcon

from domain.results import CommandResult
from entrypoints.converter import CONVERTER
from entrypoints.http.error_codes import CATALOGUE

JSON = "application/json; charset=utf-8"
ACCEPTED = 202


def http_status(result: CommandResult) -> int:
    """202, or the status the catalogue gives the first error's code (UndeclaredCode if none)."""
    if result.accepted:
        return ACCEPTED
    return CATALOGUE.reply_status(result.errors[0].code)


# ASCII with \u escapes: a client's lone surrogate ("\ud800"), echoed in an error,
# cannot be encoded as UTF-8 but can be escaped. One encoder for every reply:
# `json.dumps` with options builds a new one each call (it is stateless, so shared).
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def body_bytes(document) -> bytes:
    return _ENCODE(document).encode()


def render(resp: falcon.Response, result: CommandResult) -> None:
    resp.status = http_status(result)
    resp.content_type = JSON
    resp.data = body_bytes(CONVERTER.unstructure(result))
