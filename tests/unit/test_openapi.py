"""The OpenAPI document: valid 3.1, every route in it, and every kind of reply as it documents."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import attrs
import falcon
import pytest
from falcon import routing, testing
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from adapters.memory import InMemoryStore, Work
from adapters.memory.health import InMemoryHealth
from application.export_status import ExportReader
from application.ports import StoreUnavailable
from domain.exports import Export, ExportEvent, ExportState
from domain.external_systems import ExternalSystem
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.metrics import METRICS_PATH
from entrypoints.http.openapi import OPENAPI_PATH
from tests.auth import TEST_TOKEN, authenticated_client

SETTINGS = Settings(database_url="sqlite://", data_dir=Path("var"), api_tokens=(TEST_TOKEN,))
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
DOCUMENT_URI = "urn:export-responses:openapi"
EXPORT_TEMPLATE, EXPORTS_TEMPLATE = "/api/v2/exports/{export_id}", "/api/v2/exports"
T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def command(uuid: str, system_id: int, ids: list, **extra) -> bytes:
    data = {"external_system_id": system_id, "response_ids": ids}
    return json.dumps({"uuid": uuid, "command": "ExportResponses", "data": data, **extra}).encode()


# The contract's three documented scenarios, as sent.
SCENARIO_ACCEPTED = command("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", 43, [18], **{"async": False})
SCENARIO_NO_SYSTEM = command("9f6e6f4a-6c1d-4bde-9f4e-0b5f1c9c2a11", -1, [19])
SCENARIO_NO_RESPONSES = command("bb86cdc9-9900-4cec-82a3-1355649c00d7", 43, [20, -1, -2])


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    store.response_ids.update({18, 19, 20})
    store.exports[7] = Export(
        resource_type="Response",
        resource_id=18,
        external_system_id=43,
        state=ExportState.ERRORING,
        percent_complete=0,
        message="Response erroring",
        command_uuid="fea4decf-2efe-4cd6-96b3-f0a4bbeeca78",
        created_at=T0,
        external_data={"error": {"message": "timeout"}},
        id=7,
        events=[
            ExportEvent("00000000-0000-4000-8000-000000000001", ExportState.QUEUED, 0, "Queued for export"),
            ExportEvent("00000000-0000-4000-8000-000000000002", ExportState.ERRORING, None, "Response erroring"),
        ],
    )
    store.work[7] = Work(attempts=1, next_attempt_at=T0)
    return store


@pytest.fixture
def client(store):
    return authenticated_client(create_app(bootstrap(SETTINGS, store=store)))


@pytest.fixture
def document(client) -> dict:
    reply = client.simulate_get(OPENAPI_PATH)
    assert reply.status_code == 200
    return reply.json


# ---- reading the document ---------------------------------------------------------------------


def resolve(document: dict, item: dict) -> dict:
    """`item`, or what its `$ref` points at within the document."""
    while "$ref" in item:
        node = document
        for step in item["$ref"].removeprefix("#/").split("/"):
            node = node[step.replace("~1", "/").replace("~0", "~")]
        item = node
    return item


def assert_documented(document: dict, reply: testing.Result, documented: dict) -> None:
    """The reply has a documented status; its body fits the schema and every required header is there."""
    assert_fits(document, documented, reply.status_code, reply.headers, reply.json)


def assert_fits(document: dict, documented: dict, status: int, headers, body) -> None:
    assert str(status) in documented, f"{status} is not documented: {body}"
    response = resolve(document, documented[str(status)])
    media_type = headers["Content-Type"].split(";")[0]
    assert media_type in response["content"], headers["Content-Type"]
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    errors = list(_schema_validator(response["content"][media_type]["schema"], registry).iter_errors(body))
    assert not errors, [f"{list(error.absolute_path)}: {error.message}" for error in errors]
    for name, header in response.get("headers", {}).items():
        header = resolve(document, header)
        if header.get("required"):
            assert name in headers, f"{name} is missing"
            assert not list(_schema_validator(header["schema"], registry).iter_errors(headers[name])), name


def _schema_validator(schema: dict, registry: Registry) -> Draft202012Validator:
    return Draft202012Validator(
        _anchored(schema), registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _anchored(node):
    """`node` with its `#/components/...` references made absolute, into the document in the registry."""
    if isinstance(node, dict):
        return {key: DOCUMENT_URI + value if key == "$ref" else _anchored(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_anchored(value) for value in node]
    return node


def operation(document: dict, method: str, template: str) -> dict:
    return document["paths"][template][method.lower()]


def assert_operation_documents(document: dict, reply: testing.Result, method: str, template: str) -> None:
    assert_documented(document, reply, operation(document, method, template)["responses"])


def error_codes(reply: testing.Result) -> list[str]:
    return [error["code"] for error in reply.json["errors"]]


# ---- the document ---------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(client, document):
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"].startswith("3.1.")
    assert_operation_documents(document, client.simulate_get(OPENAPI_PATH), "GET", OPENAPI_PATH)


def recorded_routes(monkeypatch, services: Services) -> dict[str, set[str]]:
    """Every route `create_app` adds, with the methods its resource answers (not Falcon's defaults)."""
    routes: dict[str, set[str]] = {}
    add_route = falcon.App.add_route

    def recording(app, template, resource, **kwargs):
        routes[template] = set(routing.map_http_methods(resource, suffix=kwargs.get("suffix")))
        return add_route(app, template, resource, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("a sink or static route would answer paths the document does not list")

    monkeypatch.setattr(falcon.App, "add_route", recording)
    monkeypatch.setattr(falcon.App, "add_sink", refuse)
    monkeypatch.setattr(falcon.App, "add_static_route", refuse)
    create_app(services)
    return routes


def test_every_route_is_documented_with_its_methods_and_nothing_else(monkeypatch, store, document):
    routes = recorded_routes(monkeypatch, bootstrap(SETTINGS, store=store))
    documented = {
        path: {method.upper() for method in item if not method.startswith("x-")}
        for path, item in document["paths"].items()
    }
    assert {re.sub(r":\w+}", "}", template): methods for template, methods in routes.items()} == documented
    assert len(documented) == 17


def test_only_api_routes_need_the_bearer_token(store, document):
    anonymous = testing.TestClient(create_app(bootstrap(SETTINGS, store=store)))
    for path, item in document["paths"].items():
        op = item["get"] if "get" in item else item["post"]
        needs_token = path.startswith("/api/") or path == METRICS_PATH
        assert (op["security"] == [{"bearer": []}]) is needs_token, path
        assert ("401" in op["responses"]) is needs_token, path
        method = "GET" if "get" in item else "POST"
        concrete = path.replace("{export_id}", "7").replace("{system_id}", "43")
        reply = anonymous.simulate_request(method, concrete, headers=JSON_HEADERS, body=b"{}")
        assert (reply.status_code == 401) is needs_token, path
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_limits_and_authentication_come_from_the_settings(store):
    settings = Settings("sqlite://", Path("var"), max_response_ids=3, api_auth=False)
    client = testing.TestClient(create_app(bootstrap(settings, store=store)))
    document = client.simulate_get(OPENAPI_PATH).json
    command_schema = document["components"]["schemas"]["ExportResponsesCommand"]
    assert command_schema["properties"]["data"]["properties"]["response_ids"]["maxItems"] == 3
    assert all(
        op["security"] == [] and "401" not in op["responses"]
        for item in document["paths"].values()
        for op in (item.get("get") or item["post"],)
    )
    too_many = client.simulate_post(
        EXPORT_RESPONSES_PATH,
        body=command("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", 43, [18, 19, 20, 21]),
        headers=JSON_HEADERS,
    )
    assert error_codes(too_many) == ["too_many_response_ids"]
    assert_operation_documents(document, too_many, "POST", EXPORT_RESPONSES_PATH)


def documented_statuses(document: dict) -> set[int]:
    """The statuses of every operation, and of the replies any path may give (unrouted, wrong method)."""
    of_operations = {
        int(status)
        for item in document["paths"].values()
        for method, op in item.items()
        if not method.startswith("x-")
        for status in op["responses"]
    }
    of_any_path = {
        CATALOGUE.reply_status(code) for code in documented_codes({"paths": {}, "components": document["components"]})
    }
    return of_operations | of_any_path


def test_every_status_the_service_maps_a_code_to_is_documented(document):
    assert {code.reply_status for code in CATALOGUE} <= documented_statuses(document)


def documented_codes(document: dict) -> set[str]:
    """Every code some documented error reply may carry."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if "errors" in node.get("properties", {}):
                found.update(
                    node["properties"]["errors"]["items"].get("properties", {}).get("code", {}).get("enum", [])
                )
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({"paths": document["paths"], "responses": document["components"]["responses"]})
    return found


def test_every_code_the_service_maps_is_one_some_reply_documents(document):
    assert documented_codes(document) == {code.code for code in CATALOGUE}


# ---- replies as documented ------------------------------------------------------------------


def post(client, content: bytes, headers=JSON_HEADERS) -> testing.Result:
    return client.simulate_post(EXPORT_RESPONSES_PATH, body=content, headers=headers)


@pytest.mark.parametrize(
    "content, status, codes",
    [
        (SCENARIO_ACCEPTED, 202, None),
        (SCENARIO_NO_SYSTEM, 400, ["external_system_not_found"]),
        (SCENARIO_NO_RESPONSES, 400, ["response_not_found", "response_not_found"]),
        (b'{"uuid": ', 400, ["invalid_json"]),
        (b"[]", 400, ["invalid_body"]),
        (
            command("NOPE", "43", [1, "2", 2**63]),
            400,
            ["invalid_uuid", "invalid_type", "invalid_type", "integer_out_of_range"],
        ),
        (command("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", 43, []), 400, ["empty_list"]),
        (json.dumps({"uuid": "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", "data": {}}).encode(), 400, ["missing_field"] * 3),
        (b" " * (SETTINGS.max_body_bytes + 1), 413, ["payload_too_large"]),
    ],
)
def test_command_replies_are_documented(client, document, content, status, codes):
    reply = post(client, content)
    assert reply.status_code == status, reply.text
    assert codes is None or error_codes(reply) == codes
    assert_operation_documents(document, reply, "POST", EXPORT_RESPONSES_PATH)


def test_a_replay_and_a_409_are_documented(client, document):
    first, replay = post(client, SCENARIO_ACCEPTED), post(client, SCENARIO_ACCEPTED)
    assert (replay.status_code, replay.content) == (202, first.content)
    assert_operation_documents(document, replay, "POST", EXPORT_RESPONSES_PATH)
    conflict = post(client, command("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", 43, [19]))
    assert (conflict.status_code, error_codes(conflict)) == (409, ["uuid_conflict"])
    assert_operation_documents(document, conflict, "POST", EXPORT_RESPONSES_PATH)


def test_a_415_is_documented(client, document):
    reply = post(client, SCENARIO_ACCEPTED, headers={"Content-Type": "text/plain"})
    assert (reply.status_code, error_codes(reply)) == (415, ["unsupported_media_type"])
    assert_operation_documents(document, reply, "POST", EXPORT_RESPONSES_PATH)


@pytest.mark.parametrize(
    "authorization, code, challenge",
    [
        (None, "missing_credentials", 'Bearer realm="export-responses"'),
        ("Bearer wrong", "invalid_credentials", 'Bearer realm="export-responses", error="invalid_token"'),
    ],
)
def test_a_401_is_documented_on_every_api_route(store, document, authorization, code, challenge):
    anonymous = testing.TestClient(create_app(bootstrap(SETTINGS, store=store)))
    headers = {**JSON_HEADERS, **({"Authorization": authorization} if authorization else {})}
    for method, path, template in [
        ("POST", EXPORT_RESPONSES_PATH, EXPORT_RESPONSES_PATH),
        ("GET", "/api/v2/exports/7", EXPORT_TEMPLATE),
        ("GET", EXPORTS_TEMPLATE, EXPORTS_TEMPLATE),
        ("GET", OPENAPI_PATH, OPENAPI_PATH),
    ]:
        reply = anonymous.simulate_request(method, path, headers=headers, body=SCENARIO_ACCEPTED)
        assert (reply.status_code, error_codes(reply), reply.headers["WWW-Authenticate"]) == (401, [code], challenge)
        assert_operation_documents(document, reply, method, template)


class RaisingReader(ExportReader):
    def __init__(self, error: Exception):
        self.error = error

    def get(self, export_id):
        raise self.error

    def find(self, filters, page, per_page):
        raise self.error

    def count_by_state(self, command_uuid=None):
        raise self.error


def services_raising(error: Exception) -> Services:
    def fail(command, received):
        raise error

    return attrs.evolve(
        bootstrap(SETTINGS, store=InMemoryStore()),
        handle_export_responses=fail,
        health=InMemoryHealth(healthy=False),
        export_reader=RaisingReader(error),
    )


@pytest.mark.parametrize(
    "error, status, code",
    [
        (StoreUnavailable("connection refused"), 503, "service_unavailable"),
        (ZeroDivisionError("bug"), 500, "internal_error"),
    ],
)
def test_a_503_and_a_500_of_the_command_are_documented(document, error, status, code):
    reply = post(authenticated_client(create_app(services_raising(error))), SCENARIO_ACCEPTED)
    assert (reply.status_code, error_codes(reply)) == (status, [code])
    assert_operation_documents(document, reply, "POST", EXPORT_RESPONSES_PATH)


def test_a_500_of_each_read_is_documented(document):
    client = authenticated_client(create_app(services_raising(ZeroDivisionError("bug"))))
    for path, template in [("/api/v2/exports/7", EXPORT_TEMPLATE), (EXPORTS_TEMPLATE, EXPORTS_TEMPLATE)]:
        reply = client.simulate_get(path)
        assert (reply.status_code, error_codes(reply)) == (500, ["internal_error"])
        assert_operation_documents(document, reply, "GET", template)


def test_an_export_and_a_page_of_exports_are_documented(client, document):
    one = client.simulate_get("/api/v2/exports/7")
    assert (one.status_code, len(one.json["events"])) == (200, 2)
    assert_operation_documents(document, one, "GET", EXPORT_TEMPLATE)
    page = client.simulate_get(EXPORTS_TEMPLATE, query_string="state=erroring&per_page=1")
    assert (page.status_code, page.json["meta"]) == (200, {"page": 1, "per_page": 1, "total": 1})
    assert_operation_documents(document, page, "GET", EXPORTS_TEMPLATE)


@pytest.mark.parametrize(
    "path, code", [("/api/v2/exports/99", "export_not_found"), ("/api/v2/exports/abc", "not_found")]
)
def test_a_404_of_the_export_route_is_documented(client, document, path, code):
    reply = client.simulate_get(path)
    assert (reply.status_code, error_codes(reply)) == (404, [code])
    assert_operation_documents(document, reply, "GET", EXPORT_TEMPLATE)


def test_a_bad_query_is_documented(client, document):
    reply = client.simulate_get(EXPORTS_TEMPLATE, query_string=f"page=0&command_uuid={quote('x y')}")
    assert (reply.status_code, error_codes(reply)) == (400, ["invalid_query_parameter"] * 2)
    assert_operation_documents(document, reply, "GET", EXPORTS_TEMPLATE)


def test_an_unrouted_path_and_a_method_a_path_does_not_take_are_documented(client, document):
    unrouted = client.simulate_get("/api/v2/nothing")
    assert (unrouted.status_code, error_codes(unrouted)) == (404, ["not_found"])
    assert_documented(document, unrouted, {"404": document["components"]["responses"]["NotFound"]})
    for path, template, method in [
        (EXPORT_RESPONSES_PATH, EXPORT_RESPONSES_PATH, "GET"),
        ("/api/v2/exports/7", EXPORT_TEMPLATE, "DELETE"),
        ("/health", "/health", "POST"),
    ]:
        wrong = client.simulate_request(method, path)
        assert (wrong.status_code, error_codes(wrong)) == (405, ["method_not_allowed"])
        assert_documented(document, wrong, {"405": document["paths"][template]["x-method-not-allowed"]})


def test_health_and_its_503_are_documented(client, document):
    healthy = client.simulate_get("/health", headers={"Authorization": ""})
    assert (healthy.status_code, healthy.json) == (200, {"status": "ok", "database": "ok"})
    assert_operation_documents(document, healthy, "GET", "/health")
    down = testing.TestClient(create_app(services_raising(StoreUnavailable("down")))).simulate_get("/health")
    assert (down.status_code, down.json["database"], down.headers["Retry-After"]) == (503, "unavailable", "5")
    assert_operation_documents(document, down, "GET", "/health")


def test_a_reply_the_schema_does_not_allow_fails_the_check(client, document):
    """The check itself can fail: a key too many, a code the route does not give, a missing header."""
    documented = operation(document, "POST", EXPORT_RESPONSES_PATH)["responses"]
    reply = post(client, SCENARIO_NO_SYSTEM)
    body = reply.json
    body["errors"][0]["extra"] = 1
    with pytest.raises(AssertionError, match="Additional properties"):
        assert_fits(document, documented, 400, reply.headers, body)
    body = reply.json
    body["errors"][0]["code"] = "invalid_query_parameter"
    with pytest.raises(AssertionError, match="is not one of"):
        assert_fits(document, documented, 400, reply.headers, body)
    headers = reply.headers.copy()
    del headers["X-Runtime"]
    with pytest.raises(AssertionError, match="X-Runtime is missing"):
        assert_fits(document, documented, 400, headers, reply.json)
    with pytest.raises(AssertionError, match="422 is not documented"):
        assert_fits(document, documented, 422, reply.headers, reply.json)
