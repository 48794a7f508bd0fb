"""One client for the scenarios, in process (Falcon's TestClient) or over HTTP (requests).

Both give a Reply: the status, the headers (names lower-cased) and the body bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import falcon
import falcon.testing
import requests
from attrs import frozen

# (connect, read) seconds: a live server that hangs fails the scenario, it does not stall it.
LIVE_TIMEOUT = (5, 30)


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


@frozen
class Exchange:
    """One request a scenario sent, its reply, and the rows as they were just before it."""

    method: str
    path: str
    body: bytes
    headers: Mapping[str, str]
    rows_before: dict
    reply: Reply


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class InProcessClient:
    """The app called directly, as gunicorn would call it, without a socket."""

    def __init__(self, app: falcon.App, credentials: Mapping[str, str]):
        self._client = falcon.testing.TestClient(app)
        self.credentials = dict(credentials)  # sent with every request, as a client would

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        result = self._client.simulate_request(method, path, body=body, headers={**self.credentials, **headers})
        return Reply(result.status_code, _lower(result.headers), result.content)

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        return self.send("POST", path, body, headers)

    def close(self) -> None:
        """Nothing to release: the app lives as long as the scenario."""


class LiveClient:
    """A running server at `base_url`, reached over HTTP."""

    def __init__(self, base_url: str, credentials: Mapping[str, str]):
        self._base_url = base_url.rstrip("/")
        self._session = requests.Session()
        self.credentials = dict(credentials)  # sent with every request, as a client would

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        response = self._session.request(
            method,
            self._base_url + path,
            data=body,
            headers={**self.credentials, **headers},
            timeout=LIVE_TIMEOUT,
            allow_redirects=False,
        )
        return Reply(response.status_code, _lower(response.headers), response.content)

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        return self.send("POST", path, body, headers)

    def close(self) -> None:
        self._session.close()
