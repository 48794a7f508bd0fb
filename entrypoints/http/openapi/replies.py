"""What every reply of the document shares: its headers and the shape of a 200."""

from __future__ import annotations

import re
from typing import Any

from entrypoints.http import errors as http_errors
from entrypoints.http.auth import REALM
from entrypoints.http.dashboard import CONTENT_SECURITY_POLICY
from entrypoints.http.middleware import SECURITY_HEADERS

REF = "#/components"
LOWER_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
KEY_ORDER = (
    "Keys come in the order the schema lists them, and clients may rely on it: the body is "
    "written byte for byte as the original ET API wrote it."
)


def reply(description: str, schema_ref: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "headers": headers or headers_for(200),
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


def headers_for(status: int) -> dict[str, Any]:
    extra = {401: "WWW-Authenticate", 405: "Allow", 503: "Retry-After"}.get(status)
    names = [*SECURITY_HEADERS, "X-Request-Id", "X-Runtime", *([extra] if extra else [])]
    return {name: {"$ref": f"{REF}/headers/{name}"} for name in names}


def _literal(text: str) -> str:
    """`text` as a regular expression that matches it alone (in ECMA-262 and Python alike)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", text)


def header_components() -> dict[str, Any]:
    headers = {
        name: {
            "required": True,
            "description": "Sent on every reply, as the original ET API did",
            "schema": {"type": "string", "const": value},
        }
        for name, value in SECURITY_HEADERS.items()
    }
    return {
        **headers,
        "X-Request-Id": {
            "required": True,
            "description": "A fresh UUID per request; errors 500 quote it",
            "schema": {"type": "string", "pattern": LOWER_UUID},
        },
        "X-Runtime": {
            "required": True,
            "description": "Seconds the server spent on the request",
            "schema": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{6}$"},
        },
        "WWW-Authenticate": {
            "required": True,
            "description": 'The bearer challenge; error="invalid_token" when one was sent',
            "schema": {"type": "string", "pattern": f'^{_literal(REALM)}(, error="invalid_token")?$'},
        },
        "Content-Security-Policy": {
            "required": True,
            "description": "The dashboard's files run only their own script and style and talk only to this origin",
            "schema": {"type": "string", "const": CONTENT_SECURITY_POLICY},
        },
        "Retry-After": {
            "required": True,
            "description": "Seconds to wait before trying again",
            "schema": {"type": "string", "const": str(http_errors.RETRY_AFTER_SECONDS)},
        },
        "Allow": {
            "required": True,
            "description": "The methods the path takes",
            "schema": {"type": "string", "pattern": "^[A-Z]+(, [A-Z]+)*$"},
        },
    }
