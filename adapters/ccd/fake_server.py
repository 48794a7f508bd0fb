"""A fake CCD over real HTTP, for tests, benchmarks and local runs of the worker.

One server with a path prefix per CCD service, as the original's fake had:
`/auth/lease`, `/idam/loginUser`, `/idam/details`, and under `/data_store` the case
search and the single-case read. It accepts only the tokens it issued, keeps cases in
memory, and can be told to fail, to be slow, to refuse connections, or to limit how
often it may be called (429 with Retry-After beyond it, as CCD's gateway does).
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from attrs import field, frozen

Stage = Literal["token", "data"]
Shape = Literal["v1", "v2"]
_STAGES: tuple[Stage, ...] = ("token", "data")
_CASES_PATH = re.compile(r"/data_store/caseworkers/([^/]+)/jurisdictions/([^/]+)/case-types/([^/]+)/cases(?:/([^/]+))?")
_ONE_TIME_PASSWORD = re.compile(r"[0-9]{6}")
Reply = tuple[int, Any]  # status, and a str (sent as text) or JSON-able body
Headers = dict[str, str]


@frozen
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str] = field(repr=False)  # names in lower case


@frozen
class _Case:
    id: int | str
    jurisdiction: str
    case_type_id: str
    shape: Shape
    data: dict[str, Any]
    created: str

    def as_json(self) -> dict[str, Any]:
        common = {
            "id": self.id,
            "jurisdiction": self.jurisdiction,
            "state": "Accepted",
            "security_classification": "PUBLIC",
        }
        if self.shape == "v1":
            return {
                **common,
                "case_type_id": self.case_type_id,
                "created_date": self.created,
                "last_modified": self.created,
                "case_data": dict(self.data),
            }
        return {
            **common,
            "id": str(self.id),
            "case_type": self.case_type_id,
            "created_on": self.created,
            "last_modified_on": self.created,
            "data": dict(self.data),
        }


class TokenBucket:
    """At most `per_second` takes a second on average, `burst` at once; not thread-safe
    (FakeCcd takes it under its lock)."""

    def __init__(self, per_second: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        if not 0 < per_second < float("inf"):
            raise ValueError(f"a rate limit must be a positive number of calls a second, not {per_second!r}")
        self.per_second = per_second
        self.burst = max(1.0, per_second) if burst is None else burst  # one second's worth, by default
        if not self.burst >= 1:
            raise ValueError(f"a burst must allow one call at least, not {burst!r}")
        self._clock = clock
        self._tokens = self.burst
        self._since = clock()

    def take(self) -> float:
        """Take a token: 0 if one was there, else the seconds until one will be (none taken)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._since) * self.per_second)
        self._since = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.per_second


class FakeCcd:
    """CCD's auth, idam and data store on 127.0.0.1 (port 0: a free port). Thread-safe."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        rate_limit: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        jurisdiction_id: str = "EMPLOYMENT",
        microservice_id: str = "ccd_gw",
        microservice_secret: str | None = None,
        username: str = "et.exporter@example.com",
        password: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.latency = latency  # seconds before answering each data-store call
        self._clock = clock
        # Calls a second across all threads, every path counted; None: no limit.
        self._bucket = None if rate_limit is None else TokenBucket(rate_limit, clock=clock)
        self.rate_limited = 0  # calls refused with 429 for going beyond the limit
        self.jurisdiction_id = jurisdiction_id
        self.microservice_id = microservice_id
        # 16 base32 characters, like the seeds CCD issues.
        self.microservice_secret = microservice_secret or base64.b32encode(secrets.token_bytes(10)).decode()
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.user_id = "1001"
        self.roles = ("caseworker", "caseworker-employment", "caseworker-employment-api")
        self.calls: Counter[str] = Counter()  # requests received, by path (without the query)
        self.received: deque[Received] = deque(maxlen=500)  # the latest requests, headers included
        self._lock = threading.RLock()
        self._cases: list[_Case] = []  # oldest first
        # Indexes, so that a search costs the same with a handful of cases or 100,000
        # (the benchmark serves a case for every response, and the fake must not be
        # what limits the worker).
        self._by_reference: dict[tuple[str, str, str], list[_Case]] = {}  # newest first
        self._by_id: dict[tuple[str, str, str], _Case] = {}
        self._case_ids = itertools.count(1_700_000_000_000_001)
        self._tokens: dict[str, str] = {}  # token -> "service" or "user"
        self._expired: set[str] = set()
        self._failures: dict[Stage, deque[int]] = {stage: deque() for stage in _STAGES}
        self._failing_searches: dict[str, int] = {}  # case number -> the status its searches get
        self._delays: list[tuple[Stage | None, float]] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeCcd:
        self._stopping.clear()
        self._listen()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes the requests being delayed
        self._close_listener()

    def __enter__(self) -> FakeCcd:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def refuse_connections(self) -> None:
        """Stop listening, and drop open connections: connecting now fails (refused)."""
        self._close_listener()

    def accept_connections(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            self._listen()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """The CCD_* environment variables pointing at this fake, with the credentials it accepts."""
        return {
            "CCD_AUTH_BASE_URL": f"{self.url}/auth",
            "CCD_IDAM_BASE_URL": f"{self.url}/idam",
            "CCD_DATA_STORE_BASE_URL": f"{self.url}/data_store",
            "CCD_DOCUMENT_STORE_BASE_URL": f"{self.url}/document_store",
            "CCD_JURISDICTION_ID": self.jurisdiction_id,
            "CCD_MICROSERVICE_ID": self.microservice_id,
            "CCD_MICROSERVICE_SECRET": self.microservice_secret,
            "CCD_SIDAM_USERNAME": self.username,
            "CCD_SIDAM_PASSWORD": self.password,
        }

    # -- cases and controls ------------------------------------------------------------

    def add_case(
        self,
        case_type_id: str,
        case_number: str,
        managing_office: str | None = None,
        shape: Shape = "v1",
        case_id: int | str | None = None,
    ) -> dict[str, Any]:
        """Store a case, newer than those already stored; returns it as the search serves it."""
        if shape not in ("v1", "v2"):
            raise ValueError(f"shape must be 'v1' or 'v2', not {shape!r}")
        data: dict[str, Any] = {"ethosCaseReference": case_number}
        if managing_office is not None:
            data["managingOffice"] = managing_office
        with self._lock:
            new_id = next(self._case_ids) if case_id is None else case_id
            created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
            case = _Case(new_id, self.jurisdiction_id, case_type_id, shape, data, created)
            self._cases.append(case)
            self._by_reference.setdefault((self.jurisdiction_id, case_type_id, case_number), []).insert(0, case)
            self._by_id[(self.jurisdiction_id, case_type_id, str(new_id))] = case
        return case.as_json()

    def cases(self) -> list[dict[str, Any]]:
        with self._lock:
            return [case.as_json() for case in self._cases]

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on with 401."""
        with self._lock:
            self._expired.update(self._tokens)
            self._tokens.clear()

    def fail_next(self, stage: Stage, statuses: list[int]) -> None:
        """Answer the next requests of `stage` ("token": lease, login, details; "data": the
        data store) with these statuses, in order; 0 means answer normally."""
        if stage not in _STAGES:
            raise ValueError(f"stage must be one of {_STAGES}, not {stage!r}")
        with self._lock:
            self._failures[stage].extend(statuses)

    def fail_searches_for(self, case_number: str, status: int) -> None:
        """Answer every search for `case_number` with `status`, while others are answered."""
        with self._lock:
            self._failing_searches[case_number] = status

    def delay_next(self, seconds: float, count: int = 1, stage: Stage | None = None) -> None:
        """Sleep `seconds` before answering the next `count` requests (of `stage`, or any)."""
        with self._lock:
            self._delays.extend([(stage, seconds)] * count)

    def limit_rate(self, per_second: float | None, burst: float | None = None) -> None:
        """Refuse calls beyond `per_second` (with `burst` at once; by default one second's
        worth) with 429 and Retry-After; None lifts the limit."""
        with self._lock:
            self._bucket = None if per_second is None else TokenBucket(per_second, burst, self._clock)

    def calls_to(self, prefix: str) -> int:
        """How many requests arrived at paths starting with `prefix`, e.g. "/data_store"."""
        with self._lock:
            return sum(count for path, count in self.calls.items() if path.startswith(prefix))

    # -- answering ---------------------------------------------------------------------

    def answer(self, request: Received, body: bytes) -> tuple[int, Any, Headers]:
        """The reply to one request, with its extra headers: what the HTTP handler sends back."""
        stage: Stage | None = (
            "token"
            if request.path.startswith(("/auth/", "/idam/"))
            else ("data" if request.path.startswith("/data_store/") else None)
        )
        with self._lock:
            self.calls[request.path] += 1
            self.received.append(request)
            wait = self._bucket.take() if self._bucket else 0.0
            if wait:
                self.rate_limited += 1
            else:
                delay = self._take_delay(stage)
                status = self._failures[stage].popleft() if stage and self._failures[stage] else 0
        if wait:
            # Retry-After holds whole seconds (RFC 9110): the wait rounded up.
            refusal = {"status": 429, "error": "Too Many Requests", "message": "rate limit exceeded"}
            return 429, refusal, {"Retry-After": str(max(1, math.ceil(wait)))}
        pause = delay + (self.latency if stage == "data" else 0.0)
        if pause > 0:
            self._stopping.wait(pause)
        if status:
            return status, {"status": status, "error": "failure injected by the fake CCD"}, {}
        return (*self._route(request, body), {})

    def _take_delay(self, stage: Stage | None) -> float:
        for index, (wanted, seconds) in enumerate(self._delays):
            if wanted is None or wanted == stage:
                del self._delays[index]
                return seconds
        return 0.0

    def _route(self, request: Received, body: bytes) -> Reply:
        route = (request.method, request.path)
        if route == ("POST", "/auth/lease"):
            return self._lease(body)
        if route == ("POST", "/idam/loginUser"):
            return self._login_user(body)
        if route == ("GET", "/idam/details"):
            return self._details(request)
        match = _CASES_PATH.fullmatch(request.path)
        if match and request.method == "GET":
            return self._data_store(request, *(unquote(part) if part else None for part in match.groups()))
        return 404, {"error": "Not Found", "path": request.path}

    def _lease(self, body: bytes) -> Reply:
        try:
            lease = json.loads(body)
        except ValueError:
            return 400, {"error": "the lease is not JSON"}
        if not isinstance(lease, dict) or lease.get("microservice") != self.microservice_id:
            return 401, {"error": "unknown microservice"}
        password = lease.get("oneTimePassword")
        if not isinstance(password, str) or not _ONE_TIME_PASSWORD.fullmatch(password):
            return 401, {"error": "invalid one-time password"}
        return 200, self._issue("service")

    def _login_user(self, body: bytes) -> Reply:
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("username") != [self.username] or form.get("password") != [self.password]:
            return 401, {"error": "invalid username or password"}
        return 200, {"access_token": self._issue("user"), "token_type": "Bearer", "expires_in": 28800}

    def _details(self, request: Received) -> Reply:
        denied = self._check(request.headers.get("authorization"), "user")
        if denied:
            return denied
        return 200, {
            "id": self.user_id,
            "email": self.username,
            "forename": "ET",
            "surname": "Exporter",
            "roles": list(self.roles),
        }

    def _data_store(
        self, request: Received, user_id: str, jurisdiction: str, case_type_id: str, case_id: str | None
    ) -> Reply:
        denied = self._check(request.headers.get("serviceauthorization"), "service") or self._check(
            request.headers.get("authorization"), "user"
        )
        if denied:
            return denied
        if user_id != self.user_id:
            return 403, {"error": "the user id in the path is not the token's"}
        if case_id is not None:
            with self._lock:
                found = self._by_id.get((jurisdiction, case_type_id, case_id))
            return (200, found.as_json()) if found else (404, {"error": "case not found"})
        wanted = request.query.get("case.ethosCaseReference")
        with self._lock:
            failing = self._failing_searches.get(wanted[0]) if wanted else None
            if failing:
                return failing, {"status": failing, "error": "failure injected by the fake CCD"}
            if wanted:
                cases = list(self._by_reference.get((jurisdiction, case_type_id, wanted[0]), ()))
            else:
                cases = [
                    case
                    for case in reversed(self._cases)
                    if case.jurisdiction == jurisdiction and case.case_type_id == case_type_id
                ]
        return 200, [case.as_json() for case in cases]

    def _issue(self, kind: str) -> str:
        token = f"fake-{kind}-{secrets.token_urlsafe(16)}"
        with self._lock:
            self._tokens[token] = kind
        return token

    def _check(self, header: str | None, kind: str) -> Reply | None:
        token = (header or "").removeprefix("Bearer ").strip()
        with self._lock:
            if self._tokens.get(token) == kind:
                return None
            if token in self._expired:
                return 401, {"error": f"expired {kind} token"}
        return 403, {"error": f"not a {kind} token issued here"}

    # -- the server --------------------------------------------------------------------

    def _listen(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = _Server((self.host, self.port), self)
            self.port = server.server_address[1]
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-ccd-{self.port}", daemon=True
            )
            self._server, self._thread = server, thread
        thread.start()

    def _close_listener(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.drop_connections()
        thread.join()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 resets connections when many workers connect
    # at once (the benchmark's 4 processes × 16 threads; a burst of clients in the tests).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeCcd):
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        # Kept-alive connections would otherwise go on being served after the listener closed.
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up on a delayed answer is expected; stay quiet


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions use it
    disable_nagle_algorithm = True  # else headers and body wait out a delayed ACK (40 ms)
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Received(self.command, url.path, parse_qs(url.query), headers)
        status, payload, headers = self.server.fake.answer(request, body)
        text = payload if isinstance(payload, str) else json.dumps(payload)
        content = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(content)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: no line per request on stderr
