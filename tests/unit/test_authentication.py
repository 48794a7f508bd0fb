"""Bearer tokens on every /api/ route: who gets in, what the others are told, what is logged."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import stat
from pathlib import Path

import falcon
import pytest
from falcon import testing

from adapters.memory import InMemoryStore
from domain.external_systems import ExternalSystem
from entrypoints.bootstrap import bootstrap
from entrypoints.cli import serve
from entrypoints.cli.api_token import local_token
from entrypoints.config import ConfigError, Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app
from entrypoints.http.auth import TokenSet
from entrypoints.tokens import parse_token_entry
from tests.auth import TEST_TOKEN

BODY = json.dumps(
    {
        "uuid": "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78",
        "command": "ExportResponses",
        "data": {"external_system_id": 43, "response_ids": [18]},
    }
)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    store.response_ids.add(18)
    return store


def client_for(store, **settings) -> testing.TestClient:
    options = {"api_tokens": (TEST_TOKEN,), **settings}
    return testing.TestClient(
        create_app(bootstrap(store=store, settings=Settings("sqlite://", Path("var"), **options)))
    )


def post(client, authorization=None):
    headers = dict(JSON) if authorization is None else {**JSON, "Authorization": authorization}
    return client.simulate_post(EXPORT_RESPONSES_PATH, body=BODY, headers=headers)


def test_a_known_token_is_let_in(store):
    assert post(client_for(store), f"Bearer {TEST_TOKEN}").status_code == 202
    assert post(client_for(store), f"bearer   {TEST_TOKEN}  ").status_code == 202


@pytest.mark.parametrize(
    "authorization, code, challenge",
    [
        (None, "missing_credentials", 'Bearer realm="export-responses"'),
        ("", "missing_credentials", 'Bearer realm="export-responses"'),
        ("Bearer", "invalid_credentials", 'Bearer realm="export-responses", error="invalid_token"'),
        (f"Basic {TEST_TOKEN}", "invalid_credentials", 'Bearer realm="export-responses", error="invalid_token"'),
        ("Bearer not-the-token", "invalid_credentials", 'Bearer realm="export-responses", error="invalid_token"'),
        (f"Bearer {TEST_TOKEN}x", "invalid_credentials", 'Bearer realm="export-responses", error="invalid_token"'),
    ],
)
def test_others_get_a_401_in_the_envelope_and_nothing_is_written(store, authorization, code, challenge):
    reply = post(client_for(store), authorization)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == challenge
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    (error,) = reply.json["errors"]
    assert (reply.json["status"], error["code"], error["status"], error["source"]) == ("not_accepted", code, 401, "/")
    assert store.exports == {} and store.commands == {}


def test_every_api_route_is_guarded_and_health_is_open(store):
    client = client_for(store)
    for path in ("/api/v2/exports", "/api/v2/exports/1", "/api/v2/openapi.json"):
        assert client.simulate_get(path).status_code == 401
    for path in ("/health", "/health/liveness", "/health/readiness"):
        assert client.simulate_get(path).status_code == 200
    # No route, nothing served: a 404 whether or not a token came with it.
    assert client.simulate_get("/api/v2/nothing-here").status_code == 404


# Spellings a router may take for a guarded route: authentication is decided on the
# route that serves the request, so each is refused without a token, or routes nowhere.
GUARDED_SPELLINGS = [
    "//api/v2/exports",
    "///api/v2/exports",
    "/api//v2/exports",
    "/api/v2/exports/",
    "/api/v2/exports//",
    "//api/v2/exports/1",
    "/api/v2//exports/1/",
    "//api/v2/exports/export_responses",
    "/api/v2/exports/export_responses/",
    "//api/v2/openapi.json",
]


@pytest.mark.parametrize("path", GUARDED_SPELLINGS)
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_no_spelling_of_a_guarded_path_gets_in_without_a_token(store, path, method, caplog):
    with caplog.at_level(logging.WARNING, logger="export_responses.auth"):
        reply = client_for(store).simulate_request(method, path, body=BODY, headers=JSON)
    assert reply.status_code in (401, 404)
    assert store.exports == {} and store.commands == {}
    refusals = [json.loads(r.getMessage()) for r in caplog.records if r.name == "export_responses.auth"]
    assert [line["sent_path"] for line in refusals] == ([path] if reply.status_code == 401 else [])


def test_a_doubled_slash_with_a_token_reaches_the_route_it_spells(store):
    assert post(client_for(store), f"Bearer {TEST_TOKEN}").status_code == 202
    reply = client_for(store).simulate_get("//api/v2/exports", headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert reply.status_code == 200 and reply.json["meta"]["total"] == 1


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_credentials_whose_password_is_a_token_are_let_in(store):
    # As the ET admin sends them from ET_API_URL=http://admin:<token>@host/api
    named = client_for(store, api_tokens=(f"admin={TEST_TOKEN}",))
    assert post(named, basic("admin", TEST_TOKEN)).status_code == 202
    # An unnamed token answers to any user name: the secret is the password.
    store.commands.clear()
    assert post(client_for(store), basic("anyone", TEST_TOKEN)).status_code == 202


@pytest.mark.parametrize(
    "authorization",
    [
        basic("admin", "wrong"),
        basic("someone-else", TEST_TOKEN),  # a named token answers to its own name only
        basic("admin", ""),
        "Basic " + base64.b64encode(TEST_TOKEN.encode()).decode(),  # no colon
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"admin:\xff\xfe").decode(),
        "Basic",
    ],
)
def test_wrong_or_unknown_basic_credentials_are_a_401(store, authorization):
    reply = post(client_for(store, api_tokens=(f"admin={TEST_TOKEN}",)), authorization)
    assert reply.status_code == 401
    assert reply.json["errors"][0]["code"] == "invalid_credentials"
    assert store.commands == {}


def test_named_tokens_in_api_tokens():
    digest = "ab" * 32
    assert parse_token_entry("admin=s3cret").name == "admin"
    assert parse_token_entry(f"ops=sha256:{digest}") == parse_token_entry(f"ops=sha256:{digest.upper()}")
    assert parse_token_entry(f"ops=sha256:{digest}").digest == bytes.fromhex(digest)
    # base64 padding is part of a token, not a name
    assert (
        parse_token_entry("abc==").name == "" and parse_token_entry("abc==").digest == hashlib.sha256(b"abc==").digest()
    )
    assert parse_token_entry("s3cret").name == ""
    for bad in ("admin=sha256:xyz", "sha256:" + "ab" * 31, "admin=sha256:" + digest + "  -"):
        with pytest.raises(ValueError):
            parse_token_entry(bad)


def test_a_failed_attempt_is_logged_without_the_token(store, caplog):
    with caplog.at_level(logging.WARNING, logger="export_responses.auth"):
        post(client_for(store), "Bearer s3cret-guess")
    (record,) = [r for r in caplog.records if r.name == "export_responses.auth"]
    line = json.loads(record.getMessage())
    assert (line["event"], line["reason"], line["path"]) == (
        "authentication_failed",
        "invalid_credentials",
        EXPORT_RESPONSES_PATH,
    )
    assert "s3cret-guess" not in caplog.text


def test_tokens_may_be_configured_as_sha256_digests(store):
    digest = hashlib.sha256(b"only-the-client-knows").hexdigest()
    client = client_for(store, api_tokens=(f"sha256:{digest}",))
    assert post(client, "Bearer only-the-client-knows").status_code == 202
    assert post(client, f"Bearer {digest}").status_code == 401


def test_authentication_can_be_turned_off_on_purpose(store):
    assert post(client_for(store, api_auth=False, api_tokens=()), None).status_code == 202


def test_an_app_that_needs_tokens_refuses_to_start_without_any(store):
    with pytest.raises(ValueError, match="at least one API token"):
        client_for(store, api_tokens=())
    assert TokenSet(["a"]).accepts("a") and not TokenSet(["a"]).accepts("b")


def test_settings_read_tokens_and_the_auth_switch():
    settings = Settings.from_environ({"API_TOKENS": " one, ,sha256:" + "ab" * 32 + " ", "API_AUTH": "bearer"})
    assert settings.api_tokens == ("one", "sha256:" + "ab" * 32) and settings.api_auth
    assert Settings.from_environ({"API_AUTH": "NONE"}).api_auth is False
    for bad in ({"API_TOKENS": "sha256:xyz"}, {"API_AUTH": "basic"}):
        with pytest.raises(ConfigError):
            Settings.from_environ(bad)


def test_serve_makes_one_owner_only_token_when_none_is_configured(tmp_path, capsys):
    settings = serve._with_authentication(Settings("sqlite://", tmp_path), no_auth=False)
    token_file = tmp_path / "api-token"
    (token,) = settings.api_tokens
    assert token_file.read_text().strip() == token and len(token) >= 40
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    printed = capsys.readouterr().err
    assert str(token_file) in printed and token not in printed
    assert serve._with_authentication(Settings("sqlite://", tmp_path), no_auth=False).api_tokens == (token,)
    assert local_token(tmp_path) == (token, token_file)


def test_serve_with_no_auth_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        settings = serve._with_authentication(Settings("sqlite://", tmp_path), no_auth=True)
    assert settings.api_auth is False
    assert "WITHOUT authentication" in caplog.text


def every_route(monkeypatch, store) -> list[tuple[str, object]]:
    """(path, resource) for every route create_app adds, ids filled in."""
    added: list[tuple[str, object]] = []
    add_route = falcon.App.add_route

    def recording(app, template, resource, **kwargs):
        added.append((re.sub(r"\{\w+(:\w+)?\}", "1", template), resource))
        return add_route(app, template, resource, **kwargs)

    monkeypatch.setattr(falcon.App, "add_route", recording)
    client = client_for(store)
    monkeypatch.undo()
    return client, added


def test_deny_by_default_every_route_but_the_public_probes_needs_a_token(monkeypatch, store):
    # Derived from the app itself: a route added later without a thought for
    # authentication fails here, whatever its path.
    client, routes = every_route(monkeypatch, store)
    assert len(routes) >= 7
    public = [path for path, resource in routes if getattr(resource, "public", False)]
    # The dashboard's files hold no data: the page asks for a token and sends it to the API.
    assert sorted(public) == [
        "/dashboard",
        "/dashboard/dashboard.css",
        "/dashboard/dashboard.js",
        "/health",
        "/health/liveness",
        "/health/readiness",
    ]
    for path, _resource in routes:
        if path in public:
            assert client.simulate_get(path).status_code == 200, path
            continue
        for spelling in (path, "/" + path, "///" + path.lstrip("/"), path + "/"):
            for method in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"):
                reply = client.simulate_request(method, spelling, body=BODY, headers=JSON)
                assert reply.status_code == 401, (method, spelling, reply.status_code)
    assert store.commands == {} and store.exports == {}
