"""Bearer-token authentication for every /api/ route (GET /health stays open)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable

import attrs
import falcon

LOG = logging.getLogger("export_responses.auth")
REALM = 'Bearer realm="export-responses"'


@attrs.frozen
class Unauthenticated(Exception):
    """The request carries no credential, or one we do not know; `code` says which."""

    code: str
    message: str
    invalid: bool

    @property
    def challenge(self) -> str:
        return f'{REALM}, error="invalid_token"' if self.invalid else REALM


class TokenSet:
    """Accepted tokens, kept only as SHA-256 digests and compared in constant time."""

    def __init__(self, entries: Iterable[str]):
        self.digests = tuple(_digest(entry) for entry in entries)
        if not self.digests:
            raise ValueError("authentication needs at least one API token")

    def accepts(self, token: str) -> bool:
        presented = hashlib.sha256(token.encode()).digest()
        # Every digest is compared, so the time taken does not tell which one matched.
        matches = [hmac.compare_digest(presented, digest) for digest in self.digests]
        return any(matches)


def _digest(entry: str) -> bytes:
    if entry.lower().startswith("sha256:"):
        return bytes.fromhex(entry[7:])
    return hashlib.sha256(entry.encode()).digest()


class Authentication:
    """Refuses /api/ requests without a known bearer token, before any resource runs."""

    def __init__(self, tokens: TokenSet):
        self.tokens = tokens

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not req.path.startswith("/api/"):
            return
        failure = self._check(req.get_header("Authorization"))
        if failure is not None:
            # Never the token: only what was wrong with it.
            LOG.warning(json.dumps({"event": "authentication_failed", "method": req.method, "path": req.path,
                                    "reason": failure.code, "request_id": req.context.request_id}))  # fmt: skip
            raise failure

    def _check(self, header: str | None) -> Unauthenticated | None:
        if not header:
            return Unauthenticated("missing_credentials", "This API needs an Authorization: Bearer <token> header", False)
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Unauthenticated("invalid_credentials", "The Authorization header must be Bearer <token>", True)
        if not self.tokens.accepts(token.strip()):
            return Unauthenticated("invalid_credentials", "The bearer token is not one this service accepts", True)
        return None
