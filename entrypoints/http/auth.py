"""Authentication decided on the route that serves the request: deny unless it is public.

The decision is taken after routing (`process_resource`), on the resource itself, so no
spelling of a path (`//api/...`, `/api/v2/exports/`, percent-encoded slashes, an
absolute request line) can reach a guarded resource without a credential. A resource
is open only when it says so with `public = True` (the health probes).

Two ways to present a token: `Authorization: Bearer <token>`, and HTTP Basic whose
password is the token (the ET admin's HTTP client turns the user-info of its
`ET_API_URL` into Basic credentials, so it is secured by configuration alone).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable

import attrs
import falcon

from entrypoints.tokens import ApiToken, parse_token_entry

LOG = logging.getLogger("export_responses.auth")
REALM = 'Bearer realm="export-responses"'
_USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@")


@attrs.frozen
class Unauthenticated(Exception):
    """The request carries no credential, or one we do not know; `code` says which and
    `reason` what was wrong with an invalid one (the catalogue has the messages)."""

    code: str
    reason: str
    invalid: bool

    @property
    def challenge(self) -> str:
        return f'{REALM}, error="invalid_token"' if self.invalid else REALM


class TokenSet:
    """Accepted tokens, kept only as SHA-256 digests and compared in constant time."""

    def __init__(self, entries: Iterable[str]):
        self.tokens: tuple[ApiToken, ...] = tuple(parse_token_entry(entry) for entry in entries)
        if not self.tokens:
            raise ValueError("authentication needs at least one API token")

    def match(self, token: str) -> ApiToken | None:
        """The accepted token `token` is, or None."""
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        # Every digest is compared, so the time taken does not tell which one matched.
        found = None
        for candidate in self.tokens:
            if hmac.compare_digest(presented, candidate.digest):
                found = candidate
        return found

    def accepts(self, token: str) -> bool:
        return self.match(token) is not None


def _sent_path(req: falcon.Request) -> str:
    """The path as the client spelt it (before the router's clean-up), without the query
    and without the user-info of an absolute request line (`http://admin:<token>@host/`)."""
    return without_user_info((req.env.get("RAW_URI") or req.env.get("PATH_INFO") or req.path).partition("?")[0])


def without_user_info(target: str) -> str:
    """A request target without the user-info of an absolute form, which may hold a token."""
    return _USER_INFO.sub(r"\1", target)


def _missing() -> Unauthenticated:
    return Unauthenticated("missing_credentials", "", False)


def _invalid(reason: str) -> Unauthenticated:
    return Unauthenticated("invalid_credentials", reason, True)


class Authentication:
    """Refuses requests to non-public resources without a known token, before the resource runs."""

    def __init__(self, tokens: TokenSet):
        self.tokens = tokens

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params) -> None:
        if getattr(resource, "public", False):
            return
        try:
            req.context.principal = self.principal(req.get_header("Authorization"))
        except Unauthenticated as failure:
            # Never the credential: only what was wrong with it.
            LOG.warning(
                json.dumps(
                    {
                        "event": "authentication_failed",
                        "method": req.method,
                        "path": req.path,
                        "sent_path": _sent_path(req),
                        "reason": failure.code,
                        "request_id": req.context.request_id,
                    }
                )
            )
            raise

    def principal(self, header: str | None) -> str:
        """Who the Authorization header stands for (the token's name, "" if unnamed); else Unauthenticated."""
        if not header or not header.strip():
            raise _missing()
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential:
            token = self.tokens.match(credential)
            if token is None:
                raise _invalid("The bearer token is not one this service accepts")
            return token.name
        if scheme.lower() == "basic" and credential:
            return self._basic(credential)
        raise _invalid("The Authorization header must be Bearer <token>")

    def _basic(self, credential: str) -> str:
        try:
            user, separator, password = base64.b64decode(credential, validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            raise _invalid("The Basic credentials are not base64 of user:password") from None
        token = self.tokens.match(password) if separator else None
        # A named token answers only to its own name; an unnamed one to any user name.
        if token is None or (token.name and not hmac.compare_digest(user.encode(), token.name.encode())):
            raise _invalid("The Basic credentials are not a user and token this service accepts")
        return token.name
